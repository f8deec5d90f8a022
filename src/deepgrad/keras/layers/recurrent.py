"""Recurrent layers: SimpleRNN, LSTM, GRU and Bidirectional, with Keras's weights and defaults.

Weights are Keras's: ``kernel`` (features, gates*units), ``recurrent_kernel``
(units, gates*units) and ``bias``; LSTM gates in the order i, f, c, o (forget
bias initialized to 1), GRU gates z, r, h with ``reset_after=True`` (bias of
shape (2, 3*units)). With the default activations a layer runs deepgrad's fused
recurrence (``deepgrad.nn.functional.recurrent``: one Function per sequence);
other activations and ``recurrent_dropout`` use a step loop of tensor ops.
"""

from __future__ import annotations

from typing import Any

from deepgrad.backend import xp
from deepgrad.keras import activations as _activations
from deepgrad.keras import constraints as _constraints
from deepgrad.keras import initializers as _initializers
from deepgrad.keras import regularizers as _regularizers
from deepgrad.keras.layers.base import Layer
from deepgrad.ops.join import cat, stack
from deepgrad.tensor import Tensor


def _dropout_mask(shape: tuple, rate: float, dtype: Any) -> Tensor:
    from deepgrad.random import rng

    keep = (rng().random(shape) >= rate).astype(dtype) / (1.0 - rate)
    return Tensor(xp.asarray(keep))


class _RNN(Layer):
    _gates = 1
    _mode = "RNN_TANH"

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if stateful:
            raise NotImplementedError(f"{type(self).__name__}: stateful=True is not supported")
        self.units = int(units)
        self.activation = _activations.get(activation)
        self.recurrent_activation = _activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.recurrent_initializer = _initializers.get(recurrent_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = _regularizers.get(recurrent_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.recurrent_constraint = _constraints.get(recurrent_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful, self.unroll, self.seed = go_backwards, stateful, unroll, seed

    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def _bias_initial(self, shape: tuple, dtype: Any) -> Any:
        return self.bias_initializer(shape, dtype)

    def build(self, input_shape: Any) -> None:
        self._check_input_rank(input_shape, 3, "a 3-d input (batch, timesteps, features)")
        g = self._gates * self.units
        self.kernel = self.add_weight((input_shape[-1], g), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, g), self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint,
                                                name="recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(self._bias_shape(), self._bias_initial,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")

    # --- running ------------------------------------------------------------------------
    def _n_states(self) -> int:
        return 1

    def _fused_ok(self) -> bool:
        return self.recurrent_dropout == 0 and self.activation is _activations.tanh and \
            self.recurrent_activation is _activations.sigmoid

    def _torch_weights(self) -> tuple:
        """(w_ih, w_hh, b_ih, b_hh) in deepgrad's fused-recurrence layout."""
        return self.kernel.t(), self.recurrent_kernel.t(), self.bias, None

    def call(self, inputs: Tensor, initial_state: Any = None, training: bool | None = None,
             mask: Any = None) -> Any:
        if mask is not None:
            raise NotImplementedError(f"{type(self).__name__}: masks are not supported")
        batch, steps, features = inputs.shape
        x = inputs
        if training and self.dropout > 0:
            x = x * _dropout_mask((batch, 1, features), self.dropout, x.array.dtype)
        if initial_state is None:
            zeros = Tensor(xp.zeros((batch, self.units), dtype=self.kernel.array.dtype))
            states = [zeros] * self._n_states()
        else:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if self._fused_ok() and steps > 0:
            y, final = self._run_fused(x, states)
        else:
            y, final = self._run_loop(x, states, bool(training))
        if self.go_backwards and y is not None:
            y = y.flip(1)
        output = y if self.return_sequences else final[0]
        return [output, *final] if self.return_state else output

    def _run_fused(self, x: Tensor, states: list) -> tuple:
        from deepgrad.nn.functional.recurrent import Plan, fused_recurrence

        batch, steps, features = x.shape
        packed = x.transpose(0, 1).reshape(steps * batch, features)
        w_ih, w_hh, b_ih, b_hh = self._torch_weights()
        c0 = states[1] if self._mode == "LSTM" else None
        out = fused_recurrence(self._mode, packed, states[0], c0, w_ih, w_hh, b_ih, b_hh, None,
                               Plan([batch] * steps, reverse=self.go_backwards))
        y = out[0].reshape(steps, batch, self.units).transpose(0, 1) if self.return_sequences else None
        return y, list(out[1:])

    def _run_loop(self, x: Tensor, states: list, training: bool) -> tuple:
        batch, steps, _ = x.shape
        gx = x.matmul(self.kernel)
        if self.bias is not None and self.bias.ndim == 1:
            gx = gx + self.bias
        rec_mask = None
        if training and self.recurrent_dropout > 0:
            rec_mask = _dropout_mask((batch, self.units), self.recurrent_dropout, x.array.dtype)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs = []
        for t in order:
            h = states[0] if rec_mask is None else states[0] * rec_mask
            states = self._step(gx[:, t], h, states)
            outputs.append(states[0])
        if self.go_backwards:
            outputs.reverse()
        y = stack(outputs, 1) if outputs else None
        return y, states

    def _step(self, gx: Tensor, h: Tensor, states: list) -> list:
        return [self.activation(gx + h.matmul(self.recurrent_kernel))]

    def compute_output_shape(self, input_shape: Any) -> Any:
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * self._n_states()
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": _activations.serialize(self.activation),
                "recurrent_activation": _activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": _initializers.serialize(self.recurrent_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": _regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": _regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": _constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": _constraints.serialize(self.recurrent_constraint),
                "bias_constraint": _constraints.serialize(self.bias_constraint),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "seed": self.seed}


class SimpleRNN(_RNN):
    """A fully connected recurrence: h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias).

    Args as Keras: units, activation='tanh', use_bias, initializers (recurrent: 'orthogonal'),
    dropout, recurrent_dropout, return_sequences, return_state, go_backwards.

    Shape:
        (batch, timesteps, features) -> (batch, units), or (batch, timesteps, units) with
        return_sequences; kernel (features, units), recurrent_kernel (units, units), bias (units,).
    """

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any) -> None:
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)

    def _fused_ok(self) -> bool:
        return self.recurrent_dropout == 0 and self.activation in (_activations.tanh, _activations.relu)

    @property
    def _mode(self) -> str:  # type: ignore[override]
        return "RNN_RELU" if self.activation is _activations.relu else "RNN_TANH"

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("recurrent_activation")
        return config


class LSTM(_RNN):
    """Long short-term memory (Hochreiter & Schmidhuber), Keras's gates i, f, c, o.

    Args as Keras: units, activation='tanh', recurrent_activation='sigmoid', use_bias,
    unit_forget_bias=True, initializers, dropout, recurrent_dropout, return_sequences,
    return_state (then returns [output, h, c]), go_backwards.

    Shape:
        (batch, timesteps, features) -> (batch, units) or (batch, timesteps, units);
        kernel (features, 4*units), recurrent_kernel (units, 4*units), bias (4*units,).
    """

    _gates = 4
    _mode = "LSTM"

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias

    def _n_states(self) -> int:
        return 2

    def _bias_initial(self, shape: tuple, dtype: Any) -> Any:
        bias = self.bias_initializer(shape, dtype)
        if self.unit_forget_bias:
            bias = xp.asarray(bias)
            bias[self.units:2 * self.units] = 1
        return bias

    def _step(self, gx: Tensor, h: Tensor, states: list) -> list:
        z = gx + h.matmul(self.recurrent_kernel)
        i, f, g, o = z.chunk(4, 1)
        act, rec = self.activation, self.recurrent_activation
        c = rec(f) * states[1] + rec(i) * act(g)
        return [rec(o) * act(c), c]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(_RNN):
    """Gated recurrent unit (Cho et al.), Keras 3's default ``reset_after=True`` (gates z, r, h).

    Shape:
        (batch, timesteps, features) -> (batch, units) or (batch, timesteps, units);
        kernel (features, 3*units), recurrent_kernel (units, 3*units), bias (2, 3*units).
    """

    _gates = 3
    _mode = "GRU"

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        if not reset_after:
            raise NotImplementedError("GRU: only reset_after=True (Keras 3's default) is supported")
        self.reset_after = reset_after

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units)

    def _reorder(self, w: Tensor) -> Tensor:
        u = self.units
        return cat([w[..., u:2 * u], w[..., :u], w[..., 2 * u:]], -1)  # z, r, h -> r, z, n

    def _torch_weights(self) -> tuple:
        b_ih = b_hh = None
        if self.bias is not None:
            b = self._reorder(self.bias)
            b_ih, b_hh = b[0], b[1]
        return self._reorder(self.kernel).t(), self._reorder(self.recurrent_kernel).t(), b_ih, b_hh

    def _step(self, gx: Tensor, h: Tensor, states: list) -> list:
        u = self.units
        if self.bias is not None:
            gx = gx + self.bias[0]
        gh = h.matmul(self.recurrent_kernel)
        if self.bias is not None:
            gh = gh + self.bias[1]
        rec = self.recurrent_activation
        z = rec(gx[:, :u] + gh[:, :u])
        r = rec(gx[:, u:2 * u] + gh[:, u:2 * u])
        hh = self.activation(gx[:, 2 * u:] + r * gh[:, 2 * u:])
        return [z * states[0] + (1.0 - z) * hh]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}


class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy backwards, and merge their outputs.

    Args as Keras: layer (SimpleRNN/LSTM/GRU), merge_mode 'concat' | 'sum' | 'mul' | 'ave' | None,
    backward_layer (default: a copy of ``layer`` with go_backwards flipped).

    Shape:
        (batch, timesteps, features) -> the layer's output with 2*units features ('concat').
    """

    def __init__(self, layer: Layer, merge_mode: str | None = "concat", weights: Any = None,
                 backward_layer: Layer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional: expects a recurrent layer (SimpleRNN, LSTM, GRU), got "
                             f"{type(layer).__name__}")
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(f"Bidirectional: invalid merge_mode {merge_mode!r}; use 'concat', "
                             "'sum', 'mul', 'ave' or None")
        config = layer.get_config()
        config["name"] = "forward_" + layer.name
        self.forward_layer = type(layer).from_config(config)
        if backward_layer is None:
            config = layer.get_config()
            config["name"] = "backward_" + layer.name
            config["go_backwards"] = not layer.go_backwards
            backward_layer = type(layer).from_config(config)
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    def build(self, input_shape: Any) -> None:
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer._build_shape = tuple(input_shape)
                layer.build(tuple(input_shape))
                layer.built = True

    def call(self, inputs: Tensor, initial_state: Any = None, training: bool | None = None) -> Any:
        fw_state = bw_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fw_state, bw_state = initial_state[:half], initial_state[half:]
        fw = self.forward_layer(inputs, initial_state=fw_state, training=training)
        bw = self.backward_layer(inputs, initial_state=bw_state, training=training)
        states: list = []
        if self.return_state:
            states = list(fw[1:]) + list(bw[1:])
            fw, bw = fw[0], bw[0]
        if self.return_sequences:
            bw = bw.flip(1)
        if self.merge_mode == "concat":
            out: Any = cat([fw, bw], -1)
        elif self.merge_mode == "sum":
            out = fw + bw
        elif self.merge_mode == "mul":
            out = fw * bw
        elif self.merge_mode == "ave":
            out = (fw + bw) * 0.5
        else:
            out = [fw, bw]
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + states
        return out

    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = self.forward_layer.compute_output_shape(input_shape)
        out = shape[0] if self.return_state else shape
        if self.merge_mode == "concat":
            merged: Any = (*out[:-1], out[-1] * 2)
        elif self.merge_mode is None:
            merged = [out, out]
        else:
            merged = out
        if self.return_state:
            states = list(shape[1:]) * 2
            return ([merged] if self.merge_mode is not None else merged) + states
        return merged

    def get_config(self) -> dict[str, Any]:
        from deepgrad.keras.saving import serialize_layer

        layer = self.forward_layer.get_config()
        layer["name"] = self.forward_layer.name[len("forward_"):]
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": {"class_name": type(self.forward_layer).__name__, "config": layer},
                "backward_layer": serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        from deepgrad.keras.saving import deserialize_layer

        config = dict(config)
        layer = deserialize_layer(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = deserialize_layer(backward)
        return cls(layer, backward_layer=backward, **config)


__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional"]

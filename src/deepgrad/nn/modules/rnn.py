"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` with PyTorch's arguments, names and numbers.

Parameters are named and laid out as PyTorch's (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``weight_hr_l0`` for a projected
LSTM, ``*_reverse`` for the backward direction; gates stacked in PyTorch's order
LSTM (i, f, g, o), GRU (r, z, n)), so a PyTorch ``state_dict`` loads 1:1. All
weights start as U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

Each layer and direction is one fused op (``deepgrad.nn.functional.recurrent``):
the input projection of all time steps is one matrix product, each step one
matrix product for all gates, and backward through time a loop on arrays.
Inputs may be padded tensors or ``PackedSequence`` s (``deepgrad.nn.utils.rnn``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from deepgrad import dtypes
from deepgrad.backend import xp
from deepgrad.nn import init
from deepgrad.nn.functional.dropout import dropout as _dropout
from deepgrad.nn.functional.recurrent import GATES, Plan, fused_recurrence
from deepgrad.nn.modules.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.nn.utils.rnn import PackedSequence
from deepgrad.ops.join import cat, stack
from deepgrad.tensor import Tensor


def _positive_int(layer: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {name} should be of type int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{layer}: {name} must be greater than zero, got {value}")
    return int(value)


def _new_parameter(shape: tuple, dtype: Any) -> Parameter:
    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return Parameter(Tensor(xp.empty(shape, dtype=d.np)))


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    return Tensor(xp.zeros(shape, dtype=like.array.dtype))


def check_float_input(module: Module, input: Any, weight: Tensor, what: str = "input") -> None:
    """A tensor in the layer's dtype, or an error naming the layer."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{module._describe()} expected a Tensor {what}, got {type(input).__name__}; wrap "
            "arrays with deepgrad.tensor(...)"
        )
    if input.array.dtype != weight.array.dtype:
        raise RuntimeError(
            f"{module._describe()} got {what} of dtype {input.dtype} but its weights are "
            f"{weight.dtype}: convert the {what} (x.to({weight.dtype})) or the model "
            f"(model.to({input.dtype}))"
        )


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU (``torch.nn.RNNBase``)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if mode not in GATES:
            raise ValueError(f"RNNBase: unrecognized RNN mode {mode!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) \
                or not 0 <= dropout <= 1:
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}", stacklevel=3,
            )
        if isinstance(input_size, bool) or not isinstance(input_size, numbers.Integral) \
                or input_size < 0:
            raise TypeError(f"{name}: input_size should be a non-negative int, got {input_size!r}")
        hidden_size = _positive_int(name, "hidden_size", hidden_size)
        num_layers = _positive_int(name, "num_layers", num_layers)
        if proj_size < 0:
            raise ValueError(
                f"{name}: proj_size should be a positive integer or zero to disable projections, "
                f"got {proj_size}"
            )
        if proj_size and mode != "LSTM":
            raise ValueError(
                f"{name}: proj_size argument is only supported for LSTM, not RNN or GRU"
            )
        if proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size ({proj_size}) has to be smaller than hidden_size "
                f"({hidden_size})"
            )
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = int(proj_size)
        gate_size = GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for base, shape in shapes:
                    pname = f"{base}_l{layer}{suffix}"
                    setattr(self, pname, _new_parameter(shape, dtype))
                    names.append(pname)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """Kept for PyTorch compatibility (cuDNN's weight layout); nothing to do here."""

    @property
    def _flat_weights(self) -> list[Parameter]:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _layer_weights(self, index: int) -> tuple:
        names = self._all_weights[index]
        params = [self._parameters[n] for n in names]
        w_ih, w_hh = params[0], params[1]
        b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
        w_hr = params[-1] if self.proj_size > 0 else None
        return w_ih, w_hh, b_ih, b_hh, w_hr

    # --- forward ---------------------------------------------------------------------
    def _config(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}" + (
            f", proj_size={self.proj_size}" if self.proj_size else "") + (
            f", num_layers={self.num_layers}" if self.num_layers != 1 else "") + (
            ", bidirectional=True" if self.bidirectional else "") + (
            ", batch_first=True" if self.batch_first else "")

    def _prepare_input(self, input: Any) -> tuple:
        """(rows (N, I), batch_sizes, layout) for a padded tensor or a PackedSequence."""
        weight = self._parameters["weight_ih_l0"]
        if isinstance(input, PackedSequence):
            data = input.data
            check_float_input(self, data, weight, "packed data")
            if data.ndim != 2 or data.shape[1] != self.input_size:
                raise self._input_error(
                    data.shape, f"the packed data must be (sum of lengths, input_size="
                    f"{self.input_size})", "pack a (T, B, input_size) batch", self._config())
            batch_sizes = tuple(int(b) for b in input.batch_sizes.array.tolist())
            return data, batch_sizes, ("packed", input)
        check_float_input(self, input, weight)
        if input.ndim not in (2, 3):
            layout = "(B, T, input_size)" if self.batch_first else "(T, B, input_size)"
            raise self._input_error(
                input.shape, f"expected a 3-d batch {layout} or a 2-d unbatched sequence "
                f"(T, input_size), got {input.ndim}-d", None, self._config())
        if input.shape[-1] != self.input_size:
            raise self._input_error(
                input.shape, f"the feature dimension (last) is {input.shape[-1]}, expected "
                f"input_size={self.input_size}", "check the layer before it, or the input_size "
                "argument", self._config())
        unbatched = input.ndim == 2
        if unbatched:
            x = input.unsqueeze(1)
        elif self.batch_first:
            x = input.transpose(0, 1)
        else:
            x = input
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0 or batch == 0:
            raise self._input_error(input.shape, "the sequence length and the batch size must "
                                    "be at least 1", None, self._config())
        return x.reshape(steps * batch, self.input_size), (batch,) * steps, \
            ("unbatched" if unbatched else "padded", (steps, batch))

    def _check_state(self, name: str, state: Any, expected: tuple, unbatched: bool) -> Tensor:
        weight = self._parameters["weight_ih_l0"]
        check_float_input(self, state, weight, f"initial state {name}")
        if unbatched:
            if state.ndim != 2:
                raise RuntimeError(
                    f"{self._describe()} ({self._config()}): for an unbatched (2-d) input the "
                    f"initial state {name} must be 2-d {(expected[0], expected[2])}, got shape "
                    f"{tuple(state.shape)}"
                )
            state = state.unsqueeze(1)
        if tuple(state.shape) != expected:
            size = "proj_size" if name == "h_0" and self.proj_size else "hidden_size"
            raise RuntimeError(
                f"{self._describe()} ({self._config()}): expected initial state {name} of shape "
                f"(num_layers * num_directions, batch, {size}) = {expected}, got "
                f"{tuple(state.shape)}"
            )
        return state

    def _run(self, input: Any, hx: Any) -> tuple:
        """Run every layer; returns (output, h_n, c_n or None)."""
        data, batch_sizes, (kind, info) = self._prepare_input(input)
        directions = 2 if self.bidirectional else 1
        batch = batch_sizes[0]
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        states = self.num_layers * directions
        h0_shape = (states, batch, real_hidden)
        c0_shape = (states, batch, self.hidden_size)
        unbatched = kind == "unbatched"
        lstm = self.mode == "LSTM"
        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise RuntimeError(
                        f"{self._describe()}: hx must be a tuple (h_0, c_0) for an LSTM, got "
                        f"{type(hx).__name__}"
                    )
                h0 = self._check_state("h_0", hx[0], h0_shape, unbatched)
                c0 = self._check_state("c_0", hx[1], c0_shape, unbatched)
            else:
                if isinstance(hx, (tuple, list)):
                    raise RuntimeError(
                        f"{self._describe()}: hx must be a single tensor h_0 for "
                        f"{type(self).__name__}, got a tuple (only the LSTM takes (h_0, c_0))"
                    )
                h0 = self._check_state("h_0", hx, h0_shape, unbatched)
            if kind == "packed" and info.sorted_indices is not None:
                h0 = h0.index_select(1, info.sorted_indices)
                c0 = c0.index_select(1, info.sorted_indices) if c0 is not None else None
        weight = self._parameters["weight_ih_l0"]
        plans = [Plan(batch_sizes, reverse=d == 1) for d in range(directions)]
        x = data
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = layer * directions + d
                h_init = h0[k] if h0 is not None else _zeros((batch, real_hidden), weight)
                c_init = None
                if lstm:
                    c_init = c0[k] if c0 is not None else _zeros((batch, self.hidden_size), weight)
                result = fused_recurrence(self.mode, x, h_init, c_init, *self._layer_weights(k),
                                          plans[d])
                outs.append(result[0])
                h_n.append(result[1])
                if lstm:
                    c_n.append(result[2])
            x = outs[0] if directions == 1 else cat(outs, 1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, True)
        h_n = stack(h_n, 0)
        c_n = stack(c_n, 0) if lstm else None
        if kind == "packed":
            output = PackedSequence(x, info.batch_sizes, info.sorted_indices, info.unsorted_indices)
            if info.unsorted_indices is not None:
                h_n = h_n.index_select(1, info.unsorted_indices)
                c_n = c_n.index_select(1, info.unsorted_indices) if lstm else None
            return output, h_n, c_n
        steps, batch = info
        output = x.reshape(steps, batch, x.shape[1])
        if unbatched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n, c_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; forward(input, h_0=None)
    returns (output, h_n).

    Shape:
        input (T, B, input_size), (B, T, input_size) with batch_first, (T, input_size)
        unbatched, or a PackedSequence; h_0 (num_layers * D, B, hidden_size) ->
        output (T, B, D * hidden_size) (same layout as the input), h_n like h_0;
        D = 2 if bidirectional else 1.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None, proj_size: int = 0) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}'; use 'tanh' or 'relu'")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple:
        output, h_n, _ = self._run(input, hx)
        return output, h_n


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's equations and gate order (i, f, g, o).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0)``; forward(input, (h_0, c_0)=None)
    returns (output, (h_n, c_n)). With ``proj_size > 0`` the hidden state is
    projected: ``h_t = W_hr (o_t * tanh(c_t))``.

    Shape:
        input (T, B, input_size) / (B, T, input_size) with batch_first /
        (T, input_size) unbatched / PackedSequence; h_0 (num_layers * D, B, P),
        c_0 (num_layers * D, B, hidden_size) -> output (T, B, D * P), h_n, c_n like
        h_0, c_0; P = proj_size or hidden_size, D = 2 if bidirectional else 1.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)

    def forward(self, input: Any, hx: tuple | None = None) -> tuple:
        output, h_n, c_n = self._run(input, hx)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's equations and gate order (r, z, n).

    ``n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))``,
    ``h_t = (1 - z_t) * n_t + z_t * h_{t-1}``. forward(input, h_0=None) returns
    (output, h_n).

    Shape:
        as RNN.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, proj_size: int = 0) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple:
        output, h_n, _ = self._run(input, hx)
        return output, h_n


__all__ = ["RNNBase", "RNN", "LSTM", "GRU"]

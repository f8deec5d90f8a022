"""Core Keras layers: Dense, Activation, Flatten, Reshape, Permute, RepeatVector, Dropout,
Embedding, Lambda and the merge layers (Add, Concatenate ...)."""

from __future__ import annotations

import math
from typing import Any, Callable

import deepgrad.nn.functional as F
from deepgrad.backend import xp
from deepgrad.keras import activations as _activations
from deepgrad.keras import constraints as _constraints
from deepgrad.keras import initializers as _initializers
from deepgrad.keras import regularizers as _regularizers
from deepgrad.keras.layers._ops import dense
from deepgrad.keras.layers.base import Layer, is_shape
from deepgrad.ops.join import cat, stack
from deepgrad.tensor import Tensor


class Dense(Layer):
    """``activation(inputs @ kernel + bias)`` on the last axis.

    Args:
        units: the output size. activation: a name or callable (None: linear).
        use_bias, kernel_initializer ('glorot_uniform'), bias_initializer ('zeros'),
        kernel/bias/activity regularizers and kernel/bias constraints, as Keras.

    Shape:
        (batch, ..., input_dim) -> (batch, ..., units); kernel (input_dim, units), bias (units,).
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if int(units) <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = _activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)

    def build(self, input_shape: Any) -> None:
        if not input_shape or input_shape[-1] is None:
            raise ValueError(f"Dense {self.name!r}: the last dimension of the input must be known, "
                             f"got input shape {input_shape}")
        self._add_kernel_and_bias((input_shape[-1], self.units), (self.units,))

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense {self.name!r}: expected inputs with last dimension "
                             f"{self.kernel.shape[0]}, got shape {tuple(inputs.shape)}")
        if inputs.array.dtype != self.kernel.array.dtype:
            inputs = Tensor(inputs.array.astype(self.kernel.array.dtype)) if not inputs.requires_grad \
                else inputs.to(self.kernel.dtype)
        return self.activation(dense(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": _activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": _regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": _constraints.serialize(self.kernel_constraint),
                "bias_constraint": _constraints.serialize(self.bias_constraint)}


class Activation(Layer):
    """An activation function as a layer: ``Activation('relu')``. Shape: unchanged."""

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = _activations.get(activation)

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": _activations.serialize(self.activation)}


class ReLU(Layer):
    """``min(max(x, threshold... ), max_value)`` with a leak below 0: Keras's ReLU layer."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs: Tensor) -> Tensor:
        if self.threshold == 0.0 and self.negative_slope == 0.0:
            y = F.relu(inputs)
        elif self.threshold == 0.0:
            y = F.leaky_relu(inputs, self.negative_slope)
        else:
            y = (inputs >= self.threshold).to(inputs.dtype) * inputs + \
                (inputs < self.threshold).to(inputs.dtype) * (inputs - self.threshold) * self.negative_slope
        return y if self.max_value is None else y.clamp(max=self.max_value)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """``x if x > 0 else negative_slope * x`` (Keras 3 default slope 0.3)."""

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = negative_slope

    def call(self, inputs: Tensor) -> Tensor:
        return F.leaky_relu(inputs, self.negative_slope)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(Layer):
    """Softmax over ``axis`` (default the last)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: Tensor) -> Tensor:
        return inputs.softmax(self.axis)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Flatten(Layer):
    """Flatten all but the batch dimension (channels_last order, as Keras).

    Shape:
        (batch, d1, d2, ...) -> (batch, d1 * d2 * ...)
    """

    _keeps_dtype = True

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = data_format

    def call(self, inputs: Tensor) -> Tensor:
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        rest = input_shape[1:]
        return (input_shape[0], None if any(s is None for s in rest) else math.prod(rest))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshape all but the batch dimension to ``target_shape`` (one entry may be -1).

    Shape:
        (batch, ...) -> (batch, *target_shape)
    """

    _keeps_dtype = True

    def __init__(self, target_shape: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)

    def _resolve(self, input_shape: Any) -> tuple:
        shape = list(self.target_shape)
        if -1 in shape:
            known = math.prod(s for s in shape if s != -1)
            rest = input_shape[1:]
            shape[shape.index(-1)] = None if any(s is None for s in rest) else math.prod(rest) // known
        return tuple(shape)

    def call(self, inputs: Tensor) -> Tensor:
        size = math.prod(inputs.shape[1:])
        target = self._resolve(tuple(inputs.shape))
        if math.prod(target) != size:
            raise ValueError(f"Reshape {self.name!r}: can't reshape input of shape "
                             f"{tuple(inputs.shape)} ({size} values per sample) to target_shape "
                             f"{self.target_shape}")
        return inputs.reshape(inputs.shape[0], *target)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], *self._resolve(input_shape))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permute the non-batch dimensions: ``dims`` are 1-based, as in Keras (e.g. (2, 1))."""

    _keeps_dtype = True

    def __init__(self, dims: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {dims}")

    def call(self, inputs: Tensor) -> Tensor:
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeat a (batch, features) input ``n`` times: (batch, n, features)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = int(n)

    def call(self, inputs: Tensor) -> Tensor:
        return inputs.unsqueeze(1).expand(inputs.shape[0], self.n, inputs.shape[1])

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class Dropout(Layer):
    """Zero inputs with probability ``rate`` during training, scaling the rest by 1/(1-rate).

    ``noise_shape`` (optional) broadcasts one draw along the dimensions where it is 1.
    Draws come from deepgrad's global generator (or a fresh one for ``seed``).
    Shape: unchanged.
    """

    _keeps_dtype = True

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout: rate must be in [0, 1], got {rate}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator = None
        if seed is not None:
            from deepgrad.random import Generator

            self._generator = Generator(seed)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None:
            return F.dropout(inputs, self.rate, True, generator=self._generator)
        from deepgrad.random import rng

        shape = tuple(n if s is None else s for s, n in zip(self.noise_shape, inputs.shape))
        gen = self._generator.np if self._generator is not None else rng()
        keep = (gen.random(shape) >= self.rate).astype(inputs.array.dtype) / (1.0 - self.rate)
        return inputs * Tensor(xp.asarray(keep))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed}


class Embedding(Layer):
    """Rows of an (input_dim, output_dim) table picked by integer inputs.

    ``embeddings_initializer`` defaults to Keras's ``'uniform'`` (U(-0.05, 0.05)).

    Shape:
        (batch, ...) integers in [0, input_dim) -> (batch, ..., output_dim)
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, activity_regularizer: Any = None,
                 embeddings_constraint: Any = None, mask_zero: bool = False,
                 input_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if mask_zero:
            raise NotImplementedError("Embedding: mask_zero=True (masking) is not supported by "
                                      "deepgrad.keras; pad with a token the model can learn to ignore")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        init = "random_uniform" if embeddings_initializer == "uniform" else embeddings_initializer
        self.embeddings_initializer = _initializers.get(init)
        self.embeddings_regularizer = _regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = _constraints.get(embeddings_constraint)
        self.mask_zero = mask_zero

    def build(self, input_shape: Any) -> None:
        self.embeddings = self.add_weight((self.input_dim, self.output_dim),
                                          self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint, name="embeddings")

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.array.dtype.kind != "i":
            inputs = Tensor(inputs.array.astype(xp.int64))
        return F.embedding(inputs, self.embeddings)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape, self.output_dim)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": _initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": _regularizers.serialize(self.embeddings_regularizer),
                "embeddings_constraint": _constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero}


class Lambda(Layer):
    """Wrap a function of tensors as a layer (not serializable to a config file)."""

    def __init__(self, function: Callable[..., Any], output_shape: Any = None,
                 arguments: dict | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.function, self._output_shape, self.arguments = function, output_shape, arguments or {}

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._output_shape is None:
            raise NotImplementedError
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        return (input_shape[0], *self._output_shape)

    def get_config(self) -> dict[str, Any]:
        raise ValueError(f"Lambda layer {self.name!r} wraps a Python function and can't be saved "
                         "as a config; write a Layer subclass with get_config instead")


# --- merging ------------------------------------------------------------------------------
def _broadcast_shape(shapes: list) -> tuple:
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        known = [d for d in dims if d is not None and d != 1]
        out.append(None if any(d is None for d in dims) and not known else (known[0] if known else 1))
    return tuple(out)


class _Merge(Layer):
    """Layers combining a list of same-shaped tensors elementwise."""

    _min_inputs = 2

    def _check(self, inputs: Any) -> list:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < self._min_inputs:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expects a list of at least "
                             f"{self._min_inputs} inputs, got {type(inputs).__name__}")
        return list(inputs)

    def build(self, input_shape: Any) -> None:
        if is_shape(input_shape) or len(input_shape) < self._min_inputs:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expects a list of at least "
                             f"{self._min_inputs} inputs, got one input of shape {tuple(input_shape)}")

    def compute_output_shape(self, input_shape: Any) -> Any:
        return _broadcast_shape(list(input_shape))

    def _combine(self, tensors: list) -> Tensor:
        raise NotImplementedError

    def call(self, inputs: Any) -> Tensor:
        return self._combine(self._check(inputs))


class Add(_Merge):
    """Elementwise sum of a list of tensors: ``Add()([a, b])``."""

    def _combine(self, tensors: list) -> Tensor:
        out = tensors[0]
        for t in tensors[1:]:
            out = out + t
        return out


class Subtract(_Merge):
    """``a - b`` for ``Subtract()([a, b])``."""

    def _combine(self, tensors: list) -> Tensor:
        if len(tensors) != 2:
            raise ValueError(f"Subtract {self.name!r}: expects exactly 2 inputs, got {len(tensors)}")
        return tensors[0] - tensors[1]


class Multiply(_Merge):
    """Elementwise product of a list of tensors."""

    def _combine(self, tensors: list) -> Tensor:
        out = tensors[0]
        for t in tensors[1:]:
            out = out * t
        return out


class Average(Add):
    """Elementwise mean of a list of tensors."""

    def _combine(self, tensors: list) -> Tensor:
        return super()._combine(tensors) * (1.0 / len(tensors))


class Maximum(_Merge):
    def _combine(self, tensors: list) -> Tensor:
        return stack(tensors, 0).amax(0)


class Minimum(_Merge):
    def _combine(self, tensors: list) -> Tensor:
        return stack(tensors, 0).amin(0)


class Concatenate(_Merge):
    """Join a list of tensors along ``axis`` (default the last): ``Concatenate()([a, b])``."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def _combine(self, tensors: list) -> Tensor:
        return cat(tensors, self.axis)

    def compute_output_shape(self, input_shape: Any) -> Any:
        shapes = [list(s) for s in input_shape]
        axis = self.axis % len(shapes[0])
        out = shapes[0][:]
        sizes = [s[axis] for s in shapes]
        out[axis] = None if any(s is None for s in sizes) else sum(sizes)
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


def add(inputs: list, **kwargs: Any) -> Any:
    """Functional form of ``Add``."""
    return Add(**kwargs)(inputs)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    """Functional form of ``Concatenate``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


__all__ = ["Dense", "Activation", "ReLU", "LeakyReLU", "Softmax", "Flatten", "Reshape", "Permute",
           "RepeatVector", "Dropout", "Embedding", "Lambda", "Add", "Subtract", "Multiply",
           "Average", "Maximum", "Minimum", "Concatenate", "add", "concatenate"]

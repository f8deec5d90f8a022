"""Dense layers: Identity, Linear, Bilinear (PyTorch's layouts and initialization)."""

from __future__ import annotations

import math
from typing import Any

from deepgrad import dtypes
from deepgrad.backend import xp
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.modules.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.tensor import Tensor


def check_size(layer: str, name: str, value: Any, minimum: int = 0) -> int:
    """A constructor size argument as an int, or a clear error (e.g. a negative size)."""
    if isinstance(value, bool) or not isinstance(value, (int, xp.integer)):
        raise TypeError(f"{layer}: {name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{layer}: {name} must be at least {minimum}, got {value}")
    return int(value)


def new_parameter(*shape: int, dtype: Any = None) -> Parameter:
    """An uninitialized parameter of ``shape`` in ``dtype`` (the default float dtype)."""
    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return Parameter(Tensor(xp.empty(shape, dtype=d.np)))


def check_input_tensor(module: Module, input: Any, weight: Tensor) -> None:
    """A tensor in the layer's dtype, or an error naming the layer and the conversion to make."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{module._describe()} expected a Tensor input, got {type(input).__name__}; wrap "
            "arrays with deepgrad.tensor(...)"
        )
    if input.array.dtype != weight.array.dtype:
        raise RuntimeError(
            f"{module._describe()} got input of dtype {input.dtype} but its weights are "
            f"{weight.dtype}: convert the input (x.to({weight.dtype})) or the model "
            f"(model.to({input.dtype}))"
        )


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments.

    Shape:
        any -> same
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """``y = x @ weight.T + bias`` (``torch.nn.Linear``).

    weight (out_features, in_features) ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_
    with a=sqrt(5)), bias (out_features,) ~ U(-1/sqrt(in), 1/sqrt(in)).

    Shape:
        (*, in_features) -> (*, out_features)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = check_size("Linear", "in_features", in_features)
        self.out_features = check_size("Linear", "out_features", out_features)
        self.weight = new_parameter(self.out_features, self.in_features, dtype=dtype)
        if bias:
            self.bias = new_parameter(self.out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        check_input_tensor(self, input, self.weight)
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise self._linear_shape_error(input.shape)
        return F.linear(input, self.weight, self.bias)

    def _linear_shape_error(self, shape: tuple) -> RuntimeError:
        config = f"in_features={self.in_features}"
        if not shape:
            return self._input_error(shape, "a 0-d tensor has no feature dimension",
                                     "pass a batch of shape (N, in_features)", config)
        last = shape[-1]
        problem = f"its last dimension is {last}, expected {self.in_features}"
        trailing = math.prod(shape[1:]) if len(shape) > 2 else None
        if trailing == self.in_features:
            fix = "add nn.Flatten() before it?"
        elif len(shape) > 2:
            fix = (f"flatten it first (nn.Flatten() gives {trailing} features per sample), and "
                   f"make in_features={trailing}?")
        else:
            fix = (f"the layer before it gives {last} features: make in_features={last}, or check "
                   "the previous layer's output size?")
        return self._input_error(shape, problem, fix, config)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


class Bilinear(Module):
    """``y = x1^T A x2 + b`` (``torch.nn.Bilinear``); weight (out, in1, in2), U(-1/sqrt(in1), ..).

    Shape:
        (*, in1_features), (*, in2_features) -> (*, out_features)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in1_features = check_size("Bilinear", "in1_features", in1_features)
        self.in2_features = check_size("Bilinear", "in2_features", in2_features)
        self.out_features = check_size("Bilinear", "out_features", out_features)
        self.weight = new_parameter(self.out_features, self.in1_features, self.in2_features,
                                    dtype=dtype)
        if bias:
            self.bias = new_parameter(self.out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        check_input_tensor(self, input1, self.weight)
        check_input_tensor(self, input2, self.weight)
        for x, n, name in ((input1, self.in1_features, "first"), (input2, self.in2_features, "second")):
            if x.ndim == 0 or x.shape[-1] != n:
                last = x.shape[-1] if x.ndim else "none"
                raise self._input_error(x.shape, f"the {name} input's last dimension is {last}, "
                                        f"expected {n}")
        if input1.shape[:-1] != input2.shape[:-1]:
            raise self._input_error(
                input1.shape, f"the second input has shape {tuple(input2.shape)}: the leading "
                "(batch) dimensions of both inputs must match")
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


__all__ = ["Identity", "Linear", "Bilinear"]

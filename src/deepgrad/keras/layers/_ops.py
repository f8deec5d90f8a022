"""Array helpers shared by the Keras layers: constant padding and Keras's 'same' arithmetic."""

from __future__ import annotations

import math
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.nn.functional import linear
from deepgrad.tensor import Tensor


class _Pad(Function):
    """Constant padding by ``pads`` ((before, after) per dimension); backward crops."""

    @staticmethod
    def forward(ctx, x, pads, value):
        ctx.crop = tuple(slice(b, b + n) for (b, _), n in zip(pads, x.shape))
        return xp.pad(x.array, pads, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.crop], None, None


def pad(x: Tensor, pads: tuple[tuple[int, int], ...], value: float = 0.0) -> Tensor:
    """``x`` padded with ``value``; ``pads`` holds (before, after) for every dimension.

    Shape:
        (d0, d1, ...) -> (d0 + b0 + a0, d1 + b1 + a1, ...)
    """
    pads = tuple((int(b), int(a)) for b, a in pads)
    if not any(b or a for b, a in pads):
        return x
    return _Pad.apply(x, pads, value)


def dense(x: Tensor, kernel: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ kernel + bias`` for a Keras kernel of shape (in, out): ``F.linear`` on its
    transposed view (a PyTorch weight is (out, in)).

    Shape:
        x (..., in), kernel (in, out), bias (out,) -> (..., out)
    """
    return linear(x, kernel.t(), bias)


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of Keras's (TensorFlow's) ``padding='same'``: the output has
    ceil(size / stride) positions and the extra padding, if odd, goes after."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def conv_output_length(size: int | None, kernel: int, padding: str, stride: int,
                       dilation: int = 1) -> int | None:
    """Output length of a convolution or pooling window along one axis (Keras's rule)."""
    if size is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return math.ceil(size / stride)
    if padding == "causal":
        return math.ceil(size / stride)
    return max((size - effective) // stride + 1, 0)


def conv_transpose_output_length(size: int | None, kernel: int, padding: str,
                                 output_padding: int | None, stride: int,
                                 dilation: int = 1) -> int | None:
    """Output length of a transposed convolution along one axis (Keras's rule)."""
    if size is None:
        return None
    effective = kernel + (kernel - 1) * (dilation - 1)
    if output_padding is None:
        if padding == "valid":
            return size * stride + max(effective - stride, 0)
        return size * stride
    p = effective // 2 if padding == "same" else 0
    return (size - 1) * stride + effective - 2 * p + output_padding


def tuple_of(value: Any, n: int, name: str, layer: str) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as an n-tuple (Keras's argument normalization)."""
    if isinstance(value, int):
        return (value,) * n
    try:
        values = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}") from None
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ValueError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return values


def check_padding(value: Any, layer: str, allowed: tuple[str, ...] = ("valid", "same")) -> str:
    padding = str(value).lower()
    if padding not in allowed:
        raise ValueError(f"{layer}: padding must be one of {allowed}, got {value!r}")
    return padding

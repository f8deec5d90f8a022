"""softmax and log_softmax along one dimension, numerically stable.

Both subtract the maximum along ``dim`` before exponentiating, so large inputs
never overflow. Each is one ``Function`` that saves only its output; backward
is written with tensor ops on that output, so it is differentiable again:

    softmax:      grad_in = y * (g - sum(g * y, dim))
    log_softmax:  grad_in = g - exp(y) * sum(g, dim)
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.ops._registry import Arg, OpCase, declare, tensor_method
from deepgrad.ops._util import normalize_dim
from deepgrad.tensor import Tensor


def _shifted(x: Any, axis: int | None) -> Any:
    """``x - max(x, axis)``: a new array whose largest entry along ``axis`` is 0."""
    return xp.subtract(x, xp.max(x, axis=axis, keepdims=True), out=xp.empty_like(x))


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        a = x.array
        ctx.empty = a.size == 0
        if ctx.empty:
            return a.copy()
        axis = dim if a.ndim else None
        y = _shifted(a, axis)
        xp.exp(y, out=y)
        y /= xp.sum(y, axis=axis, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        if ctx.empty:
            return grad, None
        (y,) = ctx.saved_tensors
        return y * (grad - (grad * y).sum(ctx.dim, keepdim=True)), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        a = x.array
        ctx.empty = a.size == 0
        if ctx.empty:
            return a.copy()
        axis = dim if a.ndim else None
        y = _shifted(a, axis)
        y -= xp.log(xp.sum(xp.exp(y), axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        if ctx.empty:
            return grad, None
        (y,) = ctx.saved_tensors
        return grad - y.exp() * grad.sum(ctx.dim, keepdim=True), None


def _prepare(op: str, input: Tensor, dim: Any, dtype: Any) -> tuple[Tensor, int]:
    if dim is None:
        raise TypeError(
            f"{op}: pass the dimension to normalize over, e.g. {op}(x, dim=-1) "
            "(PyTorch no longer guesses it)"
        )
    if dtype is not None:
        input = input.to(dtype)
    if not input.dtype.is_floating_point:
        raise TypeError(
            f"{op}: expected a floating point tensor, got {input.dtype} (shape "
            f"{tuple(input.shape)}); call .float() first or pass dtype=deepgrad.float32"
        )
    return input, normalize_dim(dim, input.ndim, op)


@tensor_method()
def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x), dim)``: each slice along ``dim`` becomes a probability vector.

    ``dtype`` casts the input first (e.g. float16 data computed in float32).
    """
    input, dim = _prepare("softmax", input, dim, dtype)
    return Softmax.apply(input, dim)


@tensor_method()
def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``x - logsumexp(x, dim)``: the log of ``softmax``, accurate where softmax underflows."""
    input, dim = _prepare("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(input, dim)


declare(
    OpCase("softmax", lambda x: x.softmax(-1), [(3, 4)],
           ref=lambda x: xp.exp(x) / xp.exp(x).sum(-1, keepdims=True)),
    OpCase("softmax", lambda x: x.softmax(dim=0), [(3, 4)],
           ref=lambda x: xp.exp(x) / xp.exp(x).sum(0, keepdims=True), label="dim0"),
    OpCase("softmax", lambda x: x.softmax(1), [(2, 3, 4)],
           ref=lambda x: xp.exp(x) / xp.exp(x).sum(1, keepdims=True), label="3d"),
    OpCase("softmax", lambda x: x.softmax(0), [()], ref=lambda x: xp.ones(()), label="0d"),
    OpCase("softmax", lambda x: (x * 1000).softmax(-1), [(2, 3)], label="large",
           ref=lambda x: xp.exp(1000 * (x - x.max(-1, keepdims=True)))
           / xp.exp(1000 * (x - x.max(-1, keepdims=True))).sum(-1, keepdims=True)),
    OpCase("log_softmax", lambda x: x.log_softmax(-1), [(3, 4)],
           ref=lambda x: x - xp.log(xp.exp(x).sum(-1, keepdims=True))),
    OpCase("log_softmax", lambda x: x.log_softmax(-3), [(2, 3, 4)],
           ref=lambda x: x - xp.log(xp.exp(x).sum(0, keepdims=True)), label="dim-3"),
    OpCase("log_softmax", lambda x: x.log_softmax(-1), [()], ref=lambda x: xp.zeros(()),
           label="0d"),
    OpCase("log_softmax", lambda x: (x * 1000).log_softmax(1), [(2, 3)], label="large",
           ref=lambda x: 1000 * x - 1000 * x.max(1, keepdims=True)
           - xp.log(xp.exp(1000 * (x - x.max(1, keepdims=True))).sum(1, keepdims=True))),
    OpCase("softmax", lambda x: x.softmax(1), [Arg((2, 3), -30, 30)], label="wide",
           ref=lambda x: xp.exp(x) / xp.exp(x).sum(1, keepdims=True)),
)

__all__ = ["softmax", "log_softmax"]

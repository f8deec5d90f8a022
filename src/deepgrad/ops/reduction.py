"""Reductions: sum and mean over all or some dimensions, with keepdim.

Backward of a reduction puts the kept dimensions back (``reshape``) and
broadcasts the gradient over what was reduced (``expand``).
"""

from __future__ import annotations

from typing import Any

from deepgrad import dtypes
from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare, tensor_method
from deepgrad.ops._util import normalize_dims
from deepgrad.tensor import Tensor


def kept_shape(shape: tuple, dims: tuple | None) -> tuple:
    """The shape of a reduction over ``dims`` with keepdim=True."""
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


class Sum(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        ctx.in_shape, ctx.dims = x.shape, dims
        array = x.array
        if dtype is None and array.dtype.kind in "biu":
            dtype = dtypes.int64  # PyTorch sums integers and booleans as int64
        return xp.sum(array, axis=dims, keepdims=keepdim, dtype=None if dtype is None else dtype.np)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.reshape(kept_shape(ctx.in_shape, ctx.dims))
        return grad.expand(ctx.in_shape), None, None, None


@tensor_method()
def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (an int, a tuple, or None for all), keeping them as size 1 with keepdim."""
    dims = normalize_dims(dim, input.ndim, "sum")
    return Sum.apply(input, dims, keepdim, None if dtype is None else dtypes.to_dtype(dtype))


@tensor_method()
def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Average over ``dim``; only floating point tensors (as PyTorch), or pass dtype."""
    if dtype is not None:
        input = input.to(dtype)
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"mean: expected a floating point tensor, got {input.dtype}; use x.float().mean() "
            "or mean(dtype=deepgrad.float32)"
        )
    dims = normalize_dims(dim, input.ndim, "mean")
    count = input.array.size if dims is None else _count(input.shape, dims)
    return sum(input, dims, keepdim) / count


def _count(shape: tuple, dims: tuple) -> int:
    n = 1
    for d in dims:
        n *= shape[d]
    return n


@tensor_method()
def sum_to_size(input: Tensor, *size: Any) -> Tensor:
    """Sum broadcast dimensions away so the result has shape ``size`` (backward of broadcasting)."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    if input.shape == shape:
        return input
    lead = input.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and input.shape[lead + i] != 1
    )
    out = Sum.apply(input, dims, True, None)
    return out.reshape(shape) if out.shape != shape else out


declare(
    OpCase("sum", lambda x: x.sum(), [(3, 4)], ref=lambda x: x.sum()),
    OpCase("sum", lambda x: x.sum(dim=1), [(3, 4, 2)], ref=lambda x: x.sum(axis=1), label="dim"),
    OpCase("sum", lambda x: x.sum(dim=(0, -1), keepdim=True), [(3, 4, 2)],
           ref=lambda x: x.sum(axis=(0, 2), keepdims=True), label="dims,keepdim"),
    OpCase("sum", lambda x: x.sum(-1), [()], ref=lambda x: x.sum(), label="0d"),
    OpCase("mean", lambda x: x.mean(), [(3, 4)], ref=lambda x: x.mean()),
    OpCase("mean", lambda x: x.mean(dim=-2, keepdim=True), [(2, 3, 4)],
           ref=lambda x: x.mean(axis=-2, keepdims=True), label="dim,keepdim"),
    OpCase("sum_to_size", lambda x: x.sum_to_size(3, 1), [(2, 3, 4)],
           ref=lambda x: x.sum(axis=(0, 2))[:, None]),
)

__all__ = ["sum", "mean", "sum_to_size"]

"""sort, argsort and topk along one dimension; values are differentiable.

The indices are computed without a graph; the values are then gathered from
the input with them (``take_along_axis``), so their gradient is the gradient
scattered back to the positions the values came from. The gather and the
scatter are each other's backward, which makes any order of derivative work.

Sorting is stable (ties keep their order), also descending; NaN sorts as the
largest value, as in PyTorch.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.ops._registry import Arg, OpCase, declare, tensor_method
from deepgrad.ops._util import normalize_dim
from deepgrad.tensor import Tensor

SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


class TakeAlongDim(Function):
    """``take_along_axis(x, index, axis)`` with a constant index: a gather."""

    @staticmethod
    def forward(ctx, x, index, axis):
        ctx.index, ctx.axis, ctx.shape = index, axis, x.shape
        return xp.take_along_axis(x.array, index, axis)

    @staticmethod
    def backward(ctx, grad):
        return PutAlongDim.apply(grad, ctx.index, ctx.axis, ctx.shape), None, None


class PutAlongDim(Function):
    """Zeros of ``shape`` with ``values`` written at ``index`` along ``axis`` (distinct indices)."""

    @staticmethod
    def forward(ctx, values, index, axis, shape):
        ctx.index, ctx.axis = index, axis
        out = xp.zeros(shape, dtype=values.array.dtype)
        xp.put_along_axis(out, index, values.array, axis)
        return out

    @staticmethod
    def backward(ctx, grad):
        return TakeAlongDim.apply(grad, ctx.index, ctx.axis), None, None, None


def _argsort(a: Any, axis: int, descending: bool) -> Any:
    """Stable indices that sort ``a`` along ``axis``; NaN counts as the largest value."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable").astype(xp.int64, copy=False)
    # Descending and still stable: sort the reversed array ascending, then reverse back.
    order = xp.argsort(xp.flip(a, axis), axis=axis, kind="stable")
    return (a.shape[axis] - 1) - xp.flip(order, axis).astype(xp.int64, copy=False)


def _as_1d(input: Tensor, op: str, dim: int) -> tuple[Tensor, int, bool]:
    """A 0-d tensor is handled as one element along dimension 0."""
    axis = normalize_dim(dim, input.ndim, op)
    if input.ndim == 0:
        return input.reshape(1), 0, True
    return input, axis, False


def _gather(input: Tensor, index: Any, axis: int, scalar: bool) -> tuple[Tensor, Tensor]:
    values = TakeAlongDim.apply(input, index, axis)
    indices = Tensor(index)
    if scalar:
        return values.reshape(()), indices.reshape(())
    return values, indices


@tensor_method()
def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
    """Sort along ``dim``: a named tuple ``(values, indices)`` with ``input.gather(dim, indices)
    == values``. Always stable here (``stable`` is accepted for PyTorch's signature)."""
    x, axis, scalar = _as_1d(input, "sort", dim)
    index = _argsort(x.array, axis, descending)
    return SortResult(*_gather(x, index, axis, scalar))


@tensor_method()
def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (int64); ``sort(...).indices``."""
    x, axis, scalar = _as_1d(input, "argsort", dim)
    index = Tensor(_argsort(x.array, axis, descending))
    return index.reshape(()) if scalar else index


@tensor_method()
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim``: a named tuple
    ``(values, indices)``, best first (always sorted here). NaN counts as the largest."""
    x, axis, scalar = _as_1d(input, "topk", dim)
    a = x.array
    n = a.shape[axis]
    k = int(k)
    if not 0 <= k <= n:
        raise IndexError(
            f"topk: k={k} is out of range for dimension {dim} of size {n} "
            f"(input shape {tuple(input.shape)}); use 0 <= k <= {n}"
        )
    if k == 0 or 2 * k >= n:  # most of the slice: a full sort is as cheap
        index = _argsort(a, axis, largest)
        index = index[(slice(None),) * axis + (slice(0, k),)]
    else:  # partition in O(n), then sort the k chosen
        kth, chosen = (n - k, slice(n - k, None)) if largest else (k - 1, slice(0, k))
        part = xp.argpartition(a, kth, axis=axis)[(slice(None),) * axis + (chosen,)]
        order = _argsort(xp.take_along_axis(a, part, axis), axis, largest)
        index = xp.take_along_axis(part, order, axis).astype(xp.int64, copy=False)
    values, indices = _gather(x, xp.ascontiguousarray(index), axis, scalar)
    return TopkResult(values, indices)


# --- declared test cases ---------------------------------------------------------
def _np_sort(x: Any, axis: int = -1, descending: bool = False) -> tuple:
    index = xp.argsort(-x if descending else x, axis=axis, kind="stable")
    return xp.take_along_axis(x, index, axis), index


def _np_topk(x: Any, k: int, axis: int = -1, largest: bool = True) -> tuple:
    values, index = _np_sort(x, axis, largest)
    chosen = (slice(None),) * (axis % x.ndim) + (slice(0, k),)
    return values[chosen], index[chosen]


declare(
    OpCase("sort", lambda x: x.sort(), [(3, 4)], ref=_np_sort),
    OpCase("sort", lambda x: x.sort(0, descending=True), [(3, 4)],
           ref=lambda x: _np_sort(x, 0, True), label="dim0,descending"),
    OpCase("sort", lambda x: x.sort(dim=-2), [(2, 5, 3)], ref=lambda x: _np_sort(x, -2),
           label="3d,dim-2"),
    OpCase("sort", lambda x: x.sort(), [()], ref=lambda x: (x, xp.zeros((), xp.int64)), label="0d"),
    OpCase("sort", lambda x: x.sort(descending=True, stable=True), [Arg((3, 6), 0, 3, "int")],
           ref=lambda x: (-xp.sort(-x, -1, kind="stable"),
                          xp.argsort(-x, -1, kind="stable")), grad=False, label="ties,stable"),
    OpCase("sort", lambda x: x.sort(stable=True), [Arg((8,), 0, 3, "int")],
           ref=lambda x: _np_sort(x), grad=False, label="ties,ascending"),
    OpCase("argsort", lambda x: x.argsort(), [(3, 4)], ref=lambda x: xp.argsort(x, -1), grad=False),
    OpCase("argsort", lambda x: x.argsort(dim=0, descending=True), [(4, 3)],
           ref=lambda x: xp.argsort(-x, 0), grad=False, label="dim0,descending"),
    OpCase("topk", lambda x: x.topk(2), [(3, 5)], ref=lambda x: _np_topk(x, 2)),
    OpCase("topk", lambda x: x.topk(3, dim=0, largest=False), [(6, 2)],
           ref=lambda x: _np_topk(x, 3, 0, False), label="dim0,smallest"),
    OpCase("topk", lambda x: x.topk(4, -2), [(2, 4, 3)], ref=lambda x: _np_topk(x, 4, -2),
           label="k=n"),
    OpCase("topk", lambda x: x.topk(1, 1), [(3, 7)], ref=lambda x: _np_topk(x, 1, 1), label="k=1"),
    OpCase("topk", lambda x: x.topk(1), [()], ref=lambda x: (x, xp.zeros((), xp.int64)),
           label="0d"),
)

__all__ = ["sort", "argsort", "topk"]

"""Extrema: max, min, amax, amin, argmax, argmin.

Two gradients, as in PyTorch:
- ``amax``/``amin`` and ``max()``/``min()`` without a dim split the gradient
  evenly among tied extrema;
- ``max(dim)``/``min(dim)`` return ``(values, indices)`` and send the whole
  gradient to the returned index (the first extremum).
Both multiply the gradient by a constant mask, which is exact for double
backward (the mask's own derivative is zero).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare, tensor_method
from deepgrad.ops._util import normalize_dim, normalize_dims
from deepgrad.tensor import Tensor

# The (values, indices) results, as PyTorch's torch.return_types.max / min.
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def _check_nonempty(op: str, x: Tensor, dims: tuple | None) -> None:
    shape = x.shape
    for d in range(len(shape)) if dims is None else dims:
        if shape[d] == 0:
            where = "the tensor is empty" if dims is None else f"dimension {d} has size 0"
            raise IndexError(
                f"{op}: can't reduce shape {tuple(shape)}: {where}, and an empty reduction has no "
                "extremum" + ("; pass dim to reduce a non-empty dimension" if dims is None else "")
            )


class Extreme(Function):
    """amax (``largest``) or amin over ``dims``; ties share the gradient evenly."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, largest):
        a = x.array
        out = (xp.amax if largest else xp.amin)(a, axis=dims, keepdims=True)
        ctx.dims, ctx.out = dims, out
        ctx.save_for_backward(x)
        if keepdim:
            return out
        return out.reshape(() if dims is None else
                           tuple(s for i, s in enumerate(a.shape) if i not in dims))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        a, out = x.array, ctx.out
        mask = a == out
        if a.dtype.kind == "f" and xp.isnan(out).any():  # a nan extremum: the nans share it
            mask |= xp.isnan(a)
        weight = xp.divide(mask, mask.sum(axis=ctx.dims, keepdims=True), dtype=a.dtype)
        return grad.reshape(out.shape) * Tensor(weight), None, None, None


class Amax(Extreme):
    pass


class Amin(Extreme):
    pass


class ExtremeDim(Function):
    """max (``largest``) or min along one dimension, with the index of the first extremum."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, largest):
        a = x.array
        index = (xp.argmax if largest else xp.argmin)(a, axis=dim, keepdims=True)
        values = xp.take_along_axis(a, index, axis=dim)
        ctx.dim, ctx.index, ctx.shape = dim, index, a.shape
        ctx.set_materialize_grads(False)
        if not keepdim:
            values, index = values.squeeze(dim), index.squeeze(dim)
        return values, index.astype(xp.int64, copy=False)

    @staticmethod
    def backward(ctx, grad, grad_index):
        shape, dim = ctx.shape, ctx.dim
        positions = xp.arange(shape[dim]).reshape((-1,) + (1,) * (len(shape) - dim - 1))
        mask = (positions == ctx.index).astype(grad.array.dtype)
        return grad.reshape(ctx.index.shape) * Tensor(mask), None, None, None


class Max(ExtremeDim):  # the names grad_fn shows, as PyTorch's MaxBackward / MinBackward
    pass


class Min(ExtremeDim):
    pass


def _extreme(op: str, input: Tensor, dim: Any, keepdim: bool, largest: bool) -> Tensor:
    dims = normalize_dims(dim, input.ndim, op)
    if not dims:  # None, or () which PyTorch reads as all dimensions
        dims = None
    _check_nonempty(op, input, dims)
    return (Amax if largest else Amin).apply(input, dims, keepdim, largest)


def _extreme_dim(op: str, input: Tensor, dim: Any, keepdim: bool, largest: bool) -> tuple:
    result = MaxResult if largest else MinResult
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(
            f"{op}: dim must be an int, got {dim!r}; use {'amax' if largest else 'amin'} to reduce "
            "several dimensions"
        )
    d = normalize_dim(dim, input.ndim, op)
    if input.ndim == 0:
        values, index = (Max if largest else Min).apply(input.reshape(1), 0, False, largest)
        return result(values, index)
    _check_nonempty(op, input, (d,))
    return result(*(Max if largest else Min).apply(input, d, keepdim, largest))


@tensor_method()
def max(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        other: Any = None) -> Any:
    """The largest element; with ``dim``, ``(values, indices)`` along it; with a tensor, the
    elementwise maximum (as ``torch.max``).

    Without ``dim`` tied maxima share the gradient; with ``dim`` the first one gets it.
    """
    if isinstance(dim, Tensor) or other is not None:
        from deepgrad.ops.select import maximum

        return maximum(input, dim if other is None else other)
    if dim is None:
        return _extreme("max", input, None, False, True)
    return _extreme_dim("max", input, dim, keepdim, True)


@tensor_method()
def min(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        other: Any = None) -> Any:
    """The smallest element; with ``dim``, ``(values, indices)`` along it; with a tensor, the
    elementwise minimum (as ``torch.min``)."""
    if isinstance(dim, Tensor) or other is not None:
        from deepgrad.ops.select import minimum

        return minimum(input, dim if other is None else other)
    if dim is None:
        return _extreme("min", input, None, False, False)
    return _extreme_dim("min", input, dim, keepdim, False)


@tensor_method()
def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """The maximum over ``dim`` (an int, a tuple; ``()`` or None: all); ties share the gradient."""
    return _extreme("amax", input, dim, keepdim, True)


@tensor_method()
def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """The minimum over ``dim`` (an int, a tuple; ``()`` or None: all); ties share the gradient."""
    return _extreme("amin", input, dim, keepdim, False)


def _arg(op: str, input: Tensor, dim: Any, keepdim: bool, largest: bool) -> Tensor:
    find = xp.argmax if largest else xp.argmin
    a = input.array
    if dim is None:  # the index into the flattened tensor
        _check_nonempty(op, input, None)
        index = find(a.reshape(-1))
        shape = (1,) * a.ndim if keepdim else ()
        return Tensor(xp.asarray(index, dtype=xp.int64).reshape(shape))
    d = normalize_dim(dim, input.ndim, op)
    if a.ndim == 0:
        return Tensor(xp.zeros((), dtype=xp.int64))
    _check_nonempty(op, input, (d,))
    return Tensor(xp.asarray(find(a, axis=d, keepdims=keepdim), dtype=xp.int64))


@tensor_method()
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the first maximum along ``dim``, or in the flattened tensor."""
    return _arg("argmax", input, dim, keepdim, True)


@tensor_method()
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the first minimum along ``dim``, or in the flattened tensor."""
    return _arg("argmin", input, dim, keepdim, False)


def _np_extreme_dim(a: Any, axis: int, keepdims: bool = False, largest: bool = True) -> tuple:
    index = (xp.argmax if largest else xp.argmin)(a, axis=axis, keepdims=True)
    values = xp.take_along_axis(a, index, axis=axis)
    if not keepdims:
        values, index = values.squeeze(axis), index.squeeze(axis)
    return values, index


declare(
    OpCase("max", lambda x: x.max(), [(3, 4)], ref=lambda x: x.max()),
    OpCase("max", lambda x: x.max(1), [(3, 4)], ref=lambda x: _np_extreme_dim(x, 1), label="dim"),
    OpCase("max", lambda x: x.max(dim=-1, keepdim=True), [(2, 3, 4)],
           ref=lambda x: _np_extreme_dim(x, -1, True), label="dim=-1,keepdim"),
    OpCase("max", lambda x: x.max(0), [()], ref=lambda x: (x, xp.zeros((), xp.int64)),
           label="0d,dim"),
    OpCase("max", lambda x: x.max(), [()], ref=lambda x: x, label="0d"),
    OpCase("max", lambda x, y: x.max(y), [(3, 4), (4,)], ref=xp.maximum, label="other"),
    OpCase("min", lambda x: x.min(), [(3, 4)], ref=lambda x: x.min()),
    OpCase("min", lambda x: x.min(0), [(3, 4)], ref=lambda x: _np_extreme_dim(x, 0, largest=False),
           label="dim"),
    OpCase("min", lambda x: x.min(-2, True), [(2, 3, 4)], label="dim=-2,keepdim",
           ref=lambda x: _np_extreme_dim(x, -2, True, largest=False)),
    OpCase("min", lambda x, y: x.min(y), [(3, 1), (1, 4)], ref=xp.minimum, label="other"),
    OpCase("amax", lambda x: x.amax(), [(3, 4)], ref=lambda x: x.max()),
    OpCase("amax", lambda x: x.amax(1), [(3, 4)], ref=lambda x: x.max(axis=1), label="dim"),
    OpCase("amax", lambda x: x.amax((0, -1), keepdim=True), [(2, 3, 4)],
           ref=lambda x: x.max(axis=(0, 2), keepdims=True), label="dims,keepdim"),
    OpCase("amax", lambda x: x.amax(-1), [()], ref=lambda x: x, label="0d"),
    OpCase("amin", lambda x: x.amin(), [(3, 4)], ref=lambda x: x.min()),
    OpCase("amin", lambda x: x.amin((1, 2)), [(2, 3, 4)], ref=lambda x: x.min(axis=(1, 2)),
           label="dims"),
    OpCase("amin", lambda x: x.amin(-2, True), [(3, 4)], ref=lambda x: x.min(axis=0, keepdims=True),
           label="dim,keepdim"),
    OpCase("argmax", lambda x: x.argmax(), [(3, 4)], ref=lambda x: xp.argmax(x), grad=False),
    OpCase("argmax", lambda x: x.argmax(1), [(3, 4)], ref=lambda x: xp.argmax(x, 1), grad=False,
           label="dim"),
    OpCase("argmax", lambda x: x.argmax(-1, keepdim=True), [(2, 3, 4)], grad=False,
           ref=lambda x: xp.argmax(x, -1, keepdims=True), label="dim,keepdim"),
    OpCase("argmax", lambda x: x.argmax(keepdim=True), [(3, 4)], grad=False,
           ref=lambda x: xp.argmax(x).reshape(1, 1), label="keepdim"),
    OpCase("argmin", lambda x: x.argmin(), [(3, 4)], ref=lambda x: xp.argmin(x), grad=False),
    OpCase("argmin", lambda x: x.argmin(0), [(3, 4)], ref=lambda x: xp.argmin(x, 0), grad=False,
           label="dim"),
    OpCase("argmin", lambda x: x.argmin(0), [()], ref=lambda x: xp.zeros((), xp.int64), grad=False,
           label="0d"),
)

__all__ = ["max", "min", "amax", "amin", "argmax", "argmin"]

"""Reductions: sum, mean, var, std, prod, logsumexp, norm, cumsum, all, any.

Backward of a reduction puts the kept dimensions back (``reshape``) and
broadcasts the gradient over what was reduced (by ``expand`` or by multiplying
with an input-shaped tensor). The extrema (max, min, amax, argmax, ...) live in
``extrema.py``.
"""

from __future__ import annotations

import builtins
import math
import warnings
from typing import Any

from deepgrad import dtypes
from deepgrad.autograd.function import Function, depends_on
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.ops._registry import Arg, OpCase, declare, tensor_method
from deepgrad.ops._util import normalize_dim, normalize_dims
from deepgrad.tensor import Tensor


def kept_shape(shape: tuple, dims: tuple | None) -> tuple:
    """The shape of a reduction over ``dims`` with keepdim=True."""
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _all_if_empty(dims: tuple | None) -> tuple | None:
    """PyTorch reads an empty ``dim`` of sum, mean, var, std, amax ... as "all dimensions"."""
    return None if dims == () else dims


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
        if grad.ndim:  # a 0-d gradient (a full sum) broadcasts as it is
            grad = grad.reshape(kept_shape(ctx.in_shape, ctx.dims))
        return grad.expand(ctx.in_shape), None, None, None


@tensor_method()
def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        dtype: Any = None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for all), keeping them as size 1 with keepdim."""
    dims = _all_if_empty(normalize_dims(dim, input.ndim, "sum"))
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
    dims = _all_if_empty(normalize_dims(dim, input.ndim, "mean"))
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


def _reduced_shape(shape: tuple, dims: tuple | None, keepdim: bool) -> tuple:
    """The shape of a reduction over ``dims`` (None: all)."""
    if keepdim:
        return kept_shape(shape, dims)
    if dims is None:
        return ()
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def _floating(input: Tensor, op: str, hint: str) -> None:
    if input.array.dtype.kind != "f":
        raise RuntimeError(
            f"{op}: expected a floating point tensor, got {input.dtype}; convert it first, "
            f"e.g. {hint}"
        )


# --- variance and standard deviation ----------------------------------------------------
class Var(Function):
    """Variance (``root=False``) or standard deviation (``root=True``) with a correction."""

    @staticmethod
    def forward(ctx, x, dims, correction, keepdim, root):
        a = x.array
        n = a.size if dims is None else _count(a.shape, dims)
        dof = n - correction
        ctx.dims, ctx.dof, ctx.root = dims, dof, root
        ctx.kept = kept_shape(a.shape, dims)
        if dof > 0:
            out = (xp.std if root else xp.var)(a, axis=dims, ddof=correction, keepdims=keepdim)
        else:  # NumPy would warn about its own internals; say what PyTorch says instead
            warnings.warn(
                f"{'std' if root else 'var'}(): degrees of freedom is <= 0: the correction "
                f"{correction} is not less than the {n} elements reduced",
                stacklevel=4,
            )
            centered = a - a.mean(axis=dims, keepdims=True)
            with xp.errstate(divide="ignore", invalid="ignore"):
                out = xp.sum(centered * centered, axis=dims, keepdims=keepdim)
                out = out / builtins.max(dof, 0)
                if root:
                    out = xp.sqrt(out)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        dof = ctx.dof if ctx.dof > 0 else 0.0
        if not is_grad_enabled():  # no graph of the backward pass: plain arrays are enough
            x, out, grad = x.array, out.array, grad.array
            centered = x - x.mean(axis=ctx.dims, keepdims=True)
        else:
            centered = x - mean(x, ctx.dims, True)
        grad = grad.reshape(ctx.kept)
        if ctx.root:  # d std = (x - mean) / (dof * std)
            with xp.errstate(divide="ignore", invalid="ignore"):
                result = centered * (grad / (out.reshape(ctx.kept) * dof))
        else:  # d var = 2 (x - mean) / dof
            result = centered * (grad * (2.0 / dof if dof else math.inf))
        if not isinstance(result, Tensor):
            result = Tensor(result)
        return result, None, None, None, None


def _correction(op: str, unbiased: Any, correction: Any) -> Any:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: pass either unbiased= or correction=, not both")
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def _var(op: str, input: Tensor, dim: Any, unbiased: Any, keepdim: bool, correction: Any,
         root: bool) -> Tensor:
    if isinstance(dim, bool):  # the old var(input, unbiased) form
        dim, unbiased = None, dim
    if input.array.dtype.kind != "f":
        raise RuntimeError(
            f"{op}: std and var only support floating point tensors, got {input.dtype}; "
            f"use x.float().{op}()"
        )
    dims = _all_if_empty(normalize_dims(dim, input.ndim, op))
    return Var.apply(input, dims, _correction(op, unbiased, correction), keepdim, root)


@tensor_method()
def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Variance over ``dim``, dividing by ``N - correction`` (``correction=1`` by default,
    ``unbiased=False`` means ``correction=0``)."""
    return _var("var", input, dim, unbiased, keepdim, correction, False)


@tensor_method()
def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Standard deviation over ``dim``: the square root of :func:`var` (same arguments)."""
    return _var("std", input, dim, unbiased, keepdim, correction, True)


def var_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: Any = None) -> tuple[Tensor, Tensor]:
    """``(var(input, ...), mean(input, ...))`` over the same dimensions."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, _all_if_empty(normalize_dims(dim, input.ndim, "var_mean")), keepdim))


def std_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: Any = None) -> tuple[Tensor, Tensor]:
    """``(std(input, ...), mean(input, ...))`` over the same dimensions."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, _all_if_empty(normalize_dims(dim, input.ndim, "std_mean")), keepdim))


# --- product ----------------------------------------------------------------------------
class Prod(Function):
    """The product along one dimension.

    Backward is ``grad * out / x`` when no factor is zero. With zeros it is
    the product of the other factors, computed without division as the same
    op on an (n, n) expansion whose diagonal is 1, so it is exact and twice
    differentiable.
    """

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        a = x.array
        dtype = xp.int64 if a.dtype.kind in "biu" else None  # PyTorch multiplies integers as int64
        out = xp.prod(a, axis=dim, keepdims=keepdim, dtype=dtype)
        ctx.dim, ctx.kept = dim, kept_shape(a.shape, (dim,))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        grad = grad.reshape(ctx.kept)
        if not (x.array == 0).any():
            return grad * out.reshape(ctx.kept) / x, None, None
        dim, shape = ctx.dim, x.shape
        n = shape[dim]
        eye = xp.eye(n, dtype=x.array.dtype).reshape((n, n) + (1,) * (len(shape) - dim - 1))
        rows = x.reshape(shape[:dim] + (1,) + shape[dim:]) * Tensor(1 - eye) + Tensor(eye)
        others = Prod.apply(rows, dim + 1, False)  # others[..., i, ...] = prod over j != i
        return grad * others, None, None


@tensor_method()
def prod(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The product of all elements, or along ``dim``; integers and booleans give int64.

    The gradient is exact where factors are zero (no division by zero).
    """
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        return Prod.apply(input.reshape(-1), 0, False)
    dims = normalize_dims(dim, input.ndim, "prod")
    if input.ndim == 0:
        return Prod.apply(input.reshape(1), 0, False).reshape(())
    out = input
    for d in reversed(dims):  # from the last, so earlier indices stay valid without keepdim
        out = Prod.apply(out, d, keepdim)
    return out


# --- logsumexp --------------------------------------------------------------------------
class LogSumExp(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        a = x.array
        shift = xp.amax(a, axis=dims, keepdims=True)
        shift = xp.where(xp.isfinite(shift), shift, 0)  # all -inf (or an inf): no shift
        total = xp.sum(xp.exp(a - shift), axis=dims, keepdims=True)
        with xp.errstate(divide="ignore"):
            out = xp.log(total)
        out += shift
        if not keepdim:
            out = out.reshape(_reduced_shape(a.shape, dims, False))
        ctx.kept = kept_shape(a.shape, dims)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors  # d/dx = softmax(x) = exp(x - out)
        return grad.reshape(ctx.kept) * (x - out.reshape(ctx.kept)).exp(), None, None


@tensor_method()
def logsumexp(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input), dim))``, computed without overflow (shifted by the max).

    ``dim=None`` reduces all dimensions; integer inputs become the default float dtype.
    """
    if input.array.dtype.kind != "f":
        input = input.float()
    dims = _all_if_empty(normalize_dims(dim, input.ndim, "logsumexp"))
    if input.ndim == 0:
        dims = None
    return LogSumExp.apply(input, dims, keepdim)


# --- norm -------------------------------------------------------------------------------
class Norm(Function):
    """The vector p-norm over ``dims``; gradients as PyTorch's (0 where the norm is 0)."""

    @staticmethod
    def forward(ctx, x, p, dims, keepdim):
        a = x.array
        if p == 2:
            out = xp.sqrt(xp.sum(a * a, axis=dims, keepdims=keepdim))
        elif p == 1:
            out = xp.sum(xp.abs(a), axis=dims, keepdims=keepdim)
        elif p == math.inf:
            out = xp.amax(xp.abs(a), axis=dims, keepdims=keepdim)
        elif p == -math.inf:
            out = xp.amin(xp.abs(a), axis=dims, keepdims=keepdim)
        elif p == 0:
            out = xp.sum(a != 0, axis=dims, keepdims=keepdim, dtype=a.dtype)
        else:
            with xp.errstate(divide="ignore"):
                out = xp.sum(xp.abs(a) ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)
        ctx.p, ctx.dims, ctx.kept = p, dims, kept_shape(a.shape, dims)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        p, a = ctx.p, x.array
        grad, out = grad.reshape(ctx.kept), out.reshape(ctx.kept)
        if p == 0:  # a count: no gradient at all, as PyTorch (x.grad stays None)
            return None, None, None, None
        if p == 1:
            return grad * x.sign(), None, None, None
        if p in (math.inf, -math.inf):  # the gradient of max |x|: split among ties
            magnitude = xp.abs(a)
            mask = magnitude == out.array
            if xp.isnan(out.array).any():
                mask |= xp.isnan(magnitude)
            weight = xp.sign(a) * mask / mask.sum(axis=ctx.dims, keepdims=True)
            result = grad * Tensor(weight.astype(a.dtype, copy=False))
            return depends_on(result, x, out), None, None, None
        zero_norm = out.array == 0
        safe = out + Tensor(zero_norm.astype(a.dtype)) if zero_norm.any() else out
        if p == 2:
            return x * (grad / safe), None, None, None
        sign = xp.sign(a)
        magnitude = x * Tensor(sign) + Tensor((a == 0).astype(a.dtype))  # |x|, and 1 at zeros
        scaled = Tensor(sign) * magnitude ** (p - 1)  # sgn(x) |x|^(p-1), 0 at zeros
        if p < 1:
            return scaled * (grad * out ** (1 - p)), None, None, None
        return scaled * (grad / safe ** (p - 1)), None, None, None


@tensor_method()
def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None) -> Tensor:
    """The vector p-norm of ``input`` over ``dim`` (None: all elements).

    ``p`` is ``'fro'`` or 2 (Euclidean, the default), 1, ``inf``, ``-inf``, 0
    (the count of non-zeros) or any other number. The gradient at a zero
    vector is 0, as in PyTorch.
    """
    if dtype is not None:
        input = input.to(dtype)
    _floating(input, "norm", "x.float().norm()")
    if p is None or p == "fro":
        p = 2
    elif isinstance(p, str):
        raise NotImplementedError(
            f"norm: p={p!r} is not supported; use p='fro' or a number (vector norms)"
        )
    dims = _all_if_empty(normalize_dims(dim, input.ndim, "norm"))
    return Norm.apply(input, float(p), dims, keepdim)


# --- cumulative sum ---------------------------------------------------------------------
class Cumsum(Function):
    @staticmethod
    def forward(ctx, x, dim, dtype):
        ctx.dim = dim
        return xp.cumsum(x.array, axis=dim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        return _ReverseCumsum.apply(grad, ctx.dim), None, None


class _ReverseCumsum(Function):
    """Sums from the end: the adjoint of cumsum (and cumsum is its adjoint)."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        flipped = xp.flip(x.array, axis=dim)
        return xp.flip(xp.cumsum(flipped, axis=dim), axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return Cumsum.apply(grad, ctx.dim, None), None


@tensor_method()
def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sums along ``dim``; integers and booleans give int64, as in PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    d = normalize_dim(dim, input.ndim, "cumsum")
    if input.ndim == 0:
        return Cumsum.apply(input.reshape(1), 0, xp.int64 if input.array.dtype.kind in "biu"
                            else None).reshape(())
    return Cumsum.apply(input, d, xp.int64 if input.array.dtype.kind in "biu" else None)


# --- logical reductions (no gradient) ----------------------------------------------------
@tensor_method()
def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether every element (along ``dim``) is non-zero: a bool tensor."""
    dims = normalize_dims(dim, input.ndim, "all")
    return Tensor(xp.asarray(xp.all(input.array, axis=dims, keepdims=keepdim)))


@tensor_method()
def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether some element (along ``dim``) is non-zero: a bool tensor."""
    dims = normalize_dims(dim, input.ndim, "any")
    return Tensor(xp.asarray(xp.any(input.array, axis=dims, keepdims=keepdim)))


@tensor_method()
def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """The number of non-zero elements (along ``dim``), as int64."""
    dims = _all_if_empty(normalize_dims(dim, input.ndim, "count_nonzero"))
    return Tensor(xp.asarray(xp.count_nonzero(input.array, axis=dims), dtype=xp.int64))


# --- declared test cases -------------------------------------------------------------
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



def _lib(x: Any) -> Any:
    """The library a test input belongs to (deepgrad or torch), for its module functions."""
    import sys

    return sys.modules[type(x).__module__.split(".")[0]]


def _np_norm(a: Any, p: float, axis: Any = None, keepdims: bool = False) -> Any:
    if p == 2:
        return xp.sqrt((a * a).sum(axis=axis, keepdims=keepdims))
    if p == math.inf:
        return xp.abs(a).max(axis=axis, keepdims=keepdims)
    if p == -math.inf:
        return xp.abs(a).min(axis=axis, keepdims=keepdims)
    if p == 0:
        return (a != 0).sum(axis=axis, keepdims=keepdims).astype(a.dtype)
    return (xp.abs(a) ** p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


def _np_logsumexp(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return xp.log(xp.exp(a).sum(axis=axis, keepdims=keepdims))


def _with_zeros(x: Any, zeros: Any, mask: Any) -> Any:
    """``x`` where ``mask`` is 1 and the (all zero) ``zeros`` elsewhere: exact zeros that
    still carry a gradient, to test prod and norm at 0."""
    return x * mask + zeros * (1 - mask)


_ZEROS = dict(low=0.0, high=0.0)
_MASK = dict(low=0, high=2, kind="int")

declare(
    OpCase("var", lambda x: x.var(), [(3, 4)], ref=lambda x: x.var(ddof=1)),
    OpCase("var", lambda x: x.var(1), [(3, 4)], ref=lambda x: x.var(axis=1, ddof=1), label="dim"),
    OpCase("var", lambda x: x.var(dim=(0, -1), keepdim=True, correction=0), [(2, 3, 4)],
           ref=lambda x: x.var(axis=(0, 2), keepdims=True), label="dims,keepdim,correction0"),
    OpCase("var", lambda x: x.var(-2, False, True), [(2, 3, 4)],
           ref=lambda x: x.var(axis=1, keepdims=True), label="unbiased=False,keepdim"),
    OpCase("var", lambda x: x.var(False), [(5,)], ref=lambda x: x.var(), label="var(False)"),
    OpCase("var", lambda x: x.var(correction=2), [(6,)], ref=lambda x: x.var(ddof=2),
           label="correction2"),
    OpCase("std", lambda x: x.std(), [(3, 4)], ref=lambda x: x.std(ddof=1)),
    OpCase("std", lambda x: x.std(dim=-1, keepdim=True), [(2, 3, 4)],
           ref=lambda x: x.std(axis=-1, ddof=1, keepdims=True), label="dim,keepdim"),
    OpCase("std", lambda x: x.std((0, 2), unbiased=False), [(2, 3, 4)],
           ref=lambda x: x.std(axis=(0, 2)), label="dims,unbiased=False"),
    OpCase("var_mean", lambda x: _lib(x).var_mean(x, 1, keepdim=True), [(3, 4)],
           ref=lambda x: (x.var(axis=1, ddof=1, keepdims=True), x.mean(axis=1, keepdims=True))),
    OpCase("std_mean", lambda x: _lib(x).std_mean(x, (0, 1), correction=0), [(3, 4)],
           ref=lambda x: (x.std(), x.mean())),
    OpCase("prod", lambda x: x.prod(), [(3, 4)], ref=lambda x: x.prod(), low=0.5, high=1.5),
    OpCase("prod", lambda x: x.prod(1), [(3, 4)], ref=lambda x: x.prod(axis=1), label="dim"),
    OpCase("prod", lambda x: x.prod(-1, keepdim=True), [(2, 3, 4)],
           ref=lambda x: x.prod(axis=-1, keepdims=True), label="dim,keepdim"),
    OpCase("prod", lambda x: x.prod(0), [()], ref=lambda x: x.prod(), label="0d"),
    OpCase("prod", lambda x, z, m: _with_zeros(x, z, m).prod(1),
           [(5, 4), Arg((5, 4), **_ZEROS), Arg((5, 4), **_MASK)],
           ref=lambda x, z, m: (x * m).prod(axis=1), label="zeros"),
    OpCase("prod", lambda x, z, m: _with_zeros(x, z, m).prod(),
           [(3, 2), Arg((3, 2), **_ZEROS), Arg((3, 2), **_MASK)],
           ref=lambda x, z, m: (x * m).prod(), label="zeros,all"),
    OpCase("prod", lambda x: x.prod(1), [Arg((2, 3), 1, 5, "int")],
           ref=lambda x: x.prod(axis=1), label="int", grad=False),
    OpCase("logsumexp", lambda x: x.logsumexp(1), [(3, 4)], ref=lambda x: _np_logsumexp(x, 1)),
    OpCase("logsumexp", lambda x: x.logsumexp((0, -1), keepdim=True), [(2, 3, 4)],
           ref=lambda x: _np_logsumexp(x, (0, 2), True), label="dims,keepdim"),
    OpCase("logsumexp", lambda x: (x * 400).logsumexp(0), [(3,)], label="large",
           ref=lambda x: (400 * x).max() + _np_logsumexp(400 * x - (400 * x).max())),
    OpCase("logsumexp", lambda x: x.logsumexp(0), [()], ref=lambda x: x, label="0d"),
    OpCase("norm", lambda x: x.norm(), [(3, 4)], ref=lambda x: _np_norm(x, 2)),
    OpCase("norm", lambda x: x.norm(dim=-1, keepdim=True), [(2, 3, 4)],
           ref=lambda x: _np_norm(x, 2, -1, True), label="dim,keepdim"),
    OpCase("norm", lambda x: x.norm("fro", (0, 1)), [(3, 4, 2)],
           ref=lambda x: _np_norm(x, 2, (0, 1)), label="fro,dims"),
    OpCase("norm", lambda x: x.norm(1, 1), [(3, 4)], ref=lambda x: _np_norm(x, 1, 1), label="p=1"),
    OpCase("norm", lambda x: x.norm(math.inf, 0), [(3, 4)], ref=lambda x: _np_norm(x, math.inf, 0),
           label="p=inf"),
    OpCase("norm", lambda x: x.norm(-math.inf), [(3, 4)], ref=lambda x: _np_norm(x, -math.inf),
           label="p=-inf"),
    OpCase("norm", lambda x: x.norm(3, -1), [(3, 4)], ref=lambda x: _np_norm(x, 3, -1),
           label="p=3"),
    OpCase("norm", lambda x: x.norm(0.5), [(2, 3)], ref=lambda x: _np_norm(x, 0.5), label="p=0.5"),
    OpCase("norm", lambda x: x.norm(1.5, 0), [(2, 3)], ref=lambda x: _np_norm(x, 1.5, 0),
           label="p=1.5"),
    OpCase("norm", lambda x: x.norm(0, 1), [(2, 3)], ref=lambda x: _np_norm(x, 0, 1), label="p=0",
           gradgrad=False),
    OpCase("norm", lambda x: x.norm(), [()], ref=lambda x: xp.abs(x), label="0d"),
    # At a zero vector the norm is not differentiable: PyTorch's gradient is 0 there (checked
    # against PyTorch and by central differences, which are 0 too); no second derivative.
    OpCase("norm", lambda x, z, m: _with_zeros(x, z, m).norm(dim=1),
           [(5, 2), Arg((5, 2), **_ZEROS), Arg((5, 2), **_MASK)], gradgrad=False,
           ref=lambda x, z, m: _np_norm(x * m, 2, 1), label="zeros"),
    OpCase("norm", lambda x, z, m: _with_zeros(x, z, m).norm(3, 1),
           [(4, 2), Arg((4, 2), **_ZEROS), Arg((4, 2), **_MASK)], gradgrad=False,
           ref=lambda x, z, m: _np_norm(x * m, 3, 1), label="p=3,zeros"),
    OpCase("norm", lambda x, z, m: _with_zeros(x, z, m).norm(1, 1),
           [(4, 2), Arg((4, 2), **_ZEROS), Arg((4, 2), **_MASK)], gradgrad=False,
           ref=lambda x, z, m: _np_norm(x * m, 1, 1), label="p=1,zeros"),
    OpCase("cumsum", lambda x: x.cumsum(1), [(3, 4)], ref=lambda x: x.cumsum(axis=1)),
    OpCase("cumsum", lambda x: x.cumsum(-3), [(2, 3, 4)], ref=lambda x: x.cumsum(axis=0),
           label="dim=-3"),
    OpCase("cumsum", lambda x: x.cumsum(0), [()], ref=lambda x: x, label="0d"),
    OpCase("cumsum", lambda x: x.cumsum(0), [Arg((5,), 0, 4, "int")], ref=lambda x: x.cumsum(),
           label="int", grad=False),
    OpCase("all", lambda x: x.all(), [Arg((3, 4), 0, 2, "int")], ref=lambda x: xp.all(x),
           grad=False),
    OpCase("all", lambda x: (x > -1.5).all(1, keepdim=True), [(3, 4)], grad=False,
           ref=lambda x: (x > -1.5).all(axis=1, keepdims=True), label="dim,keepdim"),
    OpCase("any", lambda x: x.any(-1), [Arg((3, 4), **_MASK)], ref=lambda x: x.any(axis=-1),
           grad=False),
    OpCase("any", lambda x: x.any(), [Arg((3, 4), kind="bool")], ref=lambda x: xp.any(x),
           label="bool", grad=False),
    OpCase("count_nonzero", lambda x: x.count_nonzero(0), [Arg((3, 4), **_MASK)],
           ref=lambda x: xp.count_nonzero(x, axis=0), grad=False),
)

__all__ = [
    "sum", "mean", "sum_to_size", "var", "std", "var_mean", "std_mean", "prod", "logsumexp",
    "norm", "cumsum", "all", "any", "count_nonzero",
]

"""Picking between values: where, maximum, minimum, clamp.

The gradient of a selection goes to whichever operand was picked; the choice
(a mask) is a constant, so backward is a ``where`` or a product with constant
weights and stays differentiable. Ties in ``maximum``/``minimum`` split the
gradient in half, and ``clamp`` passes it inside ``[min, max]`` inclusive, both
as PyTorch does.
"""

from __future__ import annotations

from typing import Any

from deepgrad import dtypes
from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.ops._registry import Arg, OpCase, declare, tensor_method
from deepgrad.ops._util import as_operand, shape_of
from deepgrad.ops.arithmetic import promote
from deepgrad.tensor import Tensor, check_inplace_dtype, value_of


def _cast(x: Any, target: dtypes.dtype) -> Any:
    """A tensor in ``target`` dtype (differentiably); numbers and None pass through."""
    if isinstance(x, Tensor) and x.array.dtype != target.np:
        return x.to(target)
    return x


def masked_grad(mask: Any, grad: Tensor) -> Tensor:
    """``grad`` where ``mask`` (a constant bool array) holds, else 0: the backward of a
    selection, itself differentiable. Skips ``where``'s argument handling (a hot path)."""
    return Where.apply(Tensor(xp.asarray(mask)), grad, 0, grad.dtype)


def _masked(mask: Any, grad: Tensor, shape: tuple) -> Tensor:
    return masked_grad(mask, grad).sum_to_size(shape)


# where(mask, values, 0) on float arrays as a bitwise AND with an all-ones / all-zeros mask:
# bit-identical to where (NaN and inf included; +0.0 where not kept), and ~15x faster on the
# random masks of ReLU/max-pool backward, where where's per-element branch mispredicts.
_INT_OF = {xp.dtype(xp.float32): xp.int32, xp.dtype(xp.float64): xp.int64}


def _is_plus_zero(v: Any) -> bool:
    return type(v) in (int, float) and v == 0 and str(v)[0] != "-"


def _zero_selectable(cond: Any, values: Any, dtype: Any) -> bool:
    return (type(values) is xp.ndarray and values.ndim > 0 and values.dtype in _INT_OF
            and values.dtype == dtype.np and cond.dtype == xp.bool_ and cond.shape == values.shape)


def _keep_or_zero(cond: Any, values: Any, keep_where: bool) -> Any:
    """``where(cond, values, 0)`` (``where(cond, 0, values)`` if not ``keep_where``), new array."""
    ints = _INT_OF[values.dtype]
    c = cond.view(xp.int8)
    mask = xp.negative(c, dtype=ints) if keep_where else xp.subtract(c, 1, dtype=ints)
    xp.bitwise_and(values.view(ints), mask, out=mask)
    return mask.view(values.dtype)


def keep_where(cond: Any, values: Any) -> Any:
    """``where(cond, values, 0)`` as a new array of values' dtype; ``cond`` is a bool array
    of values' shape."""
    if values.dtype in _INT_OF and values.ndim > 0:
        return _keep_or_zero(cond, values, keep_where=True)
    return xp.asarray(xp.where(cond, values, 0), dtype=values.dtype)


# --- where ---------------------------------------------------------------------------
class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b, dtype):
        ctx.condition = condition
        ctx.shapes = (shape_of(a), shape_of(b))
        cond, va, vb = condition.array, value_of(a), value_of(b)
        if _is_plus_zero(vb) and _zero_selectable(cond, va, dtype):  # masked_grad's case
            return _keep_or_zero(cond, va, keep_where=True)
        if _is_plus_zero(va) and _zero_selectable(cond, vb, dtype):
            return _keep_or_zero(cond, vb, keep_where=False)
        out = xp.where(cond, va, vb)
        return out if out.dtype == dtype.np else out.astype(dtype.np)

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad[1:3]
        cond, dtype = ctx.condition, grad.dtype
        grad_a = Where.apply(cond, grad, 0, dtype).sum_to_size(ctx.shapes[0]) if need_a else None
        grad_b = Where.apply(cond, 0, grad, dtype).sum_to_size(ctx.shapes[1]) if need_b else None
        return None, grad_a, grad_b, None


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """``input`` where ``condition`` holds, else ``other``, broadcasting all three.

    ``condition`` is a bool tensor; ``input`` and ``other`` are tensors or numbers
    and are promoted to a common dtype as in PyTorch. Gradients flow to the picked
    operand. ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.
    """
    condition = as_operand(condition)
    if not isinstance(condition, Tensor):
        condition = Tensor(xp.asarray(condition))
    if condition.array.dtype.kind != "b":
        raise TypeError(
            f"where: expected condition to be a bool tensor, got dtype {condition.dtype} "
            f"(shape {tuple(condition.shape)}); pass a comparison such as x > 0, or x.bool()"
        )
    if input is None and other is None:
        return tuple(Tensor(i) for i in xp.nonzero(xp.atleast_1d(condition.array)))
    if input is None or other is None:
        raise TypeError("where: pass both input and other, or neither (for the indices of True)")
    a, b = as_operand(input), as_operand(other)
    target = dtypes.result_type(a, b)
    return Where.apply(condition, _cast(a, target), _cast(b, target), target)


def _where_method(self: Tensor, condition: Any, other: Any) -> Tensor:
    """``x.where(condition, y)``: ``x`` where ``condition`` holds, else ``y``."""
    return where(condition, self, other)


_where_method.__name__ = "where"
Tensor.where = _where_method


# --- maximum and minimum -----------------------------------------------------------
def _split_weights(a: Any, b: Any, loses: Any, dtype: Any) -> Any:
    """1 where this operand is picked, 1/2 on ties, 0 where it loses (PyTorch's split)."""
    w = xp.asarray(xp.equal(a, b)).astype(dtype)  # an array also for 0-d operands
    w *= -0.5
    w += 1
    w -= loses(a, b)
    return w


class _Extremum(Function):
    pick: Any = None          # xp.maximum or xp.minimum
    a_loses: Any = None       # where the first operand is not picked
    b_loses: Any = None

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return cls.pick(value_of(a), value_of(b))

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        va, vb, dtype = value_of(a), value_of(b), grad.array.dtype
        grad_a = grad_b = None
        if need_a:
            grad_a = (grad * Tensor(_split_weights(va, vb, cls.a_loses, dtype))).sum_to_size(a.shape)
        if need_b:
            grad_b = (grad * Tensor(_split_weights(va, vb, cls.b_loses, dtype))).sum_to_size(b.shape)
        return grad_a, grad_b


class Maximum(_Extremum):
    pick, a_loses, b_loses = xp.maximum, xp.less, xp.greater


class Minimum(_Extremum):
    pick, a_loses, b_loses = xp.minimum, xp.greater, xp.less


@tensor_method()
def maximum(input: Tensor, other: Any) -> Tensor:
    """Elementwise larger of two tensors (nan if either is nan); ties split the gradient."""
    return Maximum.apply(*promote(input, other))


@tensor_method()
def minimum(input: Tensor, other: Any) -> Tensor:
    """Elementwise smaller of two tensors (nan if either is nan); ties split the gradient."""
    return Minimum.apply(*promote(input, other))


# --- clamp ---------------------------------------------------------------------------
class Clamp(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x, lo, hi)
        return xp.clip(x.array, value_of(lo), value_of(hi))

    @staticmethod
    def backward(ctx, grad):
        x, lo, hi = ctx.saved_tensors
        need_x, need_lo, need_hi = ctx.needs_input_grad
        vx, vlo, vhi = x.array, value_of(lo), value_of(hi)
        grad_x = grad_lo = grad_hi = None
        if need_x:  # inside [lo, hi], ends included
            if lo is None:
                inside = vx <= vhi
            else:
                inside = vx >= vlo
                if hi is not None:
                    inside &= vx <= vhi
            grad_x = _masked(inside, grad, x.shape)
        if need_lo:  # below lo, unless lo > hi (then hi wins everywhere)
            below = vx < vlo
            if hi is not None:
                below &= vlo < vhi
            grad_lo = _masked(below, grad, lo.shape)
        if need_hi:
            above = vx > vhi
            if lo is not None:
                above |= vhi < vlo
            grad_hi = _masked(above, grad, hi.shape)
        return grad_x, grad_lo, grad_hi


def _clamp_operands(op: str, input: Tensor, min: Any, max: Any) -> tuple:
    if min is None and max is None:
        raise ValueError(f"{op}: at least one of 'min' or 'max' must not be None")
    lo, hi = as_operand(min) if min is not None else None, as_operand(max) if max is not None else None
    target = dtypes.result_type(*(v for v in (input, lo, hi) if v is not None))
    return target, lo, hi


@tensor_method()
def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit every element to ``[min, max]`` (numbers or broadcastable tensors; either may
    be None). Where ``min > max`` the result is ``max``. Promotes dtypes as PyTorch."""
    target, lo, hi = _clamp_operands("clamp", input, min, max)
    return Clamp.apply(_cast(input, target), _cast(lo, target), _cast(hi, target))


@tensor_method()
def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002
    """``clamp(input, min=min)``."""
    return clamp(input, min, None)


@tensor_method()
def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002
    """``clamp(input, max=max)``."""
    return clamp(input, None, max)


clip = clamp
Tensor.clip = clamp


@tensor_method()
def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """In-place ``clamp``: written straight into the storage when no graph is recorded."""
    target, lo, hi = _clamp_operands("clamp_", self, min, max)
    recording = is_grad_enabled() and any(
        isinstance(v, Tensor) and v.requires_grad for v in (self, lo, hi)
    )
    if recording:  # clamp's backward reads its input, so it gets a copy that stays unchanged
        return self._replace_inplace(clamp(self.clone(), lo, hi), "clamp_")
    check_inplace_dtype("clamp_", target.np, self.array.dtype)
    xp.clip(self.array, value_of(lo), value_of(hi), out=self.array)
    return self._bump_version()


Tensor.clip_ = clamp_
Tensor.clamp_min_ = lambda self, min: clamp_(self, min, None)  # noqa: A006
Tensor.clamp_max_ = lambda self, max: clamp_(self, None, max)  # noqa: A006


# --- declared test cases ---------------------------------------------------------
_BOOL = dict(kind="bool")
declare(
    OpCase("where", lambda c, a, b: a.where(c, b), [Arg((3, 4), **_BOOL), (3, 4), (3, 4)],
           ref=lambda c, a, b: xp.where(c, a, b), label="method"),
    OpCase("where", lambda c, a, b: a.where(c, b), [Arg((2, 1, 4), **_BOOL), (3, 1), (4,)],
           ref=lambda c, a, b: xp.where(c, a, b), label="broadcast"),
    OpCase("where", lambda c, a: a.where(c, 0.5), [Arg((3,), **_BOOL), (2, 3)],
           ref=lambda c, a: xp.where(c, a, 0.5), label="scalar-other"),
    OpCase("where", lambda c, a: (-a).where(c, a), [Arg((), **_BOOL), ()],
           ref=lambda c, a: xp.where(c, -a, a), label="0d"),
    OpCase("where", lambda c, a: a.where(c, 2), [Arg((4,), **_BOOL), Arg((4,), 0, 5, "int")],
           ref=lambda c, a: xp.where(c, a, 2), grad=False, label="int"),
    OpCase("where", lambda c, a: a.where(c, 2.5), [Arg((4,), **_BOOL), Arg((4,), 0, 5, "int")],
           ref=lambda c, a: xp.where(c, a, 2.5), grad=False, label="int-float"),
    OpCase("maximum", lambda a, b: a.maximum(b), [(3, 4), (3, 4)], ref=xp.maximum),
    OpCase("maximum", lambda a, b: a.maximum(b), [(2, 3, 1), (4,)], ref=xp.maximum,
           label="broadcast"),
    OpCase("maximum", lambda a, b: a.maximum(b), [(), (3,)], ref=xp.maximum, label="0d"),
    OpCase("maximum", lambda a: a.maximum(a), [(3, 2)], ref=lambda a: a, label="ties"),
    OpCase("maximum", lambda a, b: a.maximum(b), [Arg((5,), 0, 3, "int"), Arg((5,), 0, 3, "int")],
           ref=xp.maximum, grad=False, label="int"),
    OpCase("minimum", lambda a, b: a.minimum(b), [(3, 4), (3, 4)], ref=xp.minimum),
    OpCase("minimum", lambda a, b: a.minimum(b), [(4, 1), (1, 3)], ref=xp.minimum,
           label="broadcast"),
    OpCase("minimum", lambda a: a.minimum(a), [(4,)], ref=lambda a: a, label="ties"),
    OpCase("clamp", lambda x: x.clamp(-1.0, 1.0), [(3, 4)], ref=lambda x: xp.clip(x, -1, 1)),
    OpCase("clamp", lambda x: x.clamp(min=-0.5), [(2, 3)], ref=lambda x: xp.maximum(x, -0.5),
           label="min"),
    OpCase("clamp", lambda x: x.clamp(max=0.25), [()], ref=lambda x: xp.minimum(x, 0.25),
           label="0d,max"),
    OpCase("clamp", lambda x, lo, hi: x.clamp(lo, hi), [(3, 4), Arg((4,), -2, 0), Arg((3, 1), 0, 2)],
           ref=xp.clip, label="tensors"),
    OpCase("clamp", lambda x, lo: x.clamp(min=lo), [(2, 3), (2, 1)], ref=xp.maximum,
           label="tensor-min"),
    OpCase("clamp", lambda x, hi: x.clamp(max=hi), [(2, 3), (3,)], ref=xp.minimum,
           label="tensor-max"),
    OpCase("clamp", lambda x, lo, hi: x.clamp(lo, hi), [(5,), Arg((5,), 0.5, 1), Arg((5,), -1, 0)],
           ref=lambda x, lo, hi: hi, label="min>max"),
    OpCase("clamp", lambda x: x.clamp(1, 3), [Arg((6,), 0, 5, "int")],
           ref=lambda x: xp.clip(x, 1, 3), grad=False, label="int"),
    OpCase("clamp", lambda x: x.clamp(min=1.5), [Arg((6,), 0, 5, "int")],
           ref=lambda x: xp.maximum(x, 1.5), grad=False, label="int,float-min"),
    OpCase("clip", lambda x: x.clip(-1.0, 0.5), [(3, 4)], ref=lambda x: xp.clip(x, -1, 0.5)),
    OpCase("clamp_", lambda x: (x * 1).clamp_(-1.0, 1.0), [(3, 4)],
           ref=lambda x: xp.clip(x, -1, 1)),
    OpCase("clamp_min", lambda x: x.clamp_min(0.5), [(3,)], ref=lambda x: xp.maximum(x, 0.5)),
    OpCase("clamp_max", lambda x: x.clamp_max(0.5), [(3,)], ref=lambda x: xp.minimum(x, 0.5)),
)

__all__ = ["where", "maximum", "minimum", "clamp", "clamp_min", "clamp_max", "clip"]

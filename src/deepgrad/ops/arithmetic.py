"""Arithmetic: + - * / ** and their in-place forms, with PyTorch's type promotion.

Broadcasting happens in the forward pass (NumPy's rules, the same as PyTorch's);
backward sums each gradient back to its input's shape with ``sum_to_size``.
Floor division and remainder have no gradient, as the issue asks.
"""

from __future__ import annotations

from typing import Any, Callable

from deepgrad import dtypes
from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.ops._registry import Arg, OpCase, declare, tensor_method
from deepgrad.ops._util import as_operand, shape_of
from deepgrad.tensor import Tensor, check_inplace_dtype, value_of


def promote(a: Any, b: Any, *, to_float: bool = False) -> tuple[Any, Any]:
    """Both operands in the dtype PyTorch gives their result (tensors cast, scalars kept)."""
    # The common cases first: same-dtype tensors, or a float tensor and a Python number.
    if isinstance(a, Tensor):
        kind = a.array.dtype.kind
        if isinstance(b, Tensor):
            if a.array.dtype == b.array.dtype and (kind == "f" or not to_float):
                return a, b
        elif kind == "f" and type(b) in (int, float):
            return a, b
    elif isinstance(b, Tensor) and b.array.dtype.kind == "f" and type(a) in (int, float):
        return a, b
    a, b = as_operand(a), as_operand(b)
    target = dtypes.result_type(a, b)
    if to_float and not target.is_floating_point:
        target = dtypes.get_default_dtype()
    if isinstance(a, Tensor) and a.array.dtype != target.np:
        a = a.to(target)
    if isinstance(b, Tensor) and b.array.dtype != target.np:
        b = b.to(target)
    return a, b


def _reduce_grad(grad: Tensor, needed: bool, shape: tuple) -> Tensor | None:
    return grad.sum_to_size(shape) if needed else None


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (shape_of(a), shape_of(b))
        return value_of(a) + value_of(b)

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad
        return _reduce_grad(grad, need_a, ctx.shapes[0]), _reduce_grad(grad, need_b, ctx.shapes[1])


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (shape_of(a), shape_of(b))
        return value_of(a) - value_of(b)

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad
        return _reduce_grad(grad, need_a, ctx.shapes[0]), _reduce_grad(-grad, need_b, ctx.shapes[1])


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        # Each gradient needs only the other operand: saving no more keeps x[:, 1] *= 3
        # style in-place updates legal, as in PyTorch.
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.shapes = (shape_of(a), shape_of(b))
        return value_of(a) * value_of(b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (_reduce_grad(grad * b, need_a, ctx.shapes[0]) if need_a else None,
                _reduce_grad(grad * a, need_b, ctx.shapes[1]) if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = value_of(a) / value_of(b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad / b if need_a else None
        grad_b = -grad * out / b if need_b else None
        return _reduce_grad(grad_a, need_a, shape_of(a)), _reduce_grad(grad_b, need_b, shape_of(b))


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a.array

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Function):
    @staticmethod
    def forward(ctx, base, exponent):
        out = value_of(base) ** value_of(exponent)
        ctx.save_for_backward(base, exponent, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        base, exponent, out = ctx.saved_tensors
        need_base, need_exp = ctx.needs_input_grad
        grad_base = grad_exp = None
        if need_base:
            if isinstance(exponent, Tensor) or exponent not in (0, 1, 2):
                grad_base = grad * exponent * base ** (exponent - 1)
            elif exponent == 2:
                grad_base = grad * 2 * base
            elif exponent == 1:
                grad_base = grad
            else:
                grad_base = grad * 0
            grad_base = grad_base.sum_to_size(base.shape)
        if need_exp:
            # d(b^e)/de = b^e log b; where b == 0 the limit (for e > 0) is 0, as in PyTorch.
            if isinstance(base, Tensor):
                log_base = base.where(base != 0, 1).log()
            else:
                log_base = float(xp.log(base)) if base != 0 else 0.0
            grad_exp = (grad * out * log_base).sum_to_size(exponent.shape)
        return grad_base, grad_exp


# --- public functions ------------------------------------------------------------
@tensor_method()
def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other``, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(*promote(input, other))


@tensor_method()
def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other``, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Sub.apply(*promote(input, other))


@tensor_method()
def mul(input: Any, other: Any) -> Tensor:
    return Mul.apply(*promote(input, other))


@tensor_method()
def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give floats); ``rounding_mode='floor'|'trunc'`` has no gradient."""
    if rounding_mode is None:
        return Div.apply(*promote(input, other, to_float=True))
    a, b = promote(input, other)
    if rounding_mode == "floor":
        return Tensor(xp.asarray(value_of(a) // value_of(b)))
    if rounding_mode == "trunc":
        q = value_of(a) / value_of(b)
        return Tensor(xp.asarray(xp.trunc(q).astype(xp.result_type(value_of(a), value_of(b)))))
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


@tensor_method()
def neg(input: Tensor) -> Tensor:
    return Neg.apply(input)


@tensor_method()
def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """``input ** exponent``: either side may be a tensor or a number."""
    return Pow.apply(*promote(input, exponent))


@tensor_method()
def floor_divide(input: Any, other: Any) -> Tensor:
    """Division rounded toward minus infinity (no gradient)."""
    return div(input, other, rounding_mode="floor")


@tensor_method()
def remainder(input: Any, other: Any) -> Tensor:
    """Python's modulus, with the sign of the divisor (no gradient)."""
    a, b = promote(input, other)
    return Tensor(xp.asarray(value_of(a) % value_of(b)))


true_divide = divide = div
subtract, multiply, negative = sub, mul, neg


def _reflected(fn: Callable) -> Callable:
    return lambda self, other: fn(other, self)


Tensor.__add__ = add
Tensor.__radd__ = _reflected(add)
Tensor.__sub__ = sub
Tensor.__rsub__ = _reflected(sub)
Tensor.__mul__ = mul
Tensor.__rmul__ = _reflected(mul)
Tensor.__truediv__ = div
Tensor.__rtruediv__ = _reflected(div)
Tensor.__floordiv__ = floor_divide
Tensor.__rfloordiv__ = _reflected(floor_divide)
Tensor.__mod__ = remainder
Tensor.__rmod__ = _reflected(remainder)
Tensor.__pow__ = pow
Tensor.__rpow__ = _reflected(pow)
Tensor.__neg__ = neg
Tensor.__pos__ = lambda self: self


# --- in place ----------------------------------------------------------------------
def inplace(name: str, out_of_place: Callable, ufunc: Callable | None = None) -> Callable:
    """Build ``x.name_(...)``: out of place then written back when a graph is recorded,
    straight into the storage (``ufunc(..., out=)``) when it is not."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        recording = is_grad_enabled() and (
            self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
        )
        if recording:
            return self._replace_inplace(out_of_place(self._snapshot(), *args, **kwargs), name)
        if ufunc is None or kwargs:
            return self._replace_inplace(out_of_place(self, *args, **kwargs), name)
        other = as_operand(args[0])
        result = dtypes.result_type(self, other)
        if name == "div_" and not result.is_floating_point:
            result = dtypes.get_default_dtype()
        check_inplace_dtype(name, result.np, self.array.dtype)
        ufunc(self.array, value_of(other), out=self.array, casting="same_kind")
        return self._bump_version()

    method.__name__ = name
    method.__doc__ = f"In-place ``{out_of_place.__name__}``."
    return method


Tensor.add_ = Tensor.__iadd__ = inplace("add_", add, xp.add)
Tensor.sub_ = Tensor.__isub__ = inplace("sub_", sub, xp.subtract)
Tensor.mul_ = Tensor.__imul__ = inplace("mul_", mul, xp.multiply)
Tensor.div_ = Tensor.__itruediv__ = inplace("div_", div, xp.true_divide)
Tensor.pow_ = Tensor.__ipow__ = inplace("pow_", pow, xp.power)
Tensor.neg_ = inplace("neg_", neg)


@tensor_method()
def zero_(self: Tensor) -> Tensor:
    """Fill with zeros, in place."""
    return fill_(self, 0)


@tensor_method()
def fill_(self: Tensor, value: Any) -> Tensor:
    """Fill with ``value`` (a number or a 0-d tensor), in place."""
    return _overwrite(self, as_operand(value), "fill_")


@tensor_method()
def copy_(self: Tensor, src: Any) -> Tensor:
    """Copy ``src`` (broadcast to this shape) into this tensor; gradients flow to ``src``."""
    return _overwrite(self, as_operand(src), "copy_")


def _overwrite(self: Tensor, value: Any, op: str) -> Tensor:
    """Replace every element. In a graph, the old value stays connected with a zero
    gradient (``where`` with an all-false condition), as PyTorch's fill_ and copy_."""
    if is_grad_enabled() and (self.requires_grad or getattr(value, "requires_grad", False)):
        keep_none = Tensor(xp.zeros(self.shape, dtype=bool))
        if isinstance(value, Tensor):
            value = value.to(self.dtype)
        return self._replace_inplace(self._snapshot().where(keep_none, value), op)
    self.array[...] = value_of(value)
    return self._bump_version()


# --- declared test cases ---------------------------------------------------------
_POSITIVE = dict(low=0.5, high=2.0)
declare(
    OpCase("add", lambda a, b: a + b, [(3, 4), (3, 4)], ref=lambda a, b: a + b),
    OpCase("add", lambda a, b: a.add(b, alpha=2), [(2, 3, 4), (4,)], ref=lambda a, b: a + 2 * b,
           label="broadcast,alpha"),
    OpCase("add", lambda a: 3 + a, [(3,)], ref=lambda a: 3 + a, label="scalar"),
    OpCase("sub", lambda a, b: a - b, [(4, 1), (1, 5)], ref=lambda a, b: a - b),
    OpCase("sub", lambda a: 1.5 - a, [(2, 3)], ref=lambda a: 1.5 - a, label="rsub"),
    OpCase("mul", lambda a, b: a * b, [(2, 3, 4), (3, 1)], ref=lambda a, b: a * b),
    OpCase("mul", lambda a, b: a * b, [(), (2, 3)], ref=lambda a, b: a * b, label="0d"),
    OpCase("div", lambda a, b: a / b, [(3, 4), Arg((4,), 0.5, 2.0)], ref=lambda a, b: a / b),
    OpCase("div", lambda a: 2.0 / a, [(3,)], ref=lambda a: 2.0 / a, label="rdiv", **_POSITIVE),
    OpCase("neg", lambda a: -a, [(2, 3)], ref=lambda a: -a),
    OpCase("pow", lambda a: a ** 3, [(2, 3)], ref=lambda a: a ** 3, label="cube"),
    OpCase("pow", lambda a: a ** 2.5, [(2, 3)], ref=lambda a: a ** 2.5, label="float-exp",
           **_POSITIVE),
    OpCase("pow", lambda a, b: a ** b, [Arg((2, 3), 0.5, 2.0), Arg((3,), -1.0, 1.0)],
           ref=lambda a, b: a ** b, label="tensor-exp"),
    OpCase("pow", lambda a: 2.0 ** a, [(4,)], ref=lambda a: 2.0 ** a, label="rpow"),
    # In-place forms on a non-leaf (x * 1): the graph must continue through the change.
    OpCase("add_", lambda a, b: (a * 1).add_(b, alpha=2), [(3, 4), (4,)], ref=lambda a, b: a + 2 * b),
    OpCase("sub_", lambda a, b: (a * 1).sub_(b), [(3, 4), (3, 1)], ref=lambda a, b: a - b),
    OpCase("mul_", lambda a, b: (a * 1).mul_(b), [(3, 4), (4,)], ref=lambda a, b: a * b),
    OpCase("div_", lambda a, b: (a * 1).div_(b), [(3, 4), Arg((4,), 0.5, 2.0)],
           ref=lambda a, b: a / b),
    OpCase("zero_", lambda a, b: (a * b).zero_() + b, [(3, 4), (3, 4)], ref=lambda a, b: b),
    OpCase("fill_", lambda a: (a * 1).fill_(2.5), [(3,)], ref=lambda a: a * 0 + 2.5),
    OpCase("copy_", lambda a, b: (a * 1).copy_(b), [(2, 3), (3,)],
           ref=lambda a, b: a * 0 + b),
    OpCase("floor_divide", lambda a, b: a // b, [(3, 4), Arg((4,), 0.5, 2.0)],
           ref=lambda a, b: a // b, grad=False),
    OpCase("remainder", lambda a, b: a % b, [(3, 4), Arg((4,), 0.5, 2.0)],
           ref=lambda a, b: a % b, grad=False),
)

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "neg",
    "negative", "pow", "floor_divide", "remainder", "promote",
]

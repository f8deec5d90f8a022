"""Elementwise functions of one tensor: exp, log, sqrt, tanh, sigmoid, relu, erf, ...

Each saves what its derivative needs: ``exp``, ``sqrt``, ``tanh`` and ``sigmoid``
their output, ``log`` and ``sin`` their input. Masks (``relu``, ``abs``) are
rebuilt in backward from the saved array: their derivative is zero, so a
constant is exact for double backward too.

Integer and boolean inputs of the transcendental functions become the default
float dtype first, as in PyTorch; ``abs``, ``sign``, ``relu`` and ``square``
keep integers.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import erf as _erf_array
from deepgrad.backend import xp
from deepgrad.ops._registry import Arg, OpCase, declare, tensor_method
from deepgrad.ops.arithmetic import pow as _pow
from deepgrad.ops.select import keep_where, masked_grad
from deepgrad.tensor import Tensor


def _float(x: Tensor) -> Tensor:
    """Integer tensors become the default float dtype first, as in PyTorch's exp, log, ..."""
    return x if x.array.dtype.kind == "f" else x.float()


# --- exponentials and logarithms --------------------------------------------------
class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp.exp(x.array)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class Expm1(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp.expm1(x.array)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (y + 1)


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.log(x.array)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Log1p(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.log1p(x.array)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (x + 1)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp.sqrt(x.array)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad / (y * 2)


class Rsqrt(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp.sqrt(x.array, out=xp.empty_like(x.array))  # out=: an array also for 0-d
        xp.reciprocal(y, out=y)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (y * y * y) * -0.5  # d(x^-1/2)/dx = -x^-3/2 / 2


class Reciprocal(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp.reciprocal(x.array)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return -grad * (y * y)


# --- sign and magnitude ---------------------------------------------------------------
def _sign_array(a: Any) -> Any:
    """PyTorch's sign: (0 < a) - (a < 0), so sign(nan) is 0 (NumPy gives nan)."""
    if a.dtype.kind == "b":
        return a.copy()
    if a.dtype.kind != "f":
        return xp.asarray(xp.sign(a))
    out = xp.asarray(xp.greater(a, 0)).astype(a.dtype)
    out -= xp.less(a, 0)
    return out


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.abs(x.array)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.sign()


class Sign(Function):
    @staticmethod
    def forward(ctx, x):
        return _sign_array(x.array)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0  # zero almost everywhere, as PyTorch gives


class Relu(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp.maximum(x.array, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return ReluGrad.apply(grad, y)


class ReluGrad(Function):
    """``grad`` where ``y > 0``, else 0, in one op (PyTorch's threshold_backward). As in
    PyTorch it is a function of ``y`` too, with derivative zero."""

    @staticmethod
    def forward(ctx, grad, y):
        ctx.positive = y.array > 0
        return keep_where(ctx.positive, grad.array)

    @staticmethod
    def backward(ctx, gg):
        need_grad, need_y = ctx.needs_input_grad
        grad_grad = masked_grad(ctx.positive, gg) if need_grad else None
        grad_y = Tensor(xp.zeros(ctx.positive.shape, dtype=gg.array.dtype)) if need_y else None
        return grad_grad, grad_y


# --- trigonometric and hyperbolic ------------------------------------------------------
class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.sin(x.array)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.cos()


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.cos(x.array)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * -x.sin()


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp.tanh(x.array)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return TanhGrad.apply(grad, y)


class _SlopeOfOutput(Function):
    """``grad * slope(y)`` for an op whose derivative is a function of its output ``y``, in
    one op (PyTorch's tanh_backward and sigmoid_backward): three ops' worth of Python
    overhead saved in every such backward. Differentiable in both arguments."""

    @staticmethod
    def slope(a: Any) -> Any:
        """The derivative from the output array, as a new array (also for 0-d input)."""
        raise NotImplementedError

    @staticmethod
    def slope_derivative(y: Tensor) -> Tensor:
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, grad, y):
        ctx.save_for_backward(grad, y)
        slope = cls.slope(y.array)
        slope *= grad.array
        return slope

    @classmethod
    def backward(cls, ctx, gg):
        grad, y = ctx.saved_tensors
        need_grad, need_y = ctx.needs_input_grad
        return (cls.apply(gg, y) if need_grad else None,
                gg * grad * cls.slope_derivative(y) if need_y else None)


class TanhGrad(_SlopeOfOutput):
    @staticmethod
    def slope(a):  # 1 - y^2
        s = xp.multiply(a, a, out=xp.empty_like(a))
        return xp.subtract(1, s, out=s)

    @staticmethod
    def slope_derivative(y):
        return y * -2


def _sigmoid_array(a: Any) -> Any:
    """exp(min(a, 0)) / (1 + exp(-|a|)): no overflow, full relative precision in both tails."""
    num = xp.minimum(a, 0, out=xp.empty_like(a))  # out=: arrays also for 0-d input
    xp.exp(num, out=num)
    den = xp.abs(a, out=xp.empty_like(a))
    xp.negative(den, out=den)
    xp.exp(den, out=den)
    den += 1
    num /= den
    return num


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        y = _sigmoid_array(x.array)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return SigmoidGrad.apply(grad, y)


class SigmoidGrad(_SlopeOfOutput):
    @staticmethod
    def slope(a):  # y (1 - y)
        s = xp.subtract(1, a, out=xp.empty_like(a))
        s *= a
        return s

    @staticmethod
    def slope_derivative(y):
        return 1 - 2 * y


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _erf_array(x.array)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ((x * x).neg().exp() * _TWO_OVER_SQRT_PI)


# --- public functions ------------------------------------------------------------
@tensor_method()
def exp(input: Tensor) -> Tensor:
    """``e ** input``, elementwise."""
    return Exp.apply(_float(input))


@tensor_method()
def expm1(input: Tensor) -> Tensor:
    """``exp(input) - 1``, accurate near 0."""
    return Expm1.apply(_float(input))


@tensor_method()
def log(input: Tensor) -> Tensor:
    """Natural logarithm (nan below 0, -inf at 0, as PyTorch)."""
    return Log.apply(_float(input))


@tensor_method()
def log1p(input: Tensor) -> Tensor:
    """``log(1 + input)``, accurate near 0."""
    return Log1p.apply(_float(input))


@tensor_method()
def sqrt(input: Tensor) -> Tensor:
    """Square root, elementwise."""
    return Sqrt.apply(_float(input))


@tensor_method()
def rsqrt(input: Tensor) -> Tensor:
    """``1 / sqrt(input)``, elementwise."""
    return Rsqrt.apply(_float(input))


@tensor_method()
def reciprocal(input: Tensor) -> Tensor:
    """``1 / input``, elementwise (integers give floats)."""
    return Reciprocal.apply(_float(input))


@tensor_method()
def abs(input: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    """Absolute value; keeps integer dtypes. The gradient at 0 is 0, as in PyTorch."""
    if input.array.dtype.kind == "b":
        raise TypeError("abs: not implemented for bool tensors; convert first, e.g. x.long().abs()")
    return Abs.apply(input)


@tensor_method()
def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each element (0 for nan); its gradient is zero."""
    return Sign.apply(input)


@tensor_method()
def relu(input: Tensor) -> Tensor:
    """``max(input, 0)``; keeps integer dtypes. The gradient at 0 is 0."""
    if input.array.dtype.kind == "b":
        raise TypeError("relu: not implemented for bool tensors; convert first, e.g. x.float()")
    return Relu.apply(input)


@tensor_method()
def square(input: Tensor) -> Tensor:
    """``input * input``; integers (and booleans) give int64, as in PyTorch."""
    if input.array.dtype.kind == "b":
        input = input.long()
    return _pow(input, 2)


@tensor_method()
def sin(input: Tensor) -> Tensor:
    """Sine (radians), elementwise."""
    return Sin.apply(_float(input))


@tensor_method()
def cos(input: Tensor) -> Tensor:
    """Cosine (radians), elementwise."""
    return Cos.apply(_float(input))


@tensor_method()
def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent, elementwise."""
    return Tanh.apply(_float(input))


@tensor_method()
def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-input))``, computed without overflow for large ``|input|``."""
    return Sigmoid.apply(_float(input))


@tensor_method()
def erf(input: Tensor) -> Tensor:
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, elementwise."""
    return Erf.apply(_float(input))


absolute = abs
Tensor.absolute = abs
Tensor.__abs__ = abs


# --- in place ------------------------------------------------------------------------
def _inplace(name: str, out_of_place: Callable, direct: Callable | None = None,
             kinds: str = "f") -> Callable:
    """``x.name_()``: with no graph to record and a dtype in ``kinds``, ``direct(array)``
    writes into the storage; otherwise the out-of-place result is written back."""

    def method(self: Tensor) -> Tensor:
        if direct is not None and self.array.dtype.kind in kinds and not (
            self.requires_grad and is_grad_enabled()
        ):
            direct(self.array)
            return self._bump_version()
        return self._replace_inplace(out_of_place(self), name)

    method.__name__ = name
    method.__doc__ = f"In-place ``{out_of_place.__name__}`` (only ops whose backward needs their output)."
    return method


def _write_back(fn: Callable) -> Callable:
    def direct(a: Any) -> None:
        a[...] = fn(a)

    return direct


Tensor.exp_ = _inplace("exp_", exp, lambda a: xp.exp(a, out=a))
Tensor.expm1_ = _inplace("expm1_", expm1, lambda a: xp.expm1(a, out=a))
Tensor.sqrt_ = _inplace("sqrt_", sqrt, lambda a: xp.sqrt(a, out=a))
Tensor.rsqrt_ = _inplace("rsqrt_", rsqrt, lambda a: xp.reciprocal(xp.sqrt(a, out=a), out=a))
Tensor.reciprocal_ = _inplace("reciprocal_", reciprocal, lambda a: xp.reciprocal(a, out=a))
Tensor.tanh_ = _inplace("tanh_", tanh, lambda a: xp.tanh(a, out=a))
Tensor.sigmoid_ = _inplace("sigmoid_", sigmoid, _write_back(_sigmoid_array))
Tensor.relu_ = _inplace("relu_", relu, lambda a: xp.maximum(a, 0, out=a), kinds="fiu")


# --- declared test cases ---------------------------------------------------------
_POS = dict(low=0.5, high=2.0)


def _np_sign(a: Any) -> Any:
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


def _np_erf(a: Any) -> Any:
    return xp.vectorize(math.erf, otypes=[xp.float64])(a)


_UNARY = [
    # name, reference, domain
    ("exp", xp.exp, {}),
    ("expm1", xp.expm1, {}),
    ("log", xp.log, _POS),
    ("log1p", xp.log1p, dict(low=-0.5, high=2.0)),
    ("sqrt", xp.sqrt, _POS),
    ("rsqrt", lambda a: 1 / xp.sqrt(a), _POS),
    ("reciprocal", lambda a: 1 / a, _POS),
    ("abs", xp.abs, {}),
    ("sign", _np_sign, {}),
    ("relu", lambda a: xp.maximum(a, 0), {}),
    ("square", lambda a: a * a, {}),
    ("sin", xp.sin, dict(low=-3.0, high=3.0)),
    ("cos", xp.cos, dict(low=-3.0, high=3.0)),
    ("tanh", xp.tanh, {}),
    ("sigmoid", lambda a: 1 / (1 + xp.exp(-a)), dict(low=-4.0, high=4.0)),
    ("erf", _np_erf, {}),
]


def _method(name: str) -> Callable:
    return lambda x: getattr(x, name)()


for _name, _ref, _domain in _UNARY:
    declare(
        OpCase(_name, _method(_name), [(3, 4)], ref=_ref, **_domain),
        OpCase(_name, _method(_name), [()], ref=_ref, label="0d", **_domain),
        OpCase(_name, _method(_name), [(2, 1, 3)], ref=_ref, label="3d", **_domain),
    )

# Integer inputs: transcendental functions give float32, the others keep int64.
for _name in ("exp", "log", "sqrt", "sigmoid", "tanh", "sin", "reciprocal", "erf", "abs", "sign",
              "relu", "square"):
    _ref = dict((n, r) for n, r, _ in _UNARY)[_name]
    declare(OpCase(_name, _method(_name), [Arg((5,), 1, 4, "int")], grad=False, label="int",
                   ref=_ref))

declare(
    OpCase("abs", lambda x: x.__abs__(), [(2, 3)], ref=xp.abs, label="__abs__"),
    OpCase("sigmoid", lambda x: (x * 100).sigmoid(), [(6,)], label="tails",
           ref=lambda a: 1 / (1 + xp.exp(-100 * a))),
    OpCase("relu_", lambda x: (x * 1).relu_(), [(3, 4)], ref=lambda a: xp.maximum(a, 0)),
    OpCase("sigmoid_", lambda x: (x * 1).sigmoid_(), [(3, 4)], ref=lambda a: 1 / (1 + xp.exp(-a))),
    OpCase("tanh_", lambda x: (x + 0).tanh_(), [(3,)], ref=xp.tanh),
    OpCase("exp_", lambda x: (x + 0).exp_(), [(3,)], ref=xp.exp),
    OpCase("sqrt_", lambda x: (x + 0).sqrt_(), [(3,)], ref=xp.sqrt, **_POS),
)

__all__ = [
    "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "abs", "absolute", "sign",
    "relu", "square", "sin", "cos", "tanh", "sigmoid", "erf",
]

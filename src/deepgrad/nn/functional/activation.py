"""Activation functions with PyTorch's signatures, each one fused op where it matters.

``sigmoid``, ``tanh``, ``softmax`` and ``log_softmax`` are the ``deepgrad`` ops
themselves (re-exported by ``nn.functional``); ``relu`` is ``deepgrad.relu`` with
an ``inplace`` flag. The piecewise ones (leaky_relu, hardtanh/relu6,
elu/selu/celu, softplus) and the smooth gates (gelu, silu) are single
``Function``s: forward on arrays, backward with tensor ops (so double backward
works). Where backward would take several tensor ops, it has a plain-array fast
path for the usual case of no ``create_graph``; the tensor-op path is the one
``gradgradcheck`` exercises, and both are checked against finite differences.

``inplace=True`` writes the result into the input, as PyTorch does, where the
op's backward does not need the original input (relu, leaky_relu, hardtanh,
relu6, elu, selu, celu); ``silu`` computes out of place.
"""

from __future__ import annotations

import math
from typing import Any

from deepgrad.autograd.function import Function, depends_on
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import erf as _erf_array
from deepgrad.backend import xp
from deepgrad.nn.functional.linear import torch_functional
from deepgrad.ops._registry import OpCase, declare
from deepgrad.tensor import Tensor

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2 * math.pi)
_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _ops() -> Any:
    import deepgrad

    return deepgrad


def _check_float(op: str, input: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind != "f":
        raise TypeError(
            f"{op}: expected a floating point tensor, got {input.dtype} (shape "
            f"{tuple(input.shape)}); convert it first with .float()"
        )


def _finish(input: Tensor, result: Tensor, inplace: bool, op: str) -> Tensor:
    """The result, written into ``input`` when ``inplace`` (PyTorch's in-place variants)."""
    if not inplace:
        return result
    return input._replace_inplace(result, op + "_")


def _where(mask: Any, a: Any, b: Any) -> Tensor:
    return _ops().where(Tensor(mask), a, b)


# --- piecewise linear -----------------------------------------------------------------
class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, x, slope):
        a = x.array
        positive = a > 0
        ctx.scale = xp.where(positive, 1, slope).astype(a.dtype)
        y = xp.where(positive, a, a * slope)
        ctx.save_for_backward(y)  # the output, not x: leaky_relu_ overwrites x
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return depends_on(grad * Tensor(ctx.scale), y), None


class Hardtanh(Function):
    @staticmethod
    def forward(ctx, x, low, high):
        a = x.array
        ctx.inside = (a > low) & (a < high)  # PyTorch passes no gradient at the bounds
        y = xp.clip(a, low, high)
        ctx.save_for_backward(y)  # the output, not x: hardtanh_ overwrites x
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return depends_on(_where(ctx.inside, grad, 0), y), None, None


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``.

    Shape:
        any -> same
    """
    return _finish(input, _ops().relu(input), inplace, "relu")


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where positive, ``negative_slope * x`` elsewhere.

    Shape:
        any -> same
    """
    _check_float("leaky_relu", input)
    return _finish(input, LeakyRelu.apply(input, negative_slope), inplace, "leaky_relu")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """``x`` clipped to ``[min_val, max_val]``; no gradient at or beyond the bounds.

    Shape:
        any -> same
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    _check_float("hardtanh", input)
    return _finish(input, Hardtanh.apply(input, min_val, max_val), inplace, "hardtanh")


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)`` (``hardtanh(x, 0, 6)``).

    Shape:
        any -> same
    """
    return hardtanh(input, 0.0, 6.0, inplace)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` where positive, ``weight * x`` elsewhere, one learned slope per channel (dim 1).

    Shape:
        input (N, C, *) or (C,)/() with one slope, weight (C,) or (1,) -> same as input
    """
    _check_float("prelu", input)
    n = weight.numel()
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.ndim != 1 or n != channels:
            raise RuntimeError(
                f"prelu: weight has {n} slopes (shape {tuple(weight.shape)}) but the input of "
                f"shape {tuple(input.shape)} has {channels} channels (dimension 1); use "
                "num_parameters=1 or the number of channels"
            )
        w = weight.reshape((n,) + (1,) * (input.ndim - 2))
    else:
        w = weight.reshape(())
    return _ops().where(input > 0, input, w * input)


# --- exponential linear units ---------------------------------------------------------
class ELU(Function):
    """``scale * x`` for x > 0, ``scale * alpha * (exp(x * input_scale) - 1)`` elsewhere."""

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        a = x.array
        positive = a > 0
        negative = xp.expm1(xp.minimum(a, 0) * input_scale)
        negative *= alpha
        y = xp.where(positive, a, negative)
        if scale != 1:
            y *= scale
        ctx.positive = positive
        ctx.params = (alpha, scale, input_scale)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        alpha, scale, input_scale = ctx.params
        # For x <= 0, dy/dx = input_scale * (y + scale * alpha): written with the output.
        negative = (y + scale * alpha) * input_scale
        return grad * _where(ctx.positive, scale, negative), None, None, None


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` elsewhere.

    Shape:
        any -> same
    """
    _check_float("elu", input)
    return _finish(input, ELU.apply(input, alpha, 1.0, 1.0), inplace, "elu")


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalizing constants (1.0507..., 1.6732...).

    Shape:
        any -> same
    """
    _check_float("selu", input)
    return _finish(input, ELU.apply(input, SELU_ALPHA, SELU_SCALE, 1.0), inplace, "selu")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Shape:
        any -> same
    """
    _check_float("celu", input)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides the input)")
    return _finish(input, ELU.apply(input, alpha, 1.0, 1.0 / alpha), inplace, "celu")


# --- smooth gates -------------------------------------------------------------------------
def _sigmoid(a: Any) -> Any:
    return _ops().sigmoid(Tensor(a)).array


class GELU(Function):
    @staticmethod
    def forward(ctx, x, approximate):
        a = x.array
        ctx.approximate = approximate
        if approximate == "tanh":
            t = xp.tanh(_GELU_K * (a + _GELU_C * a * a * a))
            ctx.cache = t
            y = 0.5 * a * (1 + t)
        else:
            cdf = 0.5 * (1 + _erf_array(a * _SQRT_HALF))
            ctx.cache = cdf
            y = a * cdf
        ctx.save_for_backward(x)
        return y.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if not is_grad_enabled():  # the usual backward: plain arrays, from the cached values
            a, g = x.array, grad.array
            if ctx.approximate == "tanh":
                t = ctx.cache
                inner = _GELU_K * (1 + 3 * _GELU_C * a * a)
                d = 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * inner
            else:
                d = ctx.cache + a * xp.exp(-0.5 * a * a) * _INV_SQRT_2PI
            return Tensor((g * d).astype(g.dtype, copy=False)), None
        if ctx.approximate == "tanh":
            t = ((x + x * x * x * _GELU_C) * _GELU_K).tanh()
            d = (1 + t) * 0.5 + x * (1 - t * t) * (1 + x * x * (3 * _GELU_C)) * (0.5 * _GELU_K)
        else:
            cdf = ((x * _SQRT_HALF).erf() + 1) * 0.5
            d = cdf + x * (x * x * -0.5).exp() * _INV_SQRT_2PI
        return grad * d, None


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` (Phi the standard normal CDF, via erf), or its tanh approximation.

    Shape:
        any -> same
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    _check_float("gelu", input)
    return GELU.apply(input, approximate)


class SiLU(Function):
    @staticmethod
    def forward(ctx, x):
        s = _sigmoid(x.array)
        ctx.sig = s
        ctx.save_for_backward(x)
        return x.array * s

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if not is_grad_enabled():
            s, a = ctx.sig, x.array
            return Tensor(grad.array * (s * (1 + a * (1 - s))))
        s = x.sigmoid()
        return grad * (s * (x * (1 - s) + 1))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (swish); computed out of place even with ``inplace=True``.

    Shape:
        any -> same
    """
    _check_float("silu", input)
    return SiLU.apply(input)


class Softplus(Function):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        a = x.array
        z = a * beta
        linear = z > threshold
        y = xp.where(linear, a, xp.log1p(xp.exp(xp.minimum(z, threshold))) / beta)
        ctx.linear = linear
        ctx.beta = beta
        ctx.save_for_backward(x)
        return y.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if not is_grad_enabled():
            s = _sigmoid(x.array * ctx.beta)
            return Tensor(xp.where(ctx.linear, grad.array, grad.array * s)), None, None
        s = (x * ctx.beta).sigmoid()
        return _where(ctx.linear, grad, grad * s), None, None


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, and ``x`` where ``beta * x > threshold``.

    Shape:
        any -> same
    """
    _check_float("softplus", input)
    return Softplus.apply(input, beta, threshold)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, without underflow.

    Shape:
        any -> same
    """
    return -softplus(-input)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``.

    Shape:
        any -> same
    """
    return input / (input.abs() + 1)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``.

    Shape:
        any -> same
    """
    return input * softplus(input).tanh()


_T = torch_functional
declare(
    OpCase("leaky_relu", lambda x: leaky_relu(x, 0.2), [(3, 4)],
           ref=lambda x: xp.where(x > 0, x, 0.2 * x), torch_fn=_T("leaky_relu", negative_slope=0.2)),
    OpCase("hardtanh", lambda x: hardtanh(x, -0.5, 1.0), [(3, 4)],
           ref=lambda x: xp.clip(x, -0.5, 1.0), torch_fn=_T("hardtanh", min_val=-0.5, max_val=1.0)),
    OpCase("relu6", lambda x: relu6(x * 4), [(3, 4)], ref=lambda x: xp.clip(4 * x, 0, 6),
           torch_fn=lambda x: _T("relu6")(x * 4)),
    OpCase("elu", lambda x: elu(x, 0.7), [(3, 4)],
           ref=lambda x: xp.where(x > 0, x, 0.7 * xp.expm1(x)), torch_fn=_T("elu", alpha=0.7)),
    OpCase("selu", lambda x: selu(x), [(3, 4)],
           ref=lambda x: SELU_SCALE * xp.where(x > 0, x, SELU_ALPHA * xp.expm1(x)),
           torch_fn=_T("selu")),
    OpCase("celu", lambda x: celu(x, 1.5), [(3, 4)],
           ref=lambda x: xp.where(x > 0, x, 1.5 * xp.expm1(x / 1.5)), torch_fn=_T("celu", alpha=1.5)),
    OpCase("gelu", lambda x: gelu(x), [(3, 4)], torch_fn=_T("gelu"), low=-4, high=4),
    OpCase("gelu", lambda x: gelu(x, approximate="tanh"), [(3, 4)], label="tanh",
           ref=lambda x: 0.5 * x * (1 + xp.tanh(_GELU_K * (x + _GELU_C * x ** 3))),
           torch_fn=_T("gelu", approximate="tanh")),
    OpCase("silu", lambda x: silu(x), [(3, 4)], ref=lambda x: x / (1 + xp.exp(-x)),
           torch_fn=_T("silu"), low=-5, high=5),
    OpCase("softplus", lambda x: softplus(x, beta=2.0, threshold=3.0), [(4, 5)],
           ref=lambda x: xp.where(2 * x > 3, x, xp.log1p(xp.exp(2 * x)) / 2),
           torch_fn=_T("softplus", beta=2.0, threshold=3.0)),
    OpCase("softplus", lambda x: softplus(x), [(3, 4)], ref=lambda x: xp.log1p(xp.exp(x)),
           torch_fn=_T("softplus"), label="default"),
    OpCase("prelu", lambda x, w: prelu(x, w), [(2, 3, 4), (3,)],
           ref=lambda x, w: xp.where(x > 0, x, w[:, None] * x), torch_fn=_T("prelu")),
    OpCase("prelu", lambda x, w: prelu(x, w), [(2, 3), (1,)], label="shared",
           ref=lambda x, w: xp.where(x > 0, x, w * x), torch_fn=_T("prelu")),
    OpCase("logsigmoid", lambda x: logsigmoid(x), [(3, 4)], ref=lambda x: -xp.log1p(xp.exp(-x)),
           torch_fn=_T("logsigmoid")),
    OpCase("softsign", lambda x: softsign(x), [(3, 4)], ref=lambda x: x / (1 + xp.abs(x)),
           torch_fn=_T("softsign")),
    OpCase("mish", lambda x: mish(x), [(3, 4)], ref=lambda x: x * xp.tanh(xp.log1p(xp.exp(x))),
           torch_fn=_T("mish")),
)

__all__ = [
    "relu", "relu6", "leaky_relu", "hardtanh", "prelu", "elu", "selu", "celu", "gelu", "silu",
    "softplus", "logsigmoid", "softsign", "mish",
]

"""Weight initializers (``torch.nn.init``): fill a tensor in place, outside the graph.

Every function draws from deepgrad's global generator (``deepgrad.manual_seed``)
unless ``generator=`` is given, writes straight into the tensor's storage (as
under ``no_grad``, so parameters can be initialized) and returns the tensor.
The distributions and their parameters are PyTorch's:

===================  ===========================================================
xavier_uniform_      U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))
xavier_normal_       N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))
kaiming_uniform_     U(-b, b), b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
kaiming_normal_      N(0, std^2), std = gain / sqrt(fan)
===================  ===========================================================

``fan_in`` is ``size(1) * receptive field`` and ``fan_out`` is ``size(0) *
receptive field`` (the receptive field is the product of the dimensions after
the second), as for PyTorch's weight layouts (out, in, kH, kW).
"""

from __future__ import annotations

import math
from typing import Any

from deepgrad.backend import erf, xp
from deepgrad.random import Generator, rng
from deepgrad.tensor import Tensor

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu:
    sqrt(2 / (1 + negative_slope^2)) with ``param`` the slope (default 0.01); selu: 3/4.
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of linear, conv1d, "
        "conv2d, sigmoid, tanh, relu, leaky_relu, selu"
    )


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {tuple(tensor.shape)})"
        )
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _check(tensor: Any, fn: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{fn}: expected a deepgrad Tensor, got {type(tensor).__name__}")


def _draw_dtype(tensor: Tensor) -> Any:
    """Draw in the tensor's dtype when the generator can (float32, float64), else float64."""
    dtype = tensor.array.dtype
    return dtype if dtype.name in ("float32", "float64") else xp.dtype("float64")


def _write(tensor: Tensor, values: Any) -> Tensor:
    """Store ``values`` in the tensor's storage (no graph), bumping its version."""
    tensor.array[...] = xp.asarray(values)
    tensor._bump_version()
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator | None = None) -> Tensor:
    """Fill with draws from U(a, b)."""
    _check(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"nn.init.uniform_: expects a <= b, got a={a}, b={b}")
    if tensor.numel() == 0:
        return tensor
    u = rng(generator).random(tensor.shape, dtype=_draw_dtype(tensor))
    return _write(tensor, u * (b - a) + a)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Tensor:
    """Fill with draws from N(mean, std^2)."""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"nn.init.normal_: std must be non-negative, got {std}")
    if tensor.numel() == 0:
        return tensor
    z = rng(generator).standard_normal(tensor.shape, dtype=_draw_dtype(tensor))
    return _write(tensor, z * std + mean)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std^2) draws truncated to [a, b] (a and b are absolute bounds)."""
    _check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"nn.init.trunc_normal_: expects a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"nn.init.trunc_normal_: std must be positive, got {std}")
    if tensor.numel() == 0:
        return tensor
    g = rng(generator)
    n = tensor.numel()
    lo, hi = max((a - mean) / std, -30.0), min((b - mean) / std, 30.0)
    mass = float(erf(xp.asarray([hi / math.sqrt(2)]))[0] - erf(xp.asarray([lo / math.sqrt(2)]))[0]) / 2
    if mass > 0.25:
        # Most normal draws land in the window: redraw the few that do not, in rounds.
        out = xp.asarray(g.standard_normal(n))
        bad = (out < lo) | (out > hi)
        while bad.any():
            out[bad] = xp.asarray(g.standard_normal(int(bad.sum())))
            bad = (out < lo) | (out > hi)
    else:
        # A narrow window or a tail: uniform proposals accepted by the density ratio.
        peak = min(max(0.0, lo), hi)  # where the density is highest in the window
        accept = mass * math.sqrt(2 * math.pi) / ((hi - lo) * math.exp(-peak * peak / 2))
        parts, remaining = [], n
        while remaining:
            size = min(int(remaining / max(accept, 1e-6) * 1.2), remaining * 100) + 1000
            x = xp.asarray(g.uniform(lo, hi, size))
            u = xp.asarray(g.random(x.shape))
            keep = x[u < xp.exp((peak * peak - x * x) / 2)][:remaining]
            parts.append(keep)
            remaining -= len(keep)
        out = xp.concatenate(parts)
    values = xp.clip(out * std + mean, a, b).reshape(tensor.shape)
    return _write(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    _check(tensor, "constant_")
    tensor.array[...] = val
    return tensor._bump_version()


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-d tensor with the identity (ones on the diagonal)."""
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(
            f"nn.init.eye_: only tensors with 2 dimensions are supported, got shape "
            f"{tuple(tensor.shape)}"
        )
    return _write(tensor, xp.eye(*tensor.shape, dtype=tensor.array.dtype))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-d conv weight with the Dirac delta (identity convolution)."""
    _check(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"nn.init.dirac_: only 3, 4 or 5-d tensors are supported, got {tensor.ndim}")
    out_per_group = tensor.shape[0] // groups
    if tensor.shape[0] % groups:
        raise ValueError(f"nn.init.dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups")
    n = min(out_per_group, tensor.shape[1])
    values = xp.zeros(tensor.shape, dtype=tensor.array.dtype)
    centre = tuple(s // 2 for s in tensor.shape[2:])
    d = xp.arange(n)
    for g in range(groups):  # one assignment per group
        values[(g * out_per_group + d, d) + centre] = 1
    return _write(tensor, values)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Generator | None = None) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    _check(tensor, "kaiming_uniform_")
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Generator | None = None) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    _check(tensor, "kaiming_normal_")
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix, times ``gain``; dimensions after the first are flattened."""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(
            f"nn.init.orthogonal_: only tensors with 2 or more dimensions are supported, got "
            f"shape {tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = xp.asarray(rng(generator).standard_normal((rows, cols)))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    d = xp.sign(xp.diagonal(r))
    q = q * xp.where(d == 0, 1.0, d)
    if rows < cols:
        q = q.T
    return _write(tensor, (q * gain).reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01,
            generator: Generator | None = None) -> Tensor:
    """Fill a 2-d tensor with N(0, std^2), then zero ``ceil(sparsity * rows)`` entries per column."""
    _check(tensor, "sparse_")
    if tensor.ndim != 2:
        raise ValueError("nn.init.sparse_: only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    zeros = int(math.ceil(sparsity * rows))
    g = rng(generator)
    values = xp.asarray(g.standard_normal((rows, cols)) * std)
    order = xp.asarray(g.random((rows, cols)).argsort(axis=0))
    xp.put_along_axis(values, order[:zeros], 0.0, axis=0)
    return _write(tensor, values)


__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_", "sparse_",
]

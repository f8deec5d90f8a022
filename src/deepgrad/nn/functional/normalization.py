"""Normalization: batch_norm, layer_norm, group_norm, instance_norm, local_response_norm.

The first four share one fused Function, ``_Normalize``: subtract the mean and
divide by the standard deviation over some axes, then scale and shift by an
optional weight and bias (PyTorch's ``native_batch_norm`` / ``native_layer_norm``).
Its backward is the closed form

    dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = g * weight

computed straight from arrays when no graph of the backward pass is needed,
and with tensor ops (re-deriving the statistics from x) when one is, so that
double backward works. ``local_response_norm`` is a composite of average
pooling across channels.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

from deepgrad.autograd.function import Function, depends_on
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.nn.functional import _im2col as K
from deepgrad.nn.functional.pooling import _AvgPool, _PoolSpec
from deepgrad.ops._registry import OpCase, declare
from deepgrad.tensor import Tensor


class _NormSpec(NamedTuple):
    axes: tuple[int, ...]         # the axes the statistics are taken over
    param_shape: tuple[int, ...]  # weight/bias broadcast shape against x
    eps: float

    @property
    def per_group(self) -> bool:
        """Whether weight and bias are constant over each group of statistics (batch and
        instance norm): then backward needs only per-group sums."""
        return all(s == 1 for i, s in enumerate(self.param_shape) if i in self.axes)


def _reduce(arrays: tuple, axes: tuple[int, ...], ndim: int) -> Any:
    """The sum over ``axes`` of the product of ``arrays``, axes kept as size 1: one
    ``einsum`` pass (no temporary for the product, and faster than ``sum`` over
    non-trailing axes)."""
    letters = "abcdefghijklmnop"[:ndim]
    kept = "".join(c for i, c in enumerate(letters) if i not in axes)
    out = xp.einsum(",".join([letters] * len(arrays)) + "->" + kept, *arrays)
    return out.reshape(tuple(1 if i in axes else s for i, s in enumerate(arrays[0].shape)))


def _count(shape: tuple, axes: tuple[int, ...]) -> int:
    return math.prod(shape[i] for i in axes)


def _moments(x: Any, axes: tuple[int, ...]) -> tuple[Any, Any, Any]:
    """Mean and biased variance over ``axes`` (kept as size 1) in x's dtype, and x - mean."""
    m = _count(x.shape, axes)
    mean = _reduce((x,), axes, x.ndim) / x.dtype.type(m)
    centered = x - mean
    return mean, _reduce((centered, centered), axes, x.ndim) / x.dtype.type(m), centered


def _complement(spec: _NormSpec, ndim: int) -> tuple[int, ...]:
    """The axes weight and bias are broadcast over (their gradients sum over these)."""
    return tuple(i for i in range(ndim) if spec.param_shape[i] == 1)


class _Normalize(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, with x's own mean and var."""

    @staticmethod
    def forward(ctx, x, weight, bias, spec, stats):
        mean, var, centered = stats
        invstd = 1.0 / xp.sqrt(var + spec.eps)
        ctx.spec, ctx.mean, ctx.invstd = spec, mean, invstd
        ctx.bias_shape = None if bias is None else bias.shape
        ctx.save_for_backward(x, weight)
        w = None if weight is None else weight.array.reshape(spec.param_shape)
        y = centered  # a temporary of _moments: scaled in place, no second array
        if w is not None and spec.per_group:
            y *= invstd * w
        else:
            y *= invstd
            if w is not None:
                y *= w
        if bias is not None:
            y += bias.array.reshape(spec.param_shape)
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        spec = ctx.spec
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if is_grad_enabled():
            grads = _backward_graph(x, weight, g, spec, need_x, need_w, need_b, ctx.bias_shape)
            return grads + (None, None)
        grads = (_backward_per_group if spec.per_group else _backward_general)(
            x.array, g.array, None if weight is None else weight.array, ctx.mean, ctx.invstd,
            spec, need_x, need_w, need_b)
        grad_x, grad_w, grad_b = (None if a is None else Tensor(a) for a in grads)
        if grad_w is not None:
            grad_w = grad_w.reshape(weight.shape)
        if grad_b is not None:
            grad_b = grad_b.reshape(ctx.bias_shape)
        return grad_x, grad_w, grad_b, None, None


def _backward_per_group(x: Any, g: Any, w: Any, mean: Any, invstd: Any, spec: _NormSpec,
                        need_x: bool, need_w: bool, need_b: bool) -> tuple:
    """Batch/instance norm: two per-group sums, then dx = k1*g + c2*x + c1 with k1, c1, c2
    constant over each group."""
    nd = x.ndim
    m = x.dtype.type(_count(x.shape, spec.axes))
    sum_g = _reduce((g,), spec.axes, nd)
    sum_gxhat = (_reduce((g, x), spec.axes, nd) - mean * sum_g) * invstd  # sum of g * xhat
    rest = tuple(i for i in _complement(spec, nd) if i not in spec.axes)
    grad_w = sum_gxhat.sum(axis=rest, keepdims=True) if need_w else None
    grad_b = sum_g.sum(axis=rest, keepdims=True) if need_b else None
    grad_x = None
    if need_x:
        k1 = invstd if w is None else invstd * w.reshape(spec.param_shape)
        c2 = -k1 * invstd * (sum_gxhat / m)
        c1 = -k1 * (sum_g / m) - c2 * mean
        grad_x = x * c2
        grad_x += c1
        grad_x += g * k1
    return grad_x, grad_w, grad_b


def _backward_general(x: Any, g: Any, w: Any, mean: Any, invstd: Any, spec: _NormSpec,
                      need_x: bool, need_w: bool, need_b: bool) -> tuple:
    """Layer/group norm: dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))."""
    nd = x.ndim
    xhat = x - mean
    xhat *= invstd
    outer = _complement(spec, nd)
    grad_w = _reduce((g, xhat), outer, nd) if need_w else None
    grad_b = _reduce((g,), outer, nd) if need_b else None
    grad_x = None
    if need_x:
        m = x.dtype.type(_count(x.shape, spec.axes))
        dxhat = g if w is None else g * w.reshape(spec.param_shape)
        m1 = _reduce((dxhat,), spec.axes, nd) / m
        m2 = _reduce((dxhat, xhat), spec.axes, nd) / m
        xhat *= m2
        grad_x = dxhat - m1
        grad_x -= xhat
        grad_x *= invstd
    return grad_x, grad_w, grad_b


def _backward_graph(x: Tensor, weight: Tensor | None, g: Tensor, spec: _NormSpec,
                    need_x: bool, need_w: bool, need_b: bool, bias_shape: tuple) -> tuple:
    """The same backward with tensor ops, statistics re-derived from x (differentiable)."""
    mean = x.mean(spec.axes, keepdim=True)
    centered = x - mean
    invstd = ((centered * centered).mean(spec.axes, keepdim=True) + spec.eps) ** -0.5
    xhat = centered * invstd
    w = None if weight is None else weight.reshape(spec.param_shape)
    grad_x = grad_w = grad_b = None
    if need_x:
        dxhat = g if w is None else g * w
        m1 = dxhat.mean(spec.axes, keepdim=True)
        m2 = (dxhat * xhat).mean(spec.axes, keepdim=True)
        grad_x = (dxhat - m1 - xhat * m2) * invstd
    if need_w:
        grad_w = (g * xhat).sum_to_size(spec.param_shape).reshape(weight.shape)
    if need_b:
        grad_b = depends_on(g.sum_to_size(spec.param_shape).reshape(bias_shape), x, weight)
    return grad_x, grad_w, grad_b


def _normalize(x: Tensor, weight: Tensor | None, bias: Tensor | None, spec: _NormSpec,
               stats: tuple | None = None) -> Tensor:
    return _Normalize.apply(x, weight, bias, spec, stats or _moments(x.array, spec.axes))


def _check(op: str, input: Tensor, params: Sequence[tuple[str, Any]], size: int | tuple) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if not input.is_floating_point():
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype}; "
                        "use input.float()")
    shape = (size,) if isinstance(size, int) else tuple(size)
    for name, p in params:
        if p is None:
            continue
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(p).__name__}")
        if tuple(p.shape) != shape:
            raise ValueError(f"{op}: {name} must have shape {shape} to match input of shape "
                             f"{tuple(input.shape)}, got {tuple(p.shape)}")


def _update_running(op: str, running: Tensor | None, value: Any, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * value, in place (no graph)."""
    if running is None:
        return
    arr = running.array
    arr *= 1 - momentum
    arr += (momentum * value).astype(arr.dtype, copy=False).reshape(arr.shape)
    running._bump_version()


# --- public functions ---------------------------------------------------------------
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over the channel dimension 1, as ``torch.nn.functional.batch_norm``.

    In training mode the batch's own statistics normalize the input and, when
    given, ``running_mean`` / ``running_var`` are updated in place with
    ``momentum`` (the running variance uses the unbiased batch variance). In
    eval mode the running statistics normalize.

    Shape:
        input (N, C) or (N, C, *); running stats, weight, bias (C,); output as input.
    """
    op = "batch_norm"
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C) or (N, C, *), got "
                         f"{tuple(getattr(input, 'shape', ()))}")
    c = input.shape[1]
    _check(op, input, [("weight", weight), ("bias", bias), ("running_mean", running_mean),
                       ("running_var", running_var)], c)
    param_shape = (1, c) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        count = input.array.size // c
        if count <= 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got "
                             f"input of shape {tuple(input.shape)}")
        stats = _moments(input.array, axes)
        if running_mean is not None or running_var is not None:
            _update_running(op, running_mean, stats[0], momentum)
            _update_running(op, running_var, stats[1] * (count / (count - 1)), momentum)
        return _normalize(input, weight, bias, _NormSpec(axes, param_shape, eps), stats)
    if running_mean is None or running_var is None:
        raise ValueError(f"{op}: running_mean and running_var must be given when training=False "
                         "(or pass training=True to use the batch's statistics)")
    return _affine_with_stats(input, running_mean, running_var, weight, bias, eps, param_shape)


def _affine_with_stats(input: Tensor, mean: Tensor, var: Tensor, weight: Tensor | None,
                       bias: Tensor | None, eps: float, param_shape: tuple) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias with given statistics (eval mode)."""
    scale = (var + eps) ** -0.5
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias
    return input * scale.reshape(param_shape) + shift.reshape(param_shape)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` dimensions, as PyTorch's ``layer_norm``.

    Shape:
        input (*, *normalized_shape); weight and bias ``normalized_shape``; output as input.
    """
    op = "layer_norm"
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    trailing = tuple(input.shape[input.ndim - len(shape):]) if input.ndim >= len(shape) else None
    if not shape or trailing != shape:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} does not end with "
                         f"normalized_shape {shape}")
    _check(op, input, [("weight", weight), ("bias", bias)], shape)
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    param_shape = (1,) * (input.ndim - len(shape)) + shape
    return _normalize(input, weight, bias, _NormSpec(axes, param_shape, eps))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over groups of channels (and all spatial positions), as PyTorch's ``group_norm``.

    Shape:
        input (N, C, *) with C divisible by ``num_groups``; weight, bias (C,); output as input.
    """
    op = "group_norm"
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, *), got "
                         f"{tuple(getattr(input, 'shape', ()))}")
    n, c = input.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"{op}: the {c} channels of input of shape {tuple(input.shape)} can't be "
                         f"split into num_groups={num_groups} groups; C must be divisible by it")
    _check(op, input, [("weight", weight), ("bias", bias)], c)
    grouped = input.reshape(n, num_groups, c // num_groups, -1)
    spec = _NormSpec((2, 3), (1, num_groups, c // num_groups, 1), eps)
    out = _normalize(grouped, weight, None, spec).reshape(input.shape)
    # The bias added apart, as PyTorch's group norm: its gradient is then no function of x.
    return out if bias is None else out + bias.reshape((c,) + (1,) * (input.ndim - 2))


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample over its spatial positions (PyTorch's
    ``instance_norm``); running statistics, when given, track the batch average.

    Shape:
        input (N, C, *) with at least one spatial dimension; stats, weight, bias (C,).
    """
    op = "instance_norm"
    if not isinstance(input, Tensor) or input.ndim < 3:
        raise ValueError(f"{op}: expected an input of shape (N, C, L) or (N, C, H, W), got "
                         f"{tuple(getattr(input, 'shape', ()))}")
    c = input.shape[1]
    _check(op, input, [("weight", weight), ("bias", bias), ("running_mean", running_mean),
                       ("running_var", running_var)], c)
    param_shape = (1, c) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: running_mean and running_var are needed when "
                             "use_input_stats=False")
        return _affine_with_stats(input, running_mean, running_var, weight, bias, eps, param_shape)
    axes = tuple(range(2, input.ndim))
    count = math.prod(input.shape[2:])
    if count <= 1:
        raise ValueError(f"{op}: expected more than 1 spatial element when training, got input "
                         f"of shape {tuple(input.shape)}")
    stats = _moments(input.array, axes)
    _update_running(op, running_mean, stats[0].mean(axis=0), momentum)
    _update_running(op, running_var, (stats[1] * (count / (count - 1))).mean(axis=0), momentum)
    return _normalize(input, weight, bias, _NormSpec(axes, param_shape, eps), stats)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """AlexNet's local response normalization across channels, as PyTorch's:
    ``x / (k + alpha / size * sum of x^2 over `size` neighbouring channels) ** beta``.

    Shape:
        input (N, C, *) with at least one spatial dimension; output as input.
    """
    op = "local_response_norm"
    if not isinstance(input, Tensor) or input.ndim < 3:
        raise ValueError(f"{op}: expected an input of 3 or more dimensions (N, C, *), got "
                         f"{tuple(getattr(input, 'shape', ()))}")
    if size < 1:
        raise ValueError(f"{op}: size must be a positive integer, got {size}")
    n, c = input.shape[:2]
    length = math.prod(input.shape[2:])
    squares = (input * input).reshape(n, 1, c, length)
    geo = K.Geometry((c, length), (size, 1), (1, 1), ((size // 2, (size - 1) // 2), (0, 0)),
                     (1, 1), (c, length))
    div = _AvgPool.apply(squares, _PoolSpec(geo, size)).reshape(input.shape)
    return input / (div * alpha + k) ** beta


# --- declared test cases ------------------------------------------------------------
def _torch_f() -> Any:
    import torch.nn.functional as F

    return F


def _const(like: Any, values: Any) -> Any:
    """A constant tensor of the same library and dtype as ``like``."""
    if isinstance(like, Tensor):
        return Tensor(xp.asarray(values, dtype=like.array.dtype))
    import torch

    return torch.tensor(values, dtype=like.dtype)


def _ref_norm(x: Any, axes: tuple, eps: float = 1e-5) -> Any:
    return (x - x.mean(axes, keepdims=True)) / xp.sqrt(x.var(axes, keepdims=True) + eps)


def _ref_layer_norm(x: Any, w: Any, b: Any) -> Any:
    return _ref_norm(x, (-1,)) * w + b


def _channels(p: Any, ndim: int) -> Any:
    return p.reshape((1, -1) + (1,) * (ndim - 2))


def _ref_group_norm(x: Any, groups: int, w: Any, b: Any) -> Any:
    y = _ref_norm(x.reshape(x.shape[0], groups, -1), (2,)).reshape(x.shape)
    return y * _channels(w, x.ndim) + _channels(b, x.ndim)


def _ref_lrn(x: Any, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Any:
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    windows = xp.lib.stride_tricks.sliding_window_view(xp.pad(x * x, pad), size, axis=1)
    return x / (k + alpha * windows.mean(-1)) ** beta


declare(
    OpCase("batch_norm", lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
           [(4, 3, 2, 2), (3,), (3,)],
           ref=lambda x, w, b: _ref_norm(x, (0, 2, 3)) * _channels(w, 4) + _channels(b, 4),
           torch_fn=lambda x, w, b: _torch_f().batch_norm(x, None, None, w, b, training=True)),
    OpCase("batch_norm", lambda x: batch_norm(x, None, None, training=True, eps=1e-3), [(5, 3)],
           ref=lambda x: _ref_norm(x, (0,), 1e-3),
           torch_fn=lambda x: _torch_f().batch_norm(x, None, None, training=True, eps=1e-3),
           label="1d,no-affine"),
    OpCase("batch_norm",
           lambda x, w, b: batch_norm(x, _const(x, [0.5, -1.0]), _const(x, [2.0, 0.5]), w, b),
           [(3, 2, 4), (2,), (2,)],
           torch_fn=lambda x, w, b: _torch_f().batch_norm(x, _const(x, [0.5, -1.0]),
                                                          _const(x, [2.0, 0.5]), w, b),
           label="eval"),
    OpCase("layer_norm", lambda x, w, b: layer_norm(x, (5,), w, b), [(2, 3, 5), (5,), (5,)],
           ref=_ref_layer_norm, torch_fn=lambda x, w, b: _torch_f().layer_norm(x, (5,), w, b)),
    OpCase("layer_norm", lambda x: layer_norm(x, (3, 4)), [(2, 3, 4)],
           ref=lambda x: _ref_norm(x, (1, 2)),
           torch_fn=lambda x: _torch_f().layer_norm(x, (3, 4)), label="2d,no-affine"),
    OpCase("group_norm", lambda x, w, b: group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)],
           ref=lambda x, w, b: _ref_group_norm(x, 2, w, b),
           torch_fn=lambda x, w, b: _torch_f().group_norm(x, 2, w, b)),
    OpCase("instance_norm", lambda x, w, b: instance_norm(x, weight=w, bias=b),
           [(2, 3, 2, 3), (3,), (3,)],
           ref=lambda x, w, b: _ref_norm(x, (2, 3)) * _channels(w, 4) + _channels(b, 4),
           torch_fn=lambda x, w, b: _torch_f().instance_norm(x, weight=w, bias=b)),
    OpCase("local_response_norm", lambda x: local_response_norm(x, 3, alpha=0.1, beta=0.75, k=2.0),
           [(2, 5, 2, 2)], ref=lambda x: _ref_lrn(x, 3, alpha=0.1, beta=0.75, k=2.0),
           torch_fn=lambda x: _torch_f().local_response_norm(x, 3, alpha=0.1, beta=0.75, k=2.0)),
    OpCase("local_response_norm", lambda x: local_response_norm(x, 2), [(1, 4, 3)],
           ref=lambda x: _ref_lrn(x, 2),
           torch_fn=lambda x: _torch_f().local_response_norm(x, 2), label="even-size,3d"),
)

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm"]

"""Pooling: max and average pooling (1-d, 2-d) and their adaptive forms, PyTorch's signatures.

Pooling reads the input through kh*kw strided slices (one per kernel position,
each covering every window at once), so forward and backward are a few
vectorized passes; 1-d pooling runs as 2-d with height 1. Each op is a linear
map (average pooling) or a selection (max pooling) paired with its adjoint:

* ``_AvgPool`` / ``_AvgPoolAdjoint``: average over windows / spread back; each is
  the other's backward.
* ``_MaxPool`` selects the largest element of each window and remembers where it
  was; its backward ``_MaxScatter`` puts gradients there, and the backward of
  that is ``_MaxGather``, reading them back (so double backward works).
* ``_Separable`` (y = A x B^T over the last two dimensions, constant A, B) is the
  adaptive average pool for sizes that do not divide evenly; ``interpolate``
  uses it too. ``_IndexGather`` / ``_IndexScatter`` serve adaptive max pooling.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from deepgrad.autograd.function import Function, depends_on
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.nn.functional import _im2col as K
from deepgrad.ops._registry import OpCase, declare
from deepgrad.tensor import Tensor


class _PoolSpec(NamedTuple):
    geo: K.Geometry
    divisor: Any = None  # average pooling: a number or an (Ho, Wo) array


# --- average pooling ------------------------------------------------------------------
def _window_sum(x: Any, geo: K.Geometry) -> Any:
    padded = K.pad_nchw(x, geo, 0.0)
    out = None
    for _, _, rows, cols in geo.slices():
        part = padded[:, :, rows, cols]
        if out is None:
            out = part.copy()
        else:
            out += part
    return out


class _AvgPool(Function):
    @staticmethod
    def forward(ctx, x, spec):
        ctx.spec = spec
        ctx.save_for_backward(x)
        out = _window_sum(x.array, spec.geo)
        out /= xp.asarray(spec.divisor, dtype=out.dtype)
        return out

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return depends_on(_AvgPoolAdjoint.apply(grad, ctx.spec), x), None


class _AvgPoolAdjoint(Function):
    @staticmethod
    def forward(ctx, g, spec):
        ctx.spec = spec
        scaled = g.array / xp.asarray(spec.divisor, dtype=g.array.dtype)
        return K.scatter_windows(lambda k: (scaled, None), spec.geo, g.shape, scaled.dtype)

    @staticmethod
    def backward(ctx, grad):
        return _AvgPool.apply(grad, ctx.spec), None


# --- max pooling ------------------------------------------------------------------------
class _MaxPool(Function):
    """The window maxima (NaN wins, as in PyTorch) and, when asked for, the position of each
    in its window (int8/int32, not differentiable): the first maximum, or the last NaN."""

    @staticmethod
    def forward(ctx, x, spec, positions):
        padded = K.pad_nchw(x.array, spec.geo, -xp.inf)
        parts = [padded[:, :, rows, cols] for _, _, rows, cols in spec.geo.slices()]
        best = parts[0].copy() if len(parts) == 1 else xp.maximum(parts[0], parts[1])
        for part in parts[2:]:
            xp.maximum(best, part, out=best)
        pos = _window_positions(parts, best) if positions else None
        ctx.spec, ctx.pos = spec, pos
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x)
        return best, pos

    @staticmethod
    def backward(ctx, grad, _):
        if grad is None:
            return None, None, None
        (x,) = ctx.saved_tensors
        return depends_on(_MaxScatter.apply(grad, ctx.pos, ctx.spec), x), None, None


def _window_positions(parts: list, best: Any) -> Any:
    """Index (in the window) of each window's maximum: the first one equal to it, or, in
    windows whose maximum is NaN, the last NaN (PyTorch's choice). Built with integer
    arithmetic on boolean masks, which is several times faster than masked assignment."""
    dtype = xp.int8 if len(parts) < 128 else xp.int32
    pos = xp.zeros(best.shape, dtype=dtype)
    taken = parts[0] == best
    for k in range(1, len(parts)):
        equal = parts[k] == best
        first = equal & ~taken
        taken |= equal
        pos += first.astype(dtype, copy=False) * dtype(k)
    if xp.isnan(best).any():  # rare: NaN windows point at their last NaN
        for k, part in enumerate(parts):
            nan = xp.isnan(part)
            pos[nan] = k
    return pos


class _MaxScatter(Function):
    """Gradient of max pooling: each window's gradient goes to the element that won."""

    @staticmethod
    def forward(ctx, g, pos, spec):
        ctx.pos, ctx.spec = pos, spec
        ga = g.array
        return K.scatter_windows(lambda k: (ga, pos == k), spec.geo, ga.shape, ga.dtype)

    @staticmethod
    def backward(ctx, grad):
        return _MaxGather.apply(grad, ctx.pos, ctx.spec), None, None


class _MaxGather(Function):
    """Adjoint of _MaxScatter: read each window's winning element."""

    @staticmethod
    def forward(ctx, x, pos, spec):
        ctx.pos, ctx.spec = pos, spec
        padded = K.pad_nchw(x.array, spec.geo, 0.0)
        out = xp.zeros(pos.shape, dtype=x.array.dtype)
        for k, (_, _, rows, cols) in enumerate(spec.geo.slices()):
            xp.copyto(out, padded[:, :, rows, cols], where=pos == k)
        return out

    @staticmethod
    def backward(ctx, grad):
        return _MaxScatter.apply(grad, ctx.pos, ctx.spec), None, None


def _flat_indices(pos: Any, geo: K.Geometry) -> Any:
    """Window positions -> PyTorch's indices into the flattened unpadded (H, W) plane (int64)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.kernel, geo.stride, geo.dilation, geo.out
    (top, _), (left, _) = geo.pads
    pos = pos.astype(xp.int64)
    rows = xp.arange(ho).reshape(ho, 1) * sh - top + (pos // kw) * dh
    cols = xp.arange(wo) * sw - left + (pos % kw) * dw
    return rows * geo.size[1] + cols


# --- index gather (adaptive max pooling) ---------------------------------------------
class _IndexGather(Function):
    """out[n, c, k] = x[n, c, index[n, c, k]] over the flattened spatial plane."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.index, ctx.in_shape = index, x.shape
        ctx.save_for_backward(x)
        n, c = x.shape[:2]
        flat = x.array.reshape(n, c, -1)
        return xp.take_along_axis(flat, index.reshape(n, c, -1), axis=2).reshape(index.shape)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return depends_on(_IndexScatter.apply(grad, ctx.index, ctx.in_shape), x), None


class _IndexScatter(Function):
    @staticmethod
    def forward(ctx, g, index, shape):
        ctx.index = index
        n, c = shape[:2]
        out = xp.zeros((n * c, math.prod(shape[2:])), dtype=g.array.dtype)
        rows = xp.arange(n * c).reshape(-1, 1)
        xp.add.at(out, (rows, index.reshape(n * c, -1)), g.array.reshape(n * c, -1))
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return _IndexGather.apply(grad, ctx.index), None, None


# --- separable linear maps (adaptive average pooling, interpolation) -----------------
class _Separable(Function):
    """y[..., o, p] = sum_{h, w} A[o, h] x[..., h, w] B[p, w], constant A and B.

    With ``pooling``, x's gradient is recorded as a function of x (zero derivative) under
    create_graph, as PyTorch's adaptive pooling does; its interpolation's gradient is not."""

    @staticmethod
    def forward(ctx, x, a, b, pooling=False):
        ctx.a, ctx.b = a, b
        if pooling:
            ctx.save_for_backward(x)
        dtype = x.array.dtype
        y = x.array
        if b is not None:  # one product over all rows: (..., H, W) @ (W, W_out)
            rows = xp.ascontiguousarray(y).reshape(-1, y.shape[-1])
            y = xp.matmul(rows, b.T.astype(dtype, copy=False)).reshape(y.shape[:-1] + (-1,))
        if a is not None:  # a batch of (H_out, H) @ (H, W_out) products
            y = xp.matmul(a.astype(dtype, copy=False), y)
        return y

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.a, ctx.b
        a_t, b_t = (None if m is None else m.T for m in (a, b))
        grad_x = depends_on(_Separable.apply(grad, a_t, b_t), *ctx.saved_tensors)
        return grad_x, None, None, None


# --- argument handling ----------------------------------------------------------------
def _to_4d(op: str, input: Tensor, dims: int) -> tuple[Tensor, tuple]:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (dims + 1, dims + 2) or min(input.shape[-dims:], default=0) < 1:
        layout = "(N, C, L) or (C, L)" if dims == 1 else "(N, C, H, W) or (C, H, W)"
        raise ValueError(f"{op}: expected a {dims + 1}-d or {dims + 2}-d input {layout} with "
                         f"non-empty spatial dimensions, got shape {tuple(input.shape)}")
    shape = tuple(input.shape)
    full = ((1,) if input.ndim == dims + 1 else ()) + shape
    if dims == 1:
        full = full[:2] + (1,) + full[2:]
    return (input.reshape(full) if full != shape else input), shape


def _from_4d(out: Tensor, dims: int, in_shape: tuple) -> Tensor:
    shape = tuple(in_shape[:-dims]) + tuple(out.shape[-dims:])
    return out.reshape(shape) if shape != tuple(out.shape) else out


def _spatial(op: str, value: Any, dims: int, name: str, minimum: int, fill: int) -> tuple:
    t = K.tuple_arg(value, dims, name, op, minimum=minimum)
    return ((fill,) + t) if dims == 1 else t


def _pool_geometry(op: str, x: Tensor, dims: int, kernel_size: Any, stride: Any, padding: Any,
                   dilation: Any, ceil_mode: bool) -> K.Geometry:
    kernel = _spatial(op, kernel_size, dims, "kernel_size", 1, 1)
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        stride = kernel
    else:
        stride = _spatial(op, stride, dims, "stride", 1, 1)
    pad = _spatial(op, padding, dims, "padding", 0, 0)
    dilation = _spatial(op, dilation, dims, "dilation", 1, 1)
    if any(p > k // 2 for p, k in zip(pad, kernel)):
        raise ValueError(f"{op}: padding {pad[-dims:]} should be at most half of the kernel size "
                         f"{kernel[-dims:]}")
    size = tuple(x.shape[2:])
    out = tuple(K.out_size(n, k, s, p, p, d, ceil_mode)
                for n, k, s, p, d in zip(size, kernel, stride, pad, dilation))
    if min(out) < 1:
        padded = tuple(n + 2 * p for n, p in zip(size, pad))
        raise ValueError(f"{op}: the input is too small: its padded spatial size {padded[-dims:]} "
                         f"is smaller than the kernel {kernel[-dims:]}, so the output would be "
                         "empty; use a smaller kernel or a larger input")
    return K.Geometry(size, kernel, stride, tuple((p, p) for p in pad), dilation, out)


def _avg_divisor(geo: K.Geometry, count_include_pad: bool, divisor_override: Any) -> Any:
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must be non-zero")
        return divisor_override
    counts = []
    for n, k, s, (p, _), o in zip(geo.size, geo.kernel, geo.stride, geo.pads, geo.out):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, n)
        counts.append(end - start)
    divisor = counts[0].reshape(-1, 1) * counts[1].reshape(1, -1)
    if xp.all(divisor == divisor.flat[0]):
        return int(divisor.flat[0])
    return divisor


def _max_pool(op: str, dims: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool, return_indices: bool) -> Any:
    x, in_shape = _to_4d(op, input, dims)
    if not x.is_floating_point():
        raise TypeError(f"{op}: expected a floating point input, got {x.dtype}; use input.float()")
    geo = _pool_geometry(op, x, dims, kernel_size, stride, padding, dilation, ceil_mode)
    positions = return_indices or (x.requires_grad and is_grad_enabled())
    out, pos = _MaxPool.apply(x, _PoolSpec(geo), positions)
    result = _from_4d(out, dims, in_shape)
    if not return_indices:
        return result
    return result, _from_4d(Tensor(_flat_indices(pos.array, geo)), dims, in_shape)


def _avg_pool(op: str, dims: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: Any) -> Tensor:
    x, in_shape = _to_4d(op, input, dims)
    if not x.is_floating_point():
        raise TypeError(f"{op}: expected a floating point input, got {x.dtype}; use input.float()")
    geo = _pool_geometry(op, x, dims, kernel_size, stride, padding, 1, ceil_mode)
    spec = _PoolSpec(geo, _avg_divisor(geo, count_include_pad, divisor_override))
    return _from_4d(_AvgPool.apply(x, spec), dims, in_shape)


# --- public functions ---------------------------------------------------------------
def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over sliding windows of an (N, C, L) input, as ``torch.nn.functional.max_pool1d``.

    Shape:
        input (N, C, L) or (C, L); output (N, C, L_out) with
        L_out = floor_or_ceil((L + 2*padding - dilation*(k-1) - 1) / stride) + 1.
        With ``return_indices`` also the int64 positions of the maxima in L.
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over sliding windows of an (N, C, H, W) input, as ``torch.nn.functional.max_pool2d``.

    ``stride`` defaults to ``kernel_size``; padding counts as -inf.

    Shape:
        input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) with
        H_out = floor_or_ceil((H + 2*padding[0] - dilation[0]*(kH-1) - 1) / stride[0]) + 1.
        With ``return_indices`` also the int64 positions of the maxima in the flattened H*W.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Average over sliding windows of an (N, C, L) input, as ``torch.nn.functional.avg_pool1d``.

    Shape:
        input (N, C, L) or (C, L); output (N, C, L_out),
        L_out = floor_or_ceil((L + 2*padding - k) / stride) + 1.
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Average over sliding windows of an (N, C, H, W) input, as PyTorch's ``avg_pool2d``.

    Zero padding is counted in the average unless ``count_include_pad=False``;
    ``divisor_override`` replaces the window size as divisor.

    Shape:
        input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out),
        H_out = floor_or_ceil((H + 2*padding[0] - kH) / stride[0]) + 1.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive_size(op: str, output_size: Any, dims: int, x: Tensor) -> tuple:
    if isinstance(output_size, int) or output_size is None:
        sizes = (output_size,) * dims
    else:
        sizes = tuple(output_size)
    if len(sizes) != dims:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {dims}, "
                         f"got {output_size!r}")
    spatial = tuple(x.shape[-dims:])
    sizes = tuple(n if s is None else int(s) for s, n in zip(sizes, spatial))
    if any(s < 1 for s in sizes):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return ((1,) + sizes) if dims == 1 else sizes


def _adaptive_bounds(n: int, o: int) -> tuple[Any, Any]:
    i = xp.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def _average_matrix(n: int, o: int) -> Any:
    start, end = _adaptive_bounds(n, o)
    cols = xp.arange(n)
    inside = (cols >= start.reshape(-1, 1)) & (cols < end.reshape(-1, 1))
    return inside / (end - start).reshape(-1, 1)


def _adaptive_avg(op: str, dims: int, input: Tensor, output_size: Any) -> Tensor:
    x, in_shape = _to_4d(op, input, dims)
    if not x.is_floating_point():
        raise TypeError(f"{op}: expected a floating point input, got {x.dtype}; use input.float()")
    out = _adaptive_size(op, output_size, dims, input)
    size = tuple(x.shape[2:])
    if out == (1, 1):  # global average pooling: PyTorch takes the mean
        y = x.mean((2, 3), keepdim=True)
    elif all(n % o == 0 for n, o in zip(size, out)):
        kernel = tuple(n // o for n, o in zip(size, out))
        geo = K.Geometry(size, kernel, kernel, ((0, 0), (0, 0)), (1, 1), out)
        y = _AvgPool.apply(x, _PoolSpec(geo, kernel[0] * kernel[1]))
    else:
        a = _average_matrix(size[0], out[0]) if size[0] != out[0] else None
        b = _average_matrix(size[1], out[1]) if size[1] != out[1] else None
        y = _Separable.apply(x, a, b, True)
    return _from_4d(y, dims, in_shape)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output length, as PyTorch's ``adaptive_avg_pool1d``.

    Window i covers [floor(i*L/L_out), ceil((i+1)*L/L_out)).

    Shape:
        input (N, C, L) or (C, L); output (N, C, output_size).
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size, as PyTorch's ``adaptive_avg_pool2d``.

    Shape:
        input (N, C, H, W) or (C, H, W); output (N, C, *output_size) (None keeps a size).
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size, as PyTorch's ``adaptive_max_pool2d``.

    Shape:
        input (N, C, H, W) or (C, H, W); output (N, C, *output_size); with
        ``return_indices`` also the int64 positions of the maxima in the flattened H*W.
    """
    op = "adaptive_max_pool2d"
    x, in_shape = _to_4d(op, input, 2)
    out = _adaptive_size(op, output_size, 2, input)
    size = tuple(x.shape[2:])
    if all(n % o == 0 for n, o in zip(size, out)):
        kernel = tuple(n // o for n, o in zip(size, out))
        return max_pool2d(input, kernel, kernel, return_indices=return_indices)
    index = _adaptive_max_indices(x.array, size, out)
    y = _from_4d(_IndexGather.apply(x, index), 2, in_shape)
    return (y, _from_4d(Tensor(index), 2, in_shape)) if return_indices else y


def _adaptive_max_indices(x: Any, size: tuple, out: tuple) -> Any:
    """Flat (H*W) index of each window's maximum; windows are padded by repeating their
    last element, which never changes a maximum nor its first position."""
    taps = []
    for n, o in zip(size, out):
        start, end = _adaptive_bounds(n, o)
        width = int((end - start).max())
        taps.append(xp.minimum(start.reshape(-1, 1) + xp.arange(width), (end - 1).reshape(-1, 1)))
    rows, cols = taps  # (Ho, kh), (Wo, kw)
    flat = rows[:, None, :, None] * size[1] + cols[None, :, None, :]  # (Ho, Wo, kh, kw)
    n, c = x.shape[:2]
    values = x.reshape(n, c, -1)[:, :, flat.reshape(-1)].reshape(n, c, out[0], out[1], -1)
    nan = xp.isnan(values)
    best = xp.where(nan.any(-1), xp.argmax(nan, -1), xp.argmax(values, -1))
    return xp.take_along_axis(flat.reshape(out[0], out[1], -1)[None, None],
                              best[..., None], axis=-1)[..., 0]


# --- declared test cases ------------------------------------------------------------
def _torch_f() -> Any:
    import torch.nn.functional as F

    return F


def _ref_adaptive(x: Any, out: tuple, reduce: Any) -> Any:
    """Adaptive pooling written out window by window (a test reference, not op code)."""
    def bounds(n: int, o: int) -> list:
        return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]

    rows, cols = bounds(x.shape[-2], out[0]), bounds(x.shape[-1], out[1])
    return xp.stack([xp.stack([reduce(x[..., r0:r1, c0:c1], axis=(-2, -1)) for c0, c1 in cols],
                              -1) for r0, r1 in rows], -2)


def _ref_pool2d(x: Any, k: int, s: int, reduce: Any) -> Any:
    win = xp.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    return reduce(win, axis=(-2, -1))


declare(
    OpCase("max_pool2d", lambda x: max_pool2d(x, 2), [(2, 3, 4, 6)],
           ref=lambda x: _ref_pool2d(x, 2, 2, xp.max),
           torch_fn=lambda x: _torch_f().max_pool2d(x, 2)),
    OpCase("max_pool2d", lambda x: max_pool2d(x, 3, 2, padding=1, dilation=(1, 2), ceil_mode=True),
           [(1, 2, 6, 7)],
           torch_fn=lambda x: _torch_f().max_pool2d(x, 3, 2, padding=1, dilation=(1, 2),
                                                    ceil_mode=True),
           label="pad,dilation,ceil"),
    OpCase("max_pool2d", lambda x: max_pool2d(x, (2, 3), (1, 2), return_indices=True), [(2, 4, 5)],
           torch_fn=lambda x: _torch_f().max_pool2d(x, (2, 3), (1, 2), return_indices=True),
           label="overlap,unbatched,indices"),
    OpCase("max_pool1d", lambda x: max_pool1d(x, 3, 2, padding=1, return_indices=True), [(2, 3, 7)],
           torch_fn=lambda x: _torch_f().max_pool1d(x, 3, 2, padding=1, return_indices=True)),
    OpCase("avg_pool2d", lambda x: avg_pool2d(x, 2), [(2, 3, 4, 6)],
           ref=lambda x: _ref_pool2d(x, 2, 2, xp.mean),
           torch_fn=lambda x: _torch_f().avg_pool2d(x, 2)),
    OpCase("avg_pool2d", lambda x: avg_pool2d(x, 3, 2, padding=1, ceil_mode=True,
                                              count_include_pad=False),
           [(1, 2, 6, 5)],
           torch_fn=lambda x: _torch_f().avg_pool2d(x, 3, 2, padding=1, ceil_mode=True,
                                                    count_include_pad=False),
           label="pad,ceil,exclude-pad"),
    OpCase("avg_pool2d", lambda x: avg_pool2d(x, (2, 3), 1, padding=1, ceil_mode=True,
                                              divisor_override=4),
           [(1, 2, 4, 5)],
           torch_fn=lambda x: _torch_f().avg_pool2d(x, (2, 3), 1, padding=1, ceil_mode=True,
                                                    divisor_override=4),
           label="divisor_override"),
    OpCase("avg_pool1d", lambda x: avg_pool1d(x, 3, 2, padding=1, ceil_mode=True), [(2, 3, 8)],
           torch_fn=lambda x: _torch_f().avg_pool1d(x, 3, 2, padding=1, ceil_mode=True)),
    OpCase("adaptive_avg_pool2d", lambda x: adaptive_avg_pool2d(x, (3, 2)), [(2, 2, 5, 4)],
           ref=lambda x: _ref_adaptive(x, (3, 2), xp.mean),
           torch_fn=lambda x: _torch_f().adaptive_avg_pool2d(x, (3, 2))),
    OpCase("adaptive_avg_pool2d", lambda x: adaptive_avg_pool2d(x, 1), [(2, 3, 4, 4)],
           ref=lambda x: x.mean(axis=(2, 3), keepdims=True),
           torch_fn=lambda x: _torch_f().adaptive_avg_pool2d(x, 1), label="global"),
    OpCase("adaptive_avg_pool1d", lambda x: adaptive_avg_pool1d(x, 4), [(2, 3, 7)],
           ref=lambda x: _ref_adaptive(x[:, :, None], (1, 4), xp.mean)[:, :, 0],
           torch_fn=lambda x: _torch_f().adaptive_avg_pool1d(x, 4)),
    OpCase("adaptive_max_pool2d", lambda x: adaptive_max_pool2d(x, (2, 3), return_indices=True),
           [(2, 2, 5, 7)],
           torch_fn=lambda x: _torch_f().adaptive_max_pool2d(x, (2, 3), return_indices=True)),
    OpCase("adaptive_max_pool2d", lambda x: adaptive_max_pool2d(x, (2, None)), [(1, 2, 4, 3)],
           ref=lambda x: _ref_adaptive(x, (2, 3), xp.max),
           torch_fn=lambda x: _torch_f().adaptive_max_pool2d(x, (2, None)), label="divisible,None"),
)

__all__ = [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_max_pool2d",
]

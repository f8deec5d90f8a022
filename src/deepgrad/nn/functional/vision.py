"""Resampling: interpolate / upsample (nearest, nearest-exact, linear, bilinear, area) and
pixel_shuffle / pixel_unshuffle, with PyTorch's signatures and index rules.

Nearest upsampling by a whole factor repeats each axis (``_Repeat``); its gradient
sums each block (``_BlockSum``), the two ops each other's derivatives. Every other mode is separable: the output is
``A @ x @ B.T`` over the last two dimensions, with constant resampling matrices
A (H_out, H) and B (W_out, W) built from PyTorch's source-index formulas: one
``_Separable`` op whose gradient is the same op with the transposed matrices.
The pixel shuffles are reshapes and one permute.
"""

from __future__ import annotations

import math
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.nn.functional.pooling import _Separable, adaptive_avg_pool1d, adaptive_avg_pool2d
from deepgrad.ops._registry import OpCase, declare
from deepgrad.tensor import Tensor

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")


def _scale(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> float:
    """PyTorch's area_pixel_compute_scale: the step in input pixels per output pixel."""
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else n_in / n_out


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool) -> Any:
    """Source index of each output position (computed in float32, as PyTorch does)."""
    if not exact and n_out == n_in:
        return xp.arange(n_out)
    if not exact and n_out == 2 * n_in:
        return xp.arange(n_out) // 2
    dst = xp.arange(n_out, dtype=xp.float32)
    step = xp.float32(1.0 / scale if scale is not None and scale > 0 else n_in / n_out)
    src = xp.floor((dst + xp.float32(0.5)) * step if exact else dst * step).astype(xp.int64)
    return xp.minimum(src, n_in - 1)


def _one_hot(index: Any, n_in: int) -> Any:
    return (index.reshape(-1, 1) == xp.arange(n_in)).astype(xp.float64)


def _linear_matrix(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> Any:
    """(n_out, n_in) weights of linear interpolation (PyTorch's source-index rule)."""
    step = _scale(n_in, n_out, scale, align_corners)
    dst = xp.arange(n_out, dtype=xp.float64)
    src = step * dst if align_corners else xp.maximum(step * (dst + 0.5) - 0.5, 0.0)
    lo = xp.minimum(xp.floor(src).astype(xp.int64), n_in - 1)
    hi = xp.minimum(lo + 1, n_in - 1)
    frac = src - lo
    matrix = xp.zeros((n_out, n_in))
    rows = xp.arange(n_out)
    matrix[rows, lo] += 1.0 - frac
    matrix[rows, hi] += frac
    return matrix


def _output_size(op: str, x: Tensor, dims: int, size: Any, scale_factor: Any) -> tuple:
    spatial = tuple(x.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size or scale_factor (got size={size!r}, "
                         f"scale_factor={scale_factor!r})")
    if size is not None:
        out = (size,) * dims if isinstance(size, int) else tuple(size)
        if len(out) != dims:
            raise ValueError(f"{op}: size must be an int or a tuple of {dims} for an input of "
                             f"shape {tuple(x.shape)}, got {size!r}")
        scales = (None,) * dims
    else:
        scales = ((float(scale_factor),) * dims if isinstance(scale_factor, (int, float))
                  else tuple(float(s) for s in scale_factor))
        if len(scales) != dims:
            raise ValueError(f"{op}: scale_factor must be a number or a tuple of {dims} for an "
                             f"input of shape {tuple(x.shape)}, got {scale_factor!r}")
        out = tuple(math.floor(n * s) for n, s in zip(spatial, scales))
    if any(int(o) < 1 for o in out):
        raise ValueError(f"{op}: the output size {out} must be positive (input of shape "
                         f"{tuple(x.shape)})")
    return tuple(int(o) for o in out), scales


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dimensions, as ``torch.nn.functional.interpolate``.

    Modes: 'nearest', 'nearest-exact', 'area' (3-d or 4-d input), 'linear' (3-d),
    'bilinear' (4-d, with ``align_corners``). Give ``size`` or ``scale_factor``.

    Shape:
        input (N, C, L) or (N, C, H, W); output (N, C, *size), or the input size
        times scale_factor rounded down.
    """
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if mode not in _MODES:
        raise NotImplementedError(f"{op}: mode {mode!r} is not supported; use one of {_MODES}")
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-d (N, C, L) or 4-d (N, C, H, W) input, got shape "
                         f"{tuple(input.shape)}")
    if not input.is_floating_point():
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype}; "
                        "use input.float()")
    dims = input.ndim - 2
    linear = mode in ("linear", "bilinear")
    if (mode == "linear" and dims != 1) or (mode == "bilinear" and dims != 2):
        raise ValueError(f"{op}: mode {mode!r} expects a {3 if mode == 'linear' else 4}-d input, "
                         f"got shape {tuple(input.shape)}")
    if align_corners is not None and not linear:
        raise ValueError(f"{op}: align_corners can only be set with the interpolating modes "
                         f"linear | bilinear, not {mode!r}")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    out, scales = _output_size(op, input, dims, size, scale_factor)
    if recompute_scale_factor:
        scales = (None,) * dims
    if mode == "area":
        return (adaptive_avg_pool1d if dims == 1 else adaptive_avg_pool2d)(input, out)
    spatial = tuple(input.shape[2:])
    if not linear:
        exact = mode == "nearest-exact"
        index = [_nearest_index(n, o, s, exact) for n, o, s in zip(spatial, out, scales)]
        factors = [o // n for n, o in zip(spatial, out)]
        if all(f >= 1 and xp.array_equal(i, xp.arange(o) // f)
               for i, o, f in zip(index, out, factors)):
            return _repeat(input, factors)
        matrices = [None if xp.array_equal(i, xp.arange(n)) and o == n else _one_hot(i, n)
                    for i, n, o in zip(index, spatial, out)]
    else:
        matrices = [None if n == o and (align_corners or s in (None, 1.0))
                    else _linear_matrix(n, o, s, bool(align_corners))
                    for n, o, s in zip(spatial, out, scales)]
    if dims == 1:
        return _Separable.apply(input, None, matrices[0])
    return _Separable.apply(input, matrices[0], matrices[1])


class _Repeat(Function):
    """Nearest upsampling by whole factors: each spatial axis repeated (one copy per axis
    whose factor is above 1). Its gradient is ``_BlockSum``, and the other way round."""

    @staticmethod
    def forward(ctx, x, factors):
        ctx.factors = factors
        out = x.array
        for axis, f in enumerate(factors, start=2):
            if f > 1:
                out = xp.repeat(out, f, axis=axis)
        return out

    @staticmethod
    def backward(ctx, grad):
        return _BlockSum.apply(grad, ctx.factors), None


class _BlockSum(Function):
    """Sum of each f_1 x f_2 block of the spatial axes: the adjoint of ``_Repeat``. Added up
    as f strided slices per axis (a NumPy reduction over the small interleaved axes of a
    (N, C, H, f, W, f) view is some 20x slower)."""

    @staticmethod
    def forward(ctx, g, factors):
        ctx.factors = factors
        out = g.array
        for axis, f in enumerate(factors, start=2):
            if f == 1:
                continue
            split = out.reshape(out.shape[:axis] + (out.shape[axis] // f, f) + out.shape[axis + 1:])
            lead = (slice(None),) * (axis + 1)
            total = split[lead + (0,)] + split[lead + (1,)]
            for i in range(2, f):
                total += split[lead + (i,)]
            out = total
        return out

    @staticmethod
    def backward(ctx, grad):
        return _Repeat.apply(grad, ctx.factors), None


def _repeat(input: Tensor, factors: list[int]) -> Tensor:
    """Nearest upsampling by whole factors (one op; its gradient sums the blocks)."""
    if all(f == 1 for f in factors):
        return input.clone()  # a new tensor, as PyTorch gives
    return _Repeat.apply(input, tuple(factors))


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """``interpolate`` under its older name (``torch.nn.functional.upsample``)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Nearest-neighbour upsampling: ``interpolate(mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Bilinear upsampling with ``align_corners=True`` (PyTorch's upsample_bilinear)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Rearrange (*, C*r*r, H, W) into (*, C, H*r, W*r) (sub-pixel convolution's upsampling).

    Shape:
        input (*, C*r^2, H, W); output (*, C, H*r, W*r) with r = upscale_factor.
    """
    r = int(upscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expected an input of shape (*, C*{r}*{r}, H, W) with at "
                         f"least 3 dimensions, got {tuple(input.shape)}; its channel dimension "
                         f"must be divisible by upscale_factor**2 = {r * r}")
    *batch, c, h, w = input.shape
    lead = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    order = tuple(range(lead)) + tuple(lead + i for i in (0, 3, 1, 4, 2))
    return x.permute(order).reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """Inverse of pixel_shuffle: (*, C, H*r, W*r) -> (*, C*r*r, H, W).

    Shape:
        input (*, C, H*r, W*r); output (*, C*r^2, H, W) with r = downscale_factor.
    """
    r = int(downscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-2] % r or input.shape[-1] % r:
        raise ValueError(f"pixel_unshuffle: expected an input of shape (*, C, H, W) with H and W "
                         f"divisible by downscale_factor={r}, got {tuple(input.shape)}")
    *batch, c, h, w = input.shape
    lead = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    order = tuple(range(lead)) + tuple(lead + i for i in (0, 2, 4, 1, 3))
    return x.permute(order).reshape(*batch, c * r * r, h // r, w // r)


# --- declared test cases ------------------------------------------------------------
def _torch_f() -> Any:
    import torch.nn.functional as F

    return F


def _ref_bilinear(x: Any, size: tuple, align_corners: bool, scales: tuple = (None, None)) -> Any:
    """Direct bilinear interpolation: each output pixel mixes its four neighbours."""
    coords = []
    for n, o, s in zip(x.shape[2:], size, scales):
        dst = xp.arange(o, dtype=xp.float64)
        if align_corners:
            src = dst * ((n - 1) / (o - 1) if o > 1 else 0.0)
        else:
            src = xp.maximum((dst + 0.5) * (1 / s if s else n / o) - 0.5, 0)
        lo = xp.minimum(xp.floor(src).astype(int), n - 1)
        coords.append((lo, xp.minimum(lo + 1, n - 1), src - lo))
    (r0, r1, fr), (c0, c1, fc) = coords
    fr, fc = fr[:, None], fc[None, :]
    top = x[:, :, r0][:, :, :, c0] * (1 - fc) + x[:, :, r0][:, :, :, c1] * fc
    bottom = x[:, :, r1][:, :, :, c0] * (1 - fc) + x[:, :, r1][:, :, :, c1] * fc
    return top * (1 - fr) + bottom * fr


def _ref_pixel_shuffle(x: Any, r: int) -> Any:
    n, c, h, w = x.shape
    return x.reshape(n, c // r // r, r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(
        n, c // r // r, h * r, w * r)


declare(
    OpCase("interpolate", lambda x: interpolate(x, scale_factor=2), [(1, 2, 2, 3)],
           ref=lambda x: x.repeat(2, axis=2).repeat(2, axis=3),
           torch_fn=lambda x: _torch_f().interpolate(x, scale_factor=2), label="nearest,x2"),
    OpCase("interpolate", lambda x: interpolate(x, scale_factor=(3, 1)), [(2, 1, 2, 3)],
           ref=lambda x: x.repeat(3, axis=2),
           torch_fn=lambda x: _torch_f().interpolate(x, scale_factor=(3, 1)), label="nearest,x3x1"),
    OpCase("interpolate", lambda x: interpolate(x, scale_factor=3), [(2, 2, 3)],
           ref=lambda x: x.repeat(3, axis=2),
           torch_fn=lambda x: _torch_f().interpolate(x, scale_factor=3), label="nearest,1d,x3"),
    OpCase("interpolate", lambda x: interpolate(x, size=(3, 5)), [(1, 2, 4, 3)],
           ref=lambda x: x[:, :, [0, 1, 2]][:, :, :, [0, 0, 1, 1, 2]],
           torch_fn=lambda x: _torch_f().interpolate(x, size=(3, 5)), label="nearest,size"),
    OpCase("interpolate", lambda x: interpolate(x, scale_factor=1.7, mode="nearest-exact"),
           [(2, 1, 3, 2)], ref=lambda x: x[:, :, [0, 0, 1, 2, 2]][:, :, :, [0, 0, 1]],
           torch_fn=lambda x: _torch_f().interpolate(x, scale_factor=1.7, mode="nearest-exact"),
           label="nearest-exact"),
    OpCase("interpolate", lambda x: interpolate(x, scale_factor=(2, 1.5), mode="bilinear"),
           [(1, 2, 3, 4)], ref=lambda x: _ref_bilinear(x, (6, 6), False, (2, 1.5)),
           torch_fn=lambda x: _torch_f().interpolate(x, scale_factor=(2, 1.5), mode="bilinear"),
           label="bilinear"),
    OpCase("interpolate",
           lambda x: interpolate(x, size=(4, 2), mode="bilinear", align_corners=True),
           [(1, 2, 3, 5)], ref=lambda x: _ref_bilinear(x, (4, 2), True),
           torch_fn=lambda x: _torch_f().interpolate(x, size=(4, 2), mode="bilinear",
                                                     align_corners=True),
           label="bilinear,align_corners,down"),
    OpCase("interpolate", lambda x: interpolate(x, size=7, mode="linear"), [(2, 2, 4)],
           ref=lambda x: _ref_bilinear(x[:, :, None], (1, 7), False)[:, :, 0],
           torch_fn=lambda x: _torch_f().interpolate(x, size=7, mode="linear"), label="linear"),
    OpCase("interpolate", lambda x: interpolate(x, size=(2, 3), mode="area"), [(1, 2, 5, 6)],
           torch_fn=lambda x: _torch_f().interpolate(x, size=(2, 3), mode="area"), label="area"),
    OpCase("pixel_shuffle", lambda x: pixel_shuffle(x, 2), [(2, 8, 2, 3)],
           ref=lambda x: _ref_pixel_shuffle(x, 2),
           torch_fn=lambda x: _torch_f().pixel_shuffle(x, 2)),
    OpCase("pixel_unshuffle", lambda x: pixel_unshuffle(x, 2), [(2, 4, 6)],
           ref=lambda x: x.reshape(2, 2, 2, 3, 2).transpose(0, 2, 4, 1, 3).reshape(8, 2, 3),
           torch_fn=lambda x: _torch_f().pixel_unshuffle(x, 2)),
)

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle"]

"""Vectorized image operations behind ``deepgrad.data.transforms``.

Every function here works on a *batch* laid out ``(N, ..., H, W)``: the first
axis indexes samples, the last two are height and width, and anything between
(usually one channel axis, so NCHW) is carried along. Per-sample parameters
(offsets, angles, boxes) are arrays of length ``N``; no function loops over
samples or pixels in Python. Inputs may be NumPy arrays or arrays of
deepgrad's backend (CuPy); parameters are host NumPy arrays.
"""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Sequence

import numpy as np

from .._tensor import array_module

__all__ = [
    "parse_padding",
    "pad",
    "crop",
    "center_crop",
    "flip",
    "affine_sample",
    "affine_matrices",
    "resize",
    "erase",
    "sample_boxes",
]

_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def _as_nchw(x: Any) -> tuple[Any, tuple[int, ...]]:
    """Reshape ``(N, ..., H, W)`` to ``(N, C, H, W)``; also return the original shape."""
    if x.ndim < 3:
        raise ValueError(
            f"expected a batch shaped (N, ..., H, W) with at least 3 axes; got shape {tuple(x.shape)}"
        )
    shape = tuple(x.shape)
    return x.reshape(shape[0], -1, shape[-2], shape[-1]), shape


def _cast_like(values: Any, dtype: Any, xp: Any) -> Any:
    """Cast computed float values back to ``dtype`` (rounding and clipping integers)."""
    if np.dtype(dtype).kind in "ui":
        info = np.iinfo(dtype)
        return xp.clip(xp.rint(values), info.min, info.max).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return values > 0.5
    return values.astype(dtype, copy=False)


def parse_padding(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` from an int, a (left/right, top/bottom) pair or a 4-tuple."""
    if isinstance(padding, (int, np.integer)):
        p = int(padding)
        out = (p, p, p, p)
    elif isinstance(padding, Sequence) and len(padding) == 2:
        out = (int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1]))
    elif isinstance(padding, Sequence) and len(padding) == 4:
        out = tuple(int(p) for p in padding)  # type: ignore[assignment]
    else:
        raise ValueError(
            f"padding must be an int, a pair (left/right, top/bottom) or a 4-tuple "
            f"(left, top, right, bottom); got {padding!r}"
        )
    if min(out) < 0:
        raise ValueError(f"padding must be non-negative; got {padding!r}")
    return out


def pad(x: Any, padding: tuple[int, int, int, int], fill: float = 0, padding_mode: str = "constant") -> Any:
    """Pad the last two axes by ``(left, top, right, bottom)``.

    ``padding_mode``: ``constant`` (with ``fill``), ``edge``, ``reflect`` or ``symmetric``.
    """
    if padding_mode not in _PAD_MODES:
        raise ValueError(
            f"padding_mode must be one of {sorted(_PAD_MODES)}; got {padding_mode!r}"
        )
    left, top, right, bottom = padding
    if not any(padding):
        return x
    xp = array_module(x)
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    if padding_mode == "constant":
        return xp.pad(x, widths, mode="constant", constant_values=fill)
    return xp.pad(x, widths, mode=_PAD_MODES[padding_mode])


def crop(x: Any, top: Any, left: Any, height: int, width: int) -> Any:
    """Crop ``height x width`` windows at per-sample ``(top, left)`` from a batch.

    ``top`` and ``left`` are integer arrays of length ``N`` (or scalars). One
    gather for the whole batch.
    """
    xp = array_module(x)
    xb, shape = _as_nchw(x)
    n, c, h, w = xb.shape
    top = np.broadcast_to(np.asarray(top, dtype=np.int64), (n,))
    left = np.broadcast_to(np.asarray(left, dtype=np.int64), (n,))
    if top.min(initial=0) < 0 or left.min(initial=0) < 0 or (top + height).max(initial=0) > h or (
        left + width
    ).max(initial=0) > w:
        raise ValueError(f"crop window {height}x{width} does not fit in images of size {h}x{w}")
    if np.all(top == top[0]) and np.all(left == left[0]):
        out = xb[:, :, top[0] : top[0] + height, left[0] : left[0] + width]
    else:
        rows = top[:, None] + np.arange(height)
        cols = left[:, None] + np.arange(width)
        flat = (rows[:, :, None] * w + cols[:, None, :]).reshape(n, 1, -1)
        out = xp.take_along_axis(xb.reshape(n, c, h * w), xp.asarray(flat), axis=2)
    return out.reshape(shape[:-2] + (height, width))


def center_crop(x: Any, height: int, width: int, fill: float = 0) -> Any:
    """Crop the centre ``height x width`` of ``(..., H, W)``; pads with ``fill`` if it is larger."""
    h, w = x.shape[-2], x.shape[-1]
    if height > h or width > w:
        ph, pw = max(height - h, 0), max(width - w, 0)
        x = pad(x, (pw // 2, ph // 2, pw - pw // 2, ph - ph // 2), fill=fill)
        h, w = x.shape[-2], x.shape[-1]
    top = int(round((h - height) / 2.0))
    left = int(round((w - width) / 2.0))
    return x[..., top : top + height, left : left + width]


def flip(x: Any, mask: Any, axis: int) -> Any:
    """Flip the samples of a batch where ``mask`` (length ``N``) is true, along ``axis``
    (-1: horizontal, -2: vertical)."""
    xp = array_module(x)
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return x
    flipped = xp.flip(x, axis=axis)
    if mask.all():
        return flipped
    m = xp.asarray(mask).reshape((-1,) + (1,) * (x.ndim - 1))
    return xp.where(m, flipped, x)


def affine_sample(
    x: Any,
    matrix: Any,
    offset: Any,
    out_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
    fill: float = 0,
    border: str = "fill",
) -> Any:
    """Resample a batch through per-sample affine maps, all samples at once.

    Output pixel ``(row, col)`` of sample ``n`` takes the input value at
    ``matrix[n] @ (col, row) + offset[n]`` (``matrix``: ``(N, 2, 2)``, ``offset``:
    ``(N, 2)``, both in ``(x, y)`` pixel coordinates). Points outside the input
    get ``fill`` (``border="fill"``) or the nearest edge pixel (``border="edge"``).
    ``interpolation``: ``nearest`` or ``bilinear``.
    """
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear'; got {interpolation!r}")
    if border not in ("fill", "edge"):
        raise ValueError(f"border must be 'fill' or 'edge'; got {border!r}")
    xp = array_module(x)
    xb, shape = _as_nchw(x)
    n, c, h, w = xb.shape
    ho, wo = out_size if out_size is not None else (h, w)
    m = xp.asarray(np.asarray(matrix, dtype=np.float32).reshape(n, 2, 2))
    t = xp.asarray(np.asarray(offset, dtype=np.float32).reshape(n, 2))
    xs = xp.arange(wo, dtype=xp.float32)[None, None, :]
    ys = xp.arange(ho, dtype=xp.float32)[None, :, None]
    sx = m[:, 0, 0, None, None] * xs + m[:, 0, 1, None, None] * ys + t[:, 0, None, None]
    sy = m[:, 1, 0, None, None] * xs + m[:, 1, 1, None, None] * ys + t[:, 1, None, None]
    if border == "edge":
        sx = xp.clip(sx, 0, w - 1)
        sy = xp.clip(sy, 0, h - 1)
    flat_src = xb.reshape(n, c, h * w)
    work = xb.dtype if xb.dtype.kind == "f" else xp.float32

    def gather(ix: Any, iy: Any) -> tuple[Any, Any]:
        valid = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        idx = xp.clip(iy, 0, h - 1) * w + xp.clip(ix, 0, w - 1)
        vals = xp.take_along_axis(flat_src, idx.reshape(n, 1, -1), axis=2)
        return vals, valid.reshape(n, 1, -1)

    if interpolation == "nearest":
        ix = xp.floor(sx + 0.5).astype(xp.int64)
        iy = xp.floor(sy + 0.5).astype(xp.int64)
        vals, valid = gather(ix, iy)
        out = xp.where(valid, vals, xp.asarray(fill, dtype=xb.dtype) if xb.dtype.kind != "b" else bool(fill))
        return out.reshape(shape[:-2] + (ho, wo))

    x0f = xp.floor(sx)
    y0f = xp.floor(sy)
    wx = (sx - x0f).reshape(n, 1, -1).astype(work)
    wy = (sy - y0f).reshape(n, 1, -1).astype(work)
    x0 = x0f.astype(xp.int64)
    y0 = y0f.astype(xp.int64)
    acc = None
    for dx, dy, wgt in (
        (0, 0, (1 - wx) * (1 - wy)),
        (1, 0, wx * (1 - wy)),
        (0, 1, (1 - wx) * wy),
        (1, 1, wx * wy),
    ):
        vals, valid = gather(x0 + dx, y0 + dy)
        vals = xp.where(valid, vals.astype(work), xp.asarray(fill, dtype=work))
        term = wgt * vals
        acc = term if acc is None else acc + term
    return _cast_like(acc, xb.dtype, xp).reshape(shape[:-2] + (ho, wo))


def affine_matrices(
    angle: Any,
    translate: Any,
    scale: Any,
    shear: Any,
    center: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse maps (``matrix``, ``offset``) for :func:`affine_sample`.

    The forward map of sample ``n`` rotates by ``angle[n]`` degrees
    counter-clockwise (as seen on screen, y pointing down), shears by
    ``shear[n] = (sx, sy)`` degrees, scales by ``scale[n]``, all about
    ``center = (cx, cy)``, then translates by ``translate[n] = (tx, ty)`` pixels.
    """
    angle = np.radians(np.asarray(angle, dtype=np.float64))
    n = angle.shape[0]
    translate = np.broadcast_to(np.asarray(translate, dtype=np.float64), (n, 2))
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n,))
    shear = np.radians(np.broadcast_to(np.asarray(shear, dtype=np.float64), (n, 2)))
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)
    shr = np.empty((n, 2, 2))
    shr[:, 0, 0] = 1.0
    shr[:, 0, 1] = np.tan(shear[:, 0])
    shr[:, 1, 0] = np.tan(shear[:, 1])
    shr[:, 1, 1] = 1.0
    fwd = rot @ shr * scale[:, None, None]
    det = fwd[:, 0, 0] * fwd[:, 1, 1] - fwd[:, 0, 1] * fwd[:, 1, 0]
    if np.any(np.abs(det) < 1e-12):
        raise ValueError("the affine transform is singular (scale 0 or shear of 90 degrees)")
    inv = np.empty_like(fwd)
    inv[:, 0, 0] = fwd[:, 1, 1] / det
    inv[:, 0, 1] = -fwd[:, 0, 1] / det
    inv[:, 1, 0] = -fwd[:, 1, 0] / det
    inv[:, 1, 1] = fwd[:, 0, 0] / det
    c = np.asarray(center, dtype=np.float64)
    # p_in = c + inv @ (p_out - c - t)  =>  offset = c - inv @ (c + t)
    offset = c[None, :] - np.einsum("nij,nj->ni", inv, c[None, :] + translate)
    return inv, offset


def resize(x: Any, size: tuple[int, int], interpolation: str = "bilinear", box: Any = None) -> Any:
    """Resize ``(N, ..., H, W)`` to ``size = (h, w)`` (half-pixel centres, edges replicated).

    ``box``: optional per-sample crop boxes ``(N, 4)`` as ``(top, left, height,
    width)`` to resize from instead of the whole image (crop-and-resize in one gather).
    """
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    ho, wo = size
    if box is None:
        box = np.broadcast_to(np.array([0, 0, h, w], dtype=np.float64), (n, 4))
    box = np.asarray(box, dtype=np.float64)
    sy, sx = box[:, 2] / ho, box[:, 3] / wo
    matrix = np.zeros((n, 2, 2))
    matrix[:, 0, 0] = sx
    matrix[:, 1, 1] = sy
    offset = np.stack([box[:, 1] + 0.5 * sx - 0.5, box[:, 0] + 0.5 * sy - 0.5], -1)
    return affine_sample(x, matrix, offset, (ho, wo), interpolation=interpolation, border="edge")


def erase(x: Any, boxes: Any, mask: Any, value: Any) -> Any:
    """Set the per-sample boxes ``(N, 4)`` = ``(top, left, height, width)`` of the samples
    where ``mask`` is true to ``value`` (a scalar or an array broadcastable to the batch)."""
    xp = array_module(x)
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    boxes = np.asarray(boxes, dtype=np.int64).reshape(n, 4)
    rows = np.arange(h)[None, :, None]
    cols = np.arange(w)[None, None, :]
    t, left, bh, bw = (boxes[:, k, None, None] for k in range(4))
    region = (rows >= t) & (rows < t + bh) & (cols >= left) & (cols < left + bw)
    region &= np.asarray(mask, dtype=bool)[:, None, None]
    region = xp.asarray(region.reshape((n,) + (1,) * (x.ndim - 3) + (h, w)))
    return xp.where(region, xp.asarray(value, dtype=x.dtype) if np.isscalar(value) else value, x)


def sample_boxes(
    rng: np.random.Generator,
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    fallback: str,
    trials: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample random boxes of area ``scale`` x image area and aspect ``ratio``
    (log-uniform), the first of ``trials`` tries that fits (as torchvision does).

    Returns ``boxes`` ``(n, 4)`` as ``(top, left, height, width)`` and ``found``
    (whether a try fitted). Samples where none fit get the whole image clamped
    to ``ratio`` (``fallback="center"``) or ``found=False`` (``fallback="none"``).
    """
    area = float(height * width)
    target = area * rng.uniform(scale[0], scale[1], size=(n, trials))
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    aspect = np.exp(rng.uniform(log_r[0], log_r[1], size=(n, trials)))
    bw = np.rint(np.sqrt(target * aspect)).astype(np.int64)
    bh = np.rint(np.sqrt(target / aspect)).astype(np.int64)
    ok = (bw > 0) & (bw <= width) & (bh > 0) & (bh <= height)
    found = ok.any(axis=1)
    first = np.argmax(ok, axis=1)
    rows = np.arange(n)
    bh, bw = bh[rows, first], bw[rows, first]
    u = rng.random((n, 2))
    top = np.floor(u[:, 0] * (height - bh + 1)).astype(np.int64)
    left = np.floor(u[:, 1] * (width - bw + 1)).astype(np.int64)
    if fallback == "center" and not found.all():
        in_ratio = width / height
        if in_ratio < min(ratio):
            fw, fh = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            fh, fw = height, int(round(height * max(ratio)))
        else:
            fw, fh = width, height
        miss = ~found
        bh[miss], bw[miss] = fh, fw
        top[miss], left[miss] = (height - fh) // 2, (width - fw) // 2
    boxes = np.stack([top, left, bh, bw], axis=1)
    return boxes, found

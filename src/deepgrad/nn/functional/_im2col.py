"""Strided-window kernels shared by convolution and pooling (arrays in, arrays out).

Everything here works on 4-d NCHW backend arrays; the 1-d ops reshape to H = 1.

Convolution works in a *CHWN* layout: the input is copied once, padded, into
an array of shape (C, Hp, Wp, N) (batch innermost). Its windows are then a
zero-copy ``as_strided`` view, and copying that view into the column matrix
(C*kh*kw, Ho*Wo*N) moves long contiguous runs (Wo*N elements for stride 1),
which is what makes im2col cheap. The convolution is then the matrix product
``weight (O, C*kh*kw) @ cols``, whose rows are output channels (the bias rides
along as an extra weight column against a row of ones); one transposing copy
gives NCHW back. The input gradient is the transposed product
(``weight.T @ grad``) followed by ``col2im``, which adds each kernel position's
rows back where they were read; for a stride-1 convolution with no more outputs
than inputs it is instead the convolution of the gradient with the flipped kernel
(``_input_grad_as_conv``: no scatter, and fewer rows of columns). The weight
gradient (and with the row of ones, the bias gradient) is the product
``cols @ grad.T``.

All three products go one block of output rows at a time (``row_blocks``): a block
of columns is written just before the product that reads it, or scattered by
col2im just after the product that wrote it, while it is in cache; the whole
column matrix never exists.

Padding is stored per side, ``((top, bottom), (left, right))``, because
``padding='same'`` with an even kernel pads one more on the bottom/right, and
ceil_mode pooling may need extra room on the far side.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

from deepgrad.backend import xp

as_strided = xp.lib.stride_tricks.as_strided


class Geometry(NamedTuple):
    """Where the windows of a convolution or pooling sit in its input.

    ``size`` is the unpadded input's (H, W); ``pads`` per side; ``out`` is (Ho, Wo).
    """

    size: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int]
    out: tuple[int, int]

    @property
    def padded(self) -> tuple[int, int]:
        """The padded size: at least input + pads, and enough for every window."""
        return tuple(
            max(n + p0 + p1, (o - 1) * s + d * (k - 1) + 1)
            for n, (p0, p1), o, s, d, k in zip(
                self.size, self.pads, self.out, self.stride, self.dilation, self.kernel)
        )

    def slices(self) -> list[tuple[int, int, slice, slice]]:
        """Per kernel position (i, j): the slices of the padded input read by all windows."""
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.kernel, self.stride, self.dilation, self.out
        return [
            (i, j, slice(i * dh, i * dh + (ho - 1) * sh + 1, sh),
             slice(j * dw, j * dw + (wo - 1) * sw + 1, sw))
            for i in range(kh) for j in range(kw)
        ]


def tuple_arg(value: Any, n: int, name: str, op: str, *, minimum: int = 0) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as an n-tuple, each at least ``minimum``."""
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if isinstance(value, int) or hasattr(value, "__index__"):
        values = (int(value),) * n
    elif isinstance(value, Sequence) and len(value) in (1, n):
        values = tuple(int(v) for v in value) * (n if len(value) == 1 else 1)
    else:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{op}: {name} must be at least {minimum} in every dimension, "
                         f"got {value!r}")
    return values


def out_size(n: int, k: int, s: int, p0: int, p1: int, d: int, ceil_mode: bool = False) -> int:
    """Windows along one dimension: PyTorch's formula, including ceil_mode's rounding up and
    its rule that the last window must start inside the input or its left padding."""
    span = n + p0 + p1 - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p0:
        out -= 1
    return max(out, 0)


# --- NCHW helpers (pooling) --------------------------------------------------------
def pad_nchw(x: Any, geo: Geometry, value: float = 0.0) -> Any:
    """``x`` padded to ``geo.padded`` with ``value`` (a new array), or ``x`` when no padding."""
    (top, _), (left, _) = geo.pads
    hp, wp = geo.padded
    n, c, h, w = x.shape
    if (hp, wp) == (h, w):
        return x
    out = xp.full((n, c, hp, wp), value, dtype=x.dtype)
    out[:, :, top:top + h, left:left + w] = x
    return out


def crop_nchw(xpad: Any, geo: Geometry) -> Any:
    (top, _), (left, _) = geo.pads
    h, w = geo.size
    return xpad[:, :, top:top + h, left:left + w]


def scatter_windows(values: Any, geo: Geometry, shape: tuple, dtype: Any) -> Any:
    """The adjoint of reading the kh*kw strided slices: an (N, C, H, W) array where each
    kernel position k adds ``array`` (masked by ``mask`` when not None), with
    ``array, mask = values(k)``, to the input positions it read.

    Windows that tile the input exactly (stride = kernel, no padding, no dilation) write
    each position once, so nothing is zeroed or accumulated.
    """
    tiles = (geo.stride == geo.kernel and geo.dilation == (1, 1) and geo.padded == geo.size
             and all(o * k == n for o, k, n in zip(geo.out, geo.kernel, geo.size)))
    hp, wp = geo.padded
    out = xp.empty if tiles else xp.zeros
    out = out((shape[0], shape[1], hp, wp), dtype=dtype)
    for k, (_, _, rows, cols) in enumerate(geo.slices()):
        array, mask = values(k)
        target = out[:, :, rows, cols]
        if tiles:
            if mask is None:
                target[...] = array
            else:
                xp.multiply(array, mask, out=target)
        else:
            target += array if mask is None else array * mask
    return out if tiles or (hp, wp) == geo.size else xp.ascontiguousarray(crop_nchw(out, geo))


# --- convolution in the CHWN layout ------------------------------------------------
# A transposing copy moves slabs of about this many bytes at a time.
_SLAB_BYTES = 32 * 2**10


def _transpose_into(src: Any, dst: Any) -> None:
    """``dst[...] = src.T`` for 2-d arrays. A tall ``src`` (the (C*H*W, N) -> (N, C*H*W) move
    of a convolution's output) goes one slab of rows at a time, each read and written while
    in cache: ~2.7x faster than one copy, whose every read misses. A wide one is copied as
    it is (NumPy's copy then writes long runs and is as fast)."""
    rows, cols = src.shape
    if rows <= cols:
        dst[...] = src.T
        return
    step = max(16, _SLAB_BYTES // max(1, cols * src.itemsize))
    for i in range(0, rows, step):
        dst[:, i:i + step] = src[i:i + step].T


def to_chwn(x: Any, geo: Geometry) -> Any:
    """(N, C, H, W) -> zero-padded (C, Hp, Wp, N), contiguous."""
    (top, _), (left, _) = geo.pads
    hp, wp = geo.padded
    n, c, h, w = x.shape
    if (hp, wp) == (h, w):
        out = xp.empty((c, h, w, n), dtype=x.dtype)
    else:
        out = xp.zeros((c, hp, wp, n), dtype=x.dtype)
    out[:, top:top + h, left:left + w, :] = x.transpose(1, 2, 3, 0)
    return out


def im2col(x: Any, geo: Geometry, ones: bool = False) -> Any:
    """The column matrix (C*kh*kw, Ho*Wo*N) of x (N, C, H, W); with ``ones`` a last row
    of ones is appended, so that a bias column in the weight matrix adds the bias and
    the weight-gradient product also gives the bias gradient."""
    padded = to_chwn(x, geo)
    c = padded.shape[0]
    s_c, s_h, s_w, s_n = padded.strides
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.kernel, geo.stride, geo.dilation, geo.out
    n = x.shape[0]
    view = as_strided(padded, (c, kh, kw, ho, wo, n),
                      (s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw, s_n), writeable=False)
    k = c * kh * kw
    cols = xp.empty((k + ones, ho * wo * n), dtype=x.dtype)
    cols[:k].reshape(c, kh, kw, ho, wo, n)[...] = view
    if ones:
        cols[k] = 1
    return cols


def grad_matrix(g: Any) -> Any:
    """(N, O, Ho, Wo) -> (O, Ho*Wo*N), contiguous: an output gradient in the columns' order."""
    n, o, ho, wo = g.shape
    out = xp.empty((o, ho, wo, n), dtype=g.dtype)
    out[...] = g.transpose(1, 2, 3, 0)
    return out.reshape(o, ho * wo * n)


# The long (Ho*Wo*N) dimension of the products is cut into blocks of whole output rows
# of about this many columns, whose operands stay in cache: up to twice as fast as one
# big product for LeNet's thin matrices.
_BLOCK_COLUMNS = 2048


def row_blocks(geo: Geometry, n: int, groups: int) -> int:
    """How many blocks of output rows the matrix products use (1 for grouped convolutions)."""
    ho, wo = geo.out
    if groups != 1:
        return 1
    for b in range(1, ho + 1):
        if ho % b == 0 and (ho // b) * wo * n <= _BLOCK_COLUMNS:
            return b
    return ho


def _grouped(matrix: Any, groups: int) -> Any:
    return matrix.reshape(groups, matrix.shape[0] // groups, -1)


def _split(view: Any, shape: tuple) -> Any:
    """``view`` reshaped without copying (setting .shape raises rather than copy)."""
    out = view.view()
    out.shape = shape
    return out


def column_blocks(padded: Any, geo: Geometry, blocks: int, ones: bool = False) -> Any:
    """The column matrix of ``im2col`` of a padded (C, Hp, Wp, N) array (``to_chwn``), one
    block of output rows at a time: yields each (C*kh*kw [+1], Ho*Wo*N/blocks) block,
    written into the same buffer just before it is used, so that the product reading it
    finds it in cache (the whole matrix would not fit; for LeNet's second conv this makes
    the forward ~30% faster)."""
    c, n = padded.shape[0], padded.shape[-1]
    s_c, s_h, s_w, s_n = padded.strides
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.kernel, geo.stride, geo.dilation, geo.out
    rows = ho // blocks
    windows = as_strided(padded, (c, kh, kw, ho, wo, n),
                         (s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw, s_n), writeable=False)
    k = c * kh * kw
    buffer = xp.empty((k + ones, rows * wo * n), dtype=padded.dtype)
    if ones:
        buffer[k] = 1
    target = buffer[:k].reshape(c, kh, kw, rows, wo, n)
    for r in range(0, ho, rows):
        target[...] = windows[:, :, :, r:r + rows]
        yield buffer


def conv_forward(x: Any, w: Any, geo: Geometry, groups: int, blocks: int,
                 bias: Any = None) -> Any:
    """The convolution of x (N, C, H, W) with weight (O, C/groups, kh, kw), as the product
    with x's columns: (O, Ho*Wo*N). ``bias`` goes in as a last weight column against a
    row of ones in the columns."""
    o = w.shape[0]
    wm = w.reshape(o, -1)
    if bias is not None:
        wm = xp.concatenate([wm, bias.reshape(o, 1)], axis=1)
    if groups != 1:
        cols = im2col(x, geo, ones=bias is not None)
        return xp.matmul(_grouped(wm, groups), _grouped(cols, groups)).reshape(o, -1)
    return _product_by_blocks(wm, to_chwn(x, geo), geo, blocks, ones=bias is not None)


def _product_by_blocks(wm: Any, padded: Any, geo: Geometry, blocks: int, ones: bool) -> Any:
    """wm (O, C*kh*kw [+1]) @ the columns of ``padded``, block by block: (O, Ho*Wo*N)."""
    length = geo.out[0] * geo.out[1] * padded.shape[-1] // blocks
    out = xp.empty((wm.shape[0], blocks * length), dtype=padded.dtype)
    for r, cols in enumerate(column_blocks(padded, geo, blocks, ones)):
        xp.matmul(wm, cols, out=out[:, r * length:(r + 1) * length])
    return out


def _batch_first(rows: Any, target: Any, bias: Any) -> None:
    """``target[...] = rows`` moved so that the batch axis (last in ``rows``) comes first,
    plus a per-channel ``bias`` (channels are the first axis of ``rows``). Contiguous rows
    are one 2-d transpose in cache-sized slabs; others (a crop of the padding) two copies:
    small (W, N) -> (N, W) transposes, then moves of whole W-runs (about twice as fast as
    one direct copy, whose reads stride by N)."""
    if rows.flags.c_contiguous:
        n = rows.shape[-1]
        _transpose_into(rows.reshape(-1, n), target.reshape(n, -1))
        if bias is not None:
            target += bias.reshape((1, -1) + (1,) * (target.ndim - 2))
        return
    swapped = xp.empty(rows.shape[:-2] + (rows.shape[-1], rows.shape[-2]), dtype=rows.dtype)
    if bias is None:
        swapped[...] = rows.swapaxes(-1, -2)
    else:  # channels are the first axis of ``rows``
        xp.add(rows.swapaxes(-1, -2), bias.reshape((-1,) + (1,) * (rows.ndim - 1)), out=swapped)
    batch = swapped.ndim - 2
    target[...] = swapped.transpose((batch,) + tuple(i for i in range(swapped.ndim) if i != batch))


def to_nchw(y: Any, n: int, hw: tuple[int, int], bias: Any = None) -> Any:
    """(O, H*W*N) -> contiguous (N, O, H, W), adding a per-channel ``bias``."""
    o = y.shape[0]
    out = xp.empty((n, o) + tuple(hw), dtype=y.dtype)
    _batch_first(y.reshape(o, *hw, n), out, bias)
    return out


def col2im(cols: Any, geo: Geometry, n: int, bias: Any = None) -> Any:
    """Adjoint of im2col: cols (blocks, C*kh*kw, Ho*Wo*N/blocks) summed back into an
    (N, C, H, W) array (plus a per-channel ``bias``)."""
    (kh, kw), (ho, wo) = geo.kernel, geo.out
    b = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    parts = cols.reshape(b, c, kh, kw, ho // b, wo, n)
    hp, wp = geo.padded
    out = xp.zeros((c, hp, wp, n), dtype=cols.dtype)
    for i, j, rows, columns in geo.slices():
        target = _split(out[:, rows, columns, :], (c, b, ho // b, wo, n))
        target += parts[:, :, i, j].transpose(1, 0, 2, 3, 4)
    (top, _), (left, _) = geo.pads
    h, w = geo.size
    result = xp.empty((n, c, h, w), dtype=cols.dtype)
    _batch_first(out[:, top:top + h, left:left + w, :], result, bias)
    return result


def conv_input_grad(gm: Any, w: Any, geo: Geometry, groups: int, n: int, blocks: int,
                    bias: Any = None) -> Any:
    """Adjoint of the convolution in x (conv_transpose): gm (O, Ho*Wo*N) -> (N, C, H, W)."""
    w = w.astype(gm.dtype, copy=False)
    o, c = w.shape[:2]
    wm = w.reshape(o, -1)
    if groups == 1:
        flipped = _full_correlation(geo) if o <= c else None
        if flipped is not None:
            return _input_grad_as_conv(gm, w, flipped, n, bias)
        return _input_grad_by_blocks(gm, wm.T, geo, n, blocks, bias)
    cols = xp.matmul(_grouped(wm, groups).swapaxes(1, 2), _grouped(gm, groups))
    return col2im(cols.reshape(1, groups * wm.shape[1], gm.shape[1]), geo, n, bias)


def _full_correlation(geo: Geometry) -> Geometry | None:
    """For a stride-1 convolution: the geometry of its input gradient computed as another
    convolution, of the output gradient (padded by the kernel's reach less the forward's
    padding) with the flipped kernel; None where that does not apply."""
    if geo.stride != (1, 1):
        return None
    pads = []
    for (p0, p1), k, d in zip(geo.pads, geo.kernel, geo.dilation):
        reach = d * (k - 1)
        if p0 > reach or p1 > reach:
            return None
        pads.append((reach - p0, reach - p1))
    return Geometry(geo.out, geo.kernel, (1, 1), tuple(pads), geo.dilation, geo.size)


def _input_grad_as_conv(gm: Any, w: Any, flipped: Geometry, n: int, bias: Any) -> Any:
    """The input gradient as the convolution of the output gradient gm (O, Ho*Wo*N) with
    the flipped kernel, channels swapped: no scatter, and columns of O*kh*kw rows where
    col2im's have C*kh*kw. Measured the faster way when O <= C (the convae's 16 -> 1
    layer 14 -> 1.9 ms, 8 -> 8 at 8x8 0.8 -> 0.35 ms), the slower when O > C (LeNet's
    6 -> 16 with padding 4 all round: 1.9 -> 8.2 ms)."""
    o, c = w.shape[:2]
    (ho, wo), ((top, _), (left, _)), (hp, wp) = flipped.size, flipped.pads, flipped.padded
    padded = xp.zeros((o, hp, wp, n), dtype=gm.dtype)
    padded[:, top:top + ho, left:left + wo, :] = gm.reshape(o, ho, wo, n)
    w_flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)
    y = _product_by_blocks(xp.ascontiguousarray(w_flipped), padded, flipped,
                           row_blocks(flipped, n, 1), ones=False)
    return to_nchw(y, n, flipped.out, bias)


def _input_grad_by_blocks(gm: Any, wm_t: Any, geo: Geometry, n: int, blocks: int,
                          bias: Any) -> Any:
    """col2im(wm_t @ gm) one block of output rows at a time: each block's columns are
    scattered while still in cache. The scatter goes first into one buffer per kernel
    column j, holding the input columns that j reads, so that every add writes whole
    contiguous rows (NumPy adds such runs ~2x faster than a strided window); the kw
    buffers are then added into place."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.kernel, geo.stride, geo.dilation, geo.out
    c = wm_t.shape[0] // (kh * kw)
    rows, run = ho // blocks, wo * n
    hp, wp = geo.padded
    per_column = xp.zeros((kw, c, hp, run), dtype=gm.dtype)
    block = xp.empty((wm_t.shape[0], rows * run), dtype=gm.dtype)
    parts = block.reshape(c, kh, kw, rows, run)
    for r0 in range(0, ho, rows):
        g = gm[:, r0 * run:(r0 + rows) * run]
        if g.shape[0] == 1:  # an outer product: NumPy's matmul skips BLAS at inner size 1
            xp.multiply(wm_t, g, out=block)
        else:
            xp.matmul(wm_t, g, out=block)
        for r in range(rows):
            top = (r0 + r) * sh
            span = slice(top, top + (kh - 1) * dh + 1, dh)  # the input rows of output row r
            for j in range(kw):
                per_column[j, :, span] += parts[:, :, j, r]
    out = xp.zeros((c, hp, wp, n), dtype=gm.dtype)
    for j in range(kw):
        out[:, :, j * dw:j * dw + (wo - 1) * sw + 1:sw] += per_column[j].reshape(c, hp, wo, n)
    (top, _), (left, _) = geo.pads
    h, w = geo.size
    result = xp.empty((n, c, h, w), dtype=gm.dtype)
    _batch_first(out[:, top:top + h, left:left + w, :], result, bias)
    return result


def conv_weight_grad(x: Any, gm: Any, w_shape: tuple, geo: Geometry, groups: int,
                     blocks: int, with_bias: bool = False) -> tuple[Any, Any]:
    """Adjoint of the convolution in w: (O, C/groups, kh, kw) from x (N, C, H, W) and the
    output gradient gm (O, Ho*Wo*N); with ``with_bias`` also the bias gradient (O,), from a
    row of ones in the columns, else None."""
    if groups != 1:
        cols = im2col(x, geo)
        dw = xp.matmul(_grouped(gm, groups), _grouped(cols, groups).swapaxes(1, 2))
        return dw.reshape(w_shape), None
    # cols @ gm.T, block by block: the long dimension contracted (BLAS's fast shape), each
    # block of columns rebuilt in cache rather than kept from the forward (it is large).
    length = gm.shape[1] // blocks
    k = math.prod(w_shape[1:])
    dw_t = xp.zeros((k + with_bias, gm.shape[0]), dtype=x.dtype)
    part = xp.empty_like(dw_t)
    for r, cols in enumerate(column_blocks(to_chwn(x, geo), geo, blocks, ones=with_bias)):
        dw_t += xp.matmul(cols, gm[:, r * length:(r + 1) * length].T, out=part)
    return dw_t[:k].T.reshape(w_shape), (dw_t[k] if with_bias else None)

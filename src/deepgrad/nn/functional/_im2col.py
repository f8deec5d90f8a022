"""Strided-window kernels shared by convolution and pooling (arrays in, arrays out).

Everything here works on 4-d NCHW backend arrays; the 1-d ops reshape to H = 1.

Convolution works in a *CHWN* layout: the input is copied once, padded, into
an array of shape (C, Hp, Wp, N) (batch innermost). Its windows are then a
zero-copy ``as_strided`` view, and copying that view into the column matrix
(C*kh*kw, Ho*Wo*N) moves long contiguous runs (Wo*N elements for stride 1),
which is what makes im2col cheap. The convolution is then ONE matrix product,
``weight (O, C*kh*kw) @ cols``, whose rows are output channels; one transposing
copy gives NCHW back. The input gradient is the transposed product
(``weight.T @ grad``) followed by ``col2im``: a loop over the kh*kw kernel
positions, each adding one strided block at once. The weight gradient is one
product ``cols @ grad.T``.

Padding is stored per side, ``((top, bottom), (left, right))``, because
``padding='same'`` with an even kernel pads one more on the bottom/right, and
ceil_mode pooling may need extra room on the far side.
"""

from __future__ import annotations

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
        raise ValueError(f"{op}: {name} must be at least {minimum} in every dimension, got {value!r}")
    return values


def out_size(n: int, k: int, s: int, p0: int, p1: int, d: int, ceil_mode: bool = False) -> int:
    """Windows along one dimension: PyTorch's formula, including ceil_mode's rule that
    the last window must start inside the input or its left padding."""
    span = n + p0 + p1 - d * (k - 1) - 1
    if span < 0:
        return 0
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= n + p0:
        out -= 1
    return out


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


def im2col(x: Any, geo: Geometry) -> Any:
    """The column matrix (C*kh*kw, Ho*Wo*N) of x (N, C, H, W)."""
    padded = to_chwn(x, geo)
    c = padded.shape[0]
    s_c, s_h, s_w, s_n = padded.strides
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.kernel, geo.stride, geo.dilation, geo.out
    n = x.shape[0]
    view = as_strided(padded, (c, kh, kw, ho, wo, n),
                      (s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw, s_n), writeable=False)
    cols = xp.empty((c, kh, kw, ho, wo, n), dtype=x.dtype)
    cols[...] = view
    return cols.reshape(c * kh * kw, ho * wo * n)


def grad_matrix(g: Any) -> Any:
    """(N, O, Ho, Wo) -> (O, Ho*Wo*N), contiguous: an output gradient in the columns' order."""
    n, o, ho, wo = g.shape
    out = xp.empty((o, ho, wo, n), dtype=g.dtype)
    out[...] = g.transpose(1, 2, 3, 0)
    return out.reshape(o, ho * wo * n)


def to_nchw(y: Any, n: int, hw: tuple[int, int], bias: Any = None) -> Any:
    """(O, H*W*N) -> contiguous (N, O, H, W), adding a per-channel ``bias`` on the way."""
    o = y.shape[0]
    view = y.reshape(o, hw[0], hw[1], n).transpose(3, 0, 1, 2)
    out = xp.empty((n, o, hw[0], hw[1]), dtype=y.dtype)
    if bias is None:
        out[...] = view
    else:
        xp.add(view, bias.reshape(1, o, 1, 1), out=out)
    return out


def _grouped(matrix: Any, groups: int) -> Any:
    return matrix if groups == 1 else matrix.reshape(groups, matrix.shape[0] // groups, -1)


def conv_matmul(w: Any, cols: Any, groups: int) -> Any:
    """weight (O, C/groups, kh, kw) times columns: (O, Ho*Wo*N)."""
    o = w.shape[0]
    y = xp.matmul(_grouped(w.reshape(o, -1), groups), _grouped(cols, groups))
    return y.reshape(o, -1)


def col2im(cols: Any, geo: Geometry, n: int, bias: Any = None) -> Any:
    """Adjoint of im2col: cols (C*kh*kw, Ho*Wo*N) summed back into an (N, C, H, W) array
    (plus a per-channel ``bias``)."""
    (kh, kw), (ho, wo) = geo.kernel, geo.out
    c = cols.shape[0] // (kh * kw)
    blocks = cols.reshape(c, kh, kw, ho, wo, n)
    hp, wp = geo.padded
    out = xp.zeros((c, hp, wp, n), dtype=cols.dtype)
    for i, j, rows, columns in geo.slices():
        out[:, rows, columns, :] += blocks[:, i, j]
    (top, _), (left, _) = geo.pads
    h, w = geo.size
    result = xp.empty((n, c, h, w), dtype=cols.dtype)
    view = out[:, top:top + h, left:left + w, :].transpose(3, 0, 1, 2)
    if bias is None:
        result[...] = view
    else:
        xp.add(view, bias.reshape(1, c, 1, 1), out=result)
    return result


def conv_input_grad(gm: Any, w: Any, geo: Geometry, groups: int, n: int, bias: Any = None) -> Any:
    """Adjoint of the convolution in x (conv_transpose): gm (O, Ho*Wo*N) -> (N, C, H, W)."""
    o = w.shape[0]
    wm = _grouped(w.reshape(o, -1), groups)
    cols = xp.matmul(wm.swapaxes(-1, -2), _grouped(gm, groups))
    return col2im(cols.reshape(-1, cols.shape[-1]), geo, n, bias)


def conv_weight_grad(cols: Any, gm: Any, w_shape: tuple, groups: int) -> Any:
    """Adjoint of the convolution in w: (O, C/groups, kh, kw) from columns and gm (O, L)."""
    # cols @ gm.T, with the long dimension contracted: BLAS's fast shape for this product.
    dw_t = xp.matmul(_grouped(cols, groups), _grouped(gm, groups).swapaxes(-1, -2))
    return dw_t.swapaxes(-1, -2).reshape(w_shape)

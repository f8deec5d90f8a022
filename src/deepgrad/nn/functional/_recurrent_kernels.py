"""The array kernels of the fused recurrences (arrays in, arrays out): forward and backward
through time of the LSTM, GRU and plain RNN, the step plan and the scratch memory.

``recurrent.py`` wraps them in one ``Function`` per layer and direction; its module
docs describe the layout and the algorithms.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Sequence

from deepgrad.backend import xp

class Plan:
    """The steps of one direction: (first row, number of rows) of each step, in the order run."""

    __slots__ = ("batch_sizes", "order")

    def __init__(self, batch_sizes: Sequence[int], reverse: bool = False) -> None:
        self.batch_sizes = tuple(int(b) for b in batch_sizes)
        starts, start = [], 0
        for b in self.batch_sizes:
            starts.append(start)
            start += b
        order = list(zip(starts, self.batch_sizes))
        if reverse:
            order.reverse()
        self.order = order


class Workspace:
    """Scratch memory recycled between calls.

    The recurrences need tens of MB of intermediates per call; fresh memory of that
    size costs a page fault per 4 KB on first touch, as much time as the arithmetic.
    Buffers go back here when the graph node that keeps them dies (or, for backward's
    scratch, when backward ends) and are handed out again, already mapped.
    """

    def __init__(self, limit_bytes: int = 256 << 20) -> None:
        self._free: list = []
        self._limit = limit_bytes
        self._lock = threading.RLock()  # a graph node may die (and give) inside take()

    def take(self, dtype: Any, *shapes: tuple) -> tuple:
        """(buffer, views): one flat buffer holding a C-contiguous array per shape."""
        sizes = [math.prod(s) for s in shapes]
        need = max(sum(sizes), 1)
        buffer = None
        with self._lock:
            best = -1
            for k, b in enumerate(self._free):
                if b.dtype == dtype and need <= b.size <= 2 * need and (
                        best < 0 or b.size < self._free[best].size):
                    best = k
            if best >= 0:
                buffer = self._free.pop(best)
        if buffer is None:
            buffer = xp.empty(need, dtype=dtype)
        views, start = [], 0
        for shape, size in zip(shapes, sizes):
            views.append(buffer[start:start + size].reshape(shape))
            start += size
        return buffer, views

    def give(self, buffer: Any) -> None:
        with self._lock:
            self._free.append(buffer)
            total = sum(b.nbytes for b in self._free)
            while total > self._limit and self._free:
                largest = max(range(len(self._free)), key=lambda k: self._free[k].nbytes)
                total -= self._free.pop(largest).nbytes


WORKSPACE = Workspace()


def _bias_grads(dpre: Any, need_ih: bool, need_hh: bool) -> tuple:
    """Both biases get the same gradient, as two arrays (a gradient may be changed in place)."""
    db = dpre.sum(0) if (need_ih or need_hh) else None
    if need_ih and need_hh:
        return db, db.copy()
    return (db if need_ih else None), (db if need_hh else None)


def _recurrent_product(w: Any, h: Any, h_t: Any, out: Any) -> Any:
    """``h @ w.T`` (bs, G) computed as ``w @ h.T`` (G, bs) and returned as its transposed view.

    For the step's shapes (a few dozen rows against a (G, hidden) weight) BLAS runs
    this orientation markedly faster; ``h_t`` and ``out`` are scratch buffers.
    """
    bs, width = h.shape
    ht = h_t[:width * bs].reshape(width, bs)
    ht[...] = h.T
    res = out[:w.shape[0] * bs].reshape(w.shape[0], bs)
    xp.matmul(w, ht, out=res)
    return res.T


# --- LSTM -----------------------------------------------------------------------------
# Each step runs in the transposed layout: a step's gates are one C-contiguous (4H, bs)
# block, so each gate is a contiguous (H, bs) chunk and every elementwise operation runs on
# contiguous memory (NumPy takes 2-3x as long on the strided (bs, H) column slices of a
# (bs, 4H) row block). The cell state and the gradients of the states are kept transposed
# too; rows (N, .) appear only where a product over all steps wants them.
#
# Forward: ONE product per step, ``w @ z_t.T``, gives the pre-activations of all four gates,
# input projection and bias included: ``w = [W_hh | W_ih | b_ih + b_hh]`` (4H, K) and the row
# ``z_t = [h_{t-1} | x_t | 1]`` (K = P + I + 1). The rows ``z`` are kept: the gradient of all
# of ``w`` is then one product too, ``dgates.T @ z``.
# sigmoid(a) = 0.5 tanh(a / 2) + 0.5: with the i, f, o rows of ``w`` halved, one tanh over
# the block and an affine map of the i, f, o chunks activate all four gates.
#
# When a gradient is wanted the forward keeps, per step, the six (H, bs) factors backward
# multiplies with, formed from products it computes anyway while they are in cache:
#   d(pre-activation) of i, f, g = dc_t * (i(1-i) g, f(1-f) c_{t-1}, i(1-g^2)),
#   of o = dh_t * o(1-o) tanh(c_t),  with dc_t = dc + dh_t * o(1 - tanh(c_t)^2),
#   and dc_{t-1} = dc_t * f.
# A step's saved block holds them as rows of H, the first four written over the activated
# gates (i, f, g, o): (i(1-i) g, f, i(1-g^2), o(1-o) tanh(c_t), f(1-f) c_{t-1},
# o(1 - tanh(c_t)^2)).
_LSTM_SAVED = 6
# Backward writes d(pre-activations) for this many rows (~2 MB at H = 256) and then takes
# the weight gradients' products over them while they are still in cache.
_LSTM_CHUNK_ROWS = 512


def _step_block(flat: Any, width: int, start: int, bs: int) -> Any:
    """The (width, bs) block of the step at rows start..start+bs of a flat buffer that holds
    one such block per step, in row order."""
    return flat[start * width:(start + bs) * width].reshape(width, bs)


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, plan, save):
    n, dt = x.shape[0], x.dtype
    hidden, proj, size = w_hh.shape[0] // 4, w_hh.shape[1], x.shape[1]
    bias = b_ih is not None or b_hh is not None
    width, batch, g4 = proj + size + bias, h0.shape[0], 4 * hidden
    project = w_hr is not None
    kept = [(n * _LSTM_SAVED * hidden if save else 0,), (n, width)]
    buffer, (factors, z, *r) = WORKSPACE.take(
        dt, *kept, *([(n, hidden)] if save and project else []))
    scratch, (w, pre_buf, ig_buf, tc_buf, r_buf, h_buf) = WORKSPACE.take(
        dt, (g4, width), (g4 * batch,), *([(hidden * batch,)] * 3), (proj * batch,))
    try:
        scale = xp.full((g4, 1), 0.5, dtype=dt)
        scale[2 * hidden:3 * hidden] = 1.0  # g goes through tanh itself
        xp.multiply(w_hh, scale, out=w[:, :proj])
        xp.multiply(w_ih, scale, out=w[:, proj:proj + size])
        if bias:
            b = w[:, -1]
            b[...] = 0
            for v in (b_ih, b_hh):
                if v is not None:
                    b += v
            b *= scale[:, 0]
            z[:, -1] = 1
        z[:, proj:proj + size] = x

        y = xp.empty((n, proj), dtype=dt)
        h = h0.copy()  # (B, P): each sequence's latest h (h_n at the end)
        c = c0.T.copy()  # (H, B): the cell state, transposed
        for start, bs in plan.order:
            rows = slice(start, start + bs)
            z[rows, :proj] = h[:bs]
            pre = pre_buf[:g4 * bs].reshape(g4, bs)
            xp.matmul(w, z[rows].T, out=pre)
            # the activated gates go to the step's saved block (when kept): written once,
            # by tanh, while the product's output stays in cache
            k = _step_block(factors, _LSTM_SAVED * hidden, start, bs) if save else pre
            a = k[:g4]
            xp.tanh(pre, out=a)
            for s in (a[:2 * hidden], a[3 * hidden:]):  # i, f and o: sigmoid
                s *= 0.5
                s += 0.5
            i, f, g, o = a[:hidden], a[hidden:2 * hidden], a[2 * hidden:3 * hidden], a[3 * hidden:]
            cs = c[:, :bs]
            ig = ig_buf[:hidden * bs].reshape(hidden, bs)
            tc = tc_buf[:hidden * bs].reshape(hidden, bs)
            rs = r_buf[:hidden * bs].reshape(hidden, bs)
            xp.multiply(i, g, out=ig)
            if save:  # backward's factors, each in two passes from a product at hand
                xp.multiply(ig, g, out=g)
                xp.subtract(i, g, out=g)  # i (1 - g^2)
                xp.multiply(ig, i, out=i)
                xp.subtract(ig, i, out=i)  # i (1 - i) g
            cs *= f
            if save:
                kf = k[4 * hidden:5 * hidden]
                xp.multiply(cs, f, out=kf)
                xp.subtract(cs, kf, out=kf)  # f (1 - f) c_{t-1}
            cs += ig
            xp.tanh(cs, out=tc)
            xp.multiply(o, tc, out=rs)  # o tanh(c): h, or what the projection maps to h
            if save:
                kc = k[5 * hidden:]
                xp.multiply(rs, tc, out=kc)
                xp.subtract(o, kc, out=kc)  # o (1 - tanh(c)^2)
                xp.multiply(rs, o, out=o)
                xp.subtract(rs, o, out=o)  # o (1 - o) tanh(c)
            if project:
                if save:
                    r[0][rows] = rs.T
                hs = h_buf[:proj * bs].reshape(proj, bs)
                xp.matmul(w_hr, rs, out=hs)
                y[rows] = hs.T
            else:
                y[rows] = rs.T
            h[:bs] = y[rows]
    finally:
        WORKSPACE.give(scratch)
    return (y, h, c.T.copy()), (factors, z, r[0] if r else None), buffer


def lstm_backward(saved, x, w_ih, w_hh, w_hr, dy, dhn, dcn, plan, needs):
    n, dt = x.shape[0], x.dtype
    hidden, proj = w_hh.shape[0] // 4, w_hh.shape[1]
    batch = plan.batch_sizes[0] if plan.batch_sizes else 0
    chunk = min(n, max(_LSTM_CHUNK_ROWS, batch))  # rows of the widest chunk
    shapes = [(4 * hidden * chunk,)] * 2 + [(proj * batch,), (hidden * batch,)]
    if w_hr is not None:
        shapes += [(hidden * batch,), (n, proj)]
    scratch, views = WORKSPACE.take(dt, *shapes)
    try:
        return _lstm_bptt(saved, x, w_ih, w_hh, w_hr, dy, dhn, dcn, plan, needs, *views)
    finally:
        WORKSPACE.give(scratch)


def _chunks(order: list) -> list:
    """Consecutive steps of ``order`` grouped into chunks of at most _LSTM_CHUNK_ROWS rows
    (a step of more rows makes a chunk alone); consecutive steps hold consecutive rows."""
    chunks, rows = [], _LSTM_CHUNK_ROWS
    for step in order:
        if rows + step[1] > _LSTM_CHUNK_ROWS:
            chunks.append([])
            rows = 0
        chunks[-1].append(step)
        rows += step[1]
    return chunks


def _lstm_bptt(saved, x, w_ih, w_hh, w_hr, dy, dhn, dcn, plan, needs, blocks, dgates_t,
               dht_buf, tmp, dr_buf=None, dht_all=None):
    factors, z, r = saved
    n, dt = x.shape[0], x.dtype
    hidden, proj, size = w_hh.shape[0] // 4, w_hh.shape[1], x.shape[1]
    batch, g4 = (plan.batch_sizes[0] if plan.batch_sizes else 0), 4 * hidden
    nx, nh0, nc0, nwih, nwhh, nbih, nbhh, nwhr = needs
    bias = z.shape[1] > proj + size
    need_w = nwih or nwhh
    dh = xp.zeros((proj, batch), dtype=dt) if dhn is None else dhn.T.copy()  # (P, B)
    dc = xp.zeros((hidden, batch), dtype=dt) if dcn is None else dcn.T.copy()  # (H, B)
    dx = xp.empty((n, size), dtype=dt) if nx else None
    dw = dw_part = db = None
    w_hh_t = w_hh.T
    uniform = len(set(plan.batch_sizes)) == 1
    for chunk in _chunks(list(reversed(plan.order))):
        lo = min(start for start, _ in chunk)
        hi = max(start + bs for start, bs in chunk)
        for start, bs in chunk:
            rows = slice(start, start + bs)
            k = _step_block(factors, _LSTM_SAVED * hidden, start, bs)
            dg = _step_block(blocks, g4, start - lo, bs)  # d(pre-activations), gate order
            dhs, dcs = dh[:, :bs], dc[:, :bs]
            if dy is None:
                dht = dhs
            else:
                dht = dht_buf[:proj * bs].reshape(proj, bs)
                xp.add(dy[rows].T, dhs, out=dht)
            if w_hr is None:
                dr = dht
            else:
                dht_all[rows] = dht.T
                dr = dr_buf[:hidden * bs].reshape(hidden, bs)
                xp.matmul(w_hr.T, dht, out=dr)
            t = tmp[:hidden * bs].reshape(hidden, bs)
            xp.multiply(dr, k[5 * hidden:], out=t)
            dcs += t
            xp.multiply(dcs, k[:hidden], out=dg[:hidden])  # i
            xp.multiply(dcs, k[4 * hidden:5 * hidden], out=dg[hidden:2 * hidden])  # f
            xp.multiply(dcs, k[2 * hidden:3 * hidden], out=dg[2 * hidden:3 * hidden])  # g
            xp.multiply(dr, k[3 * hidden:4 * hidden], out=dg[3 * hidden:])  # o
            dcs *= k[hidden:2 * hidden]
            xp.matmul(w_hh_t, dg, out=dhs)

        # the chunk's steps side by side, (4H, rows): the operand of the weights' products
        cols = dgates_t[:g4 * (hi - lo)].reshape(g4, hi - lo)
        if uniform:  # (steps, 4H, B) -> (4H, steps, B) in one copy
            steps = (hi - lo) // batch
            xp.copyto(cols.reshape(g4, steps, batch),
                      blocks[:g4 * (hi - lo)].reshape(steps, g4, batch).transpose(1, 0, 2))
        else:
            for start, bs in chunk:
                cols[:, start - lo:start - lo + bs] = _step_block(blocks, g4, start - lo, bs)
        if nx:
            xp.matmul(cols.T, w_ih, out=dx[lo:hi])
        if need_w:  # d[W_hh | W_ih | b], summed over the chunks
            if dw is None:
                dw = cols @ z[lo:hi]
            else:
                if dw_part is None:
                    dw_part = xp.empty_like(dw)
                xp.matmul(cols, z[lo:hi], out=dw_part)
                dw += dw_part
        elif bias and (nbih or nbhh):
            db = cols.sum(1) if db is None else db + cols.sum(1)

    dwih = dwhh = None
    if need_w:
        dwhh = xp.ascontiguousarray(dw[:, :proj]) if nwhh else None
        dwih = xp.ascontiguousarray(dw[:, proj:proj + size]) if nwih else None
        db = dw[:, -1] if bias else None
    dbih = dbhh = None
    if db is not None:  # both biases get the same gradient, as two arrays
        dbih = db.copy() if nbih else None
        dbhh = db.copy() if nbhh else None
    dwhr = dht_all.T @ r if (nwhr and w_hr is not None) else None
    return (dx, dh.T.copy() if nh0 else None, dc.T.copy() if nc0 else None,
            dwih, dwhh, dbih, dbhh, dwhr)


# --- GRU -------------------------------------------------------------------------------
def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, plan):
    n, dt = x.shape[0], x.dtype
    hidden = w_hh.shape[0] // 3
    buffer, (gates, h_prev, ghn) = WORKSPACE.take(dt, (n, 3 * hidden), (n, hidden), (n, hidden))
    xp.matmul(x, w_ih.T, out=gates)  # (N, 3H): W_ir x, W_iz x, W_in x for every step
    if b_ih is not None:
        gates += b_ih
    gates[:, :2 * hidden] *= 0.5  # r and z through sigmoid(a) = 0.5 tanh(a / 2) + 0.5
    whh = w_hh.copy()
    whh[:2 * hidden] *= 0.5
    bhh = xp.zeros(3 * hidden, dtype=dt) if b_hh is None else b_hh.copy()
    bhh[:2 * hidden] *= 0.5

    y = xp.empty((n, hidden), dtype=dt)  # ghn: W_hn h + b_hn, needed for dr
    h = h0.copy()
    tmp = xp.empty(3 * hidden * h.shape[0], dtype=dt)
    h_t = xp.empty(hidden * h.shape[0], dtype=dt)
    gh_buf = xp.empty((h.shape[0], 3 * hidden), dtype=dt)
    for start, bs in plan.order:
        rows = slice(start, start + bs)
        hp = h[:bs]
        h_prev[rows] = hp
        gh = gh_buf[:bs]
        xp.add(_recurrent_product(whh, hp, h_t, tmp), bhh, out=gh)
        a = gates[rows]
        rz = a[:, :2 * hidden]
        rz += gh[:, :2 * hidden]
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        ghn[rows] = gh[:, 2 * hidden:]
        nn_ = a[:, 2 * hidden:]
        rh = gh[:, 2 * hidden:]
        rh *= a[:, :hidden]
        nn_ += rh
        xp.tanh(nn_, out=nn_)
        out = y[rows]
        xp.subtract(hp, nn_, out=out)  # h' = n + z * (h - n)
        out *= a[:, hidden:2 * hidden]
        out += nn_
        h[:bs] = out
    return (y, h), (gates, h_prev, ghn), buffer


def gru_backward(saved, x, w_ih, w_hh, dy, dhn, plan, needs):
    n, dt = x.shape[0], x.dtype
    hidden = w_hh.shape[0] // 3
    scratch, views = WORKSPACE.take(dt, (n, hidden), (n, 3, hidden), (n, 3 * hidden),
                                    (n, hidden), (n, 3 * hidden))
    try:
        return _gru_bptt(saved, x, w_ih, w_hh, dy, dhn, plan, needs, *views)
    finally:
        WORKSPACE.give(scratch)


def _gru_bptt(saved, x, w_ih, w_hh, dy, dhn, plan, needs, c_n, coef, dgh, dht_all, dgx):
    gates, h_prev, ghn = saved
    n, dt = x.shape[0], x.dtype
    hidden = w_hh.shape[0] // 3
    batch = plan.batch_sizes[0] if plan.batch_sizes else 0
    r, z, nn_ = gates[:, :hidden], gates[:, hidden:2 * hidden], gates[:, 2 * hidden:]
    xp.multiply(nn_, nn_, out=c_n)  # (1 - z)(1 - n^2): dh_t -> d(n pre-activation)
    xp.subtract(1, c_n, out=c_n)
    xp.subtract(1, z, out=dht_all)
    c_n *= dht_all
    # coef: dh_t -> d(W_h* h + b_h*) for r, z, n
    xp.subtract(1, r, out=coef[:, 0])
    coef[:, 0] *= r
    coef[:, 0] *= ghn
    coef[:, 0] *= c_n
    xp.subtract(1, z, out=coef[:, 1])
    coef[:, 1] *= z
    xp.subtract(h_prev, nn_, out=dht_all)
    coef[:, 1] *= dht_all
    xp.multiply(c_n, r, out=coef[:, 2])

    dgh3 = dgh.reshape(n, 3, hidden)
    dh = xp.zeros((batch, hidden), dtype=dt) if dhn is None else dhn.copy()
    tmp = xp.empty((batch, hidden), dtype=dt)
    for start, bs in reversed(plan.order):
        rows = slice(start, start + bs)
        dht = dht_all[rows]
        if dy is None:
            dht[...] = dh[:bs]
        else:
            xp.add(dy[rows], dh[:bs], out=dht)
        xp.multiply(dht[:, None, :], coef[rows], out=dgh3[rows])
        t = tmp[:bs]
        xp.matmul(dgh[rows], w_hh, out=t)
        xp.multiply(dht, z[rows], out=dh[:bs])
        dh[:bs] += t

    nx, nh0, _, nwih, nwhh, nbih, nbhh, _ = needs
    dgx[:, :2 * hidden] = dgh[:, :2 * hidden]
    xp.multiply(dht_all, c_n, out=dgx[:, 2 * hidden:])
    dx = dgx @ w_ih if nx else None
    dwih = dgx.T @ x if nwih else None
    dwhh = dgh.T @ h_prev if nwhh else None
    dbih = dgx.sum(0) if nbih else None
    dbhh = dgh.sum(0) if nbhh else None
    return dx, dh if nh0 else None, None, dwih, dwhh, dbih, dbhh, None


# --- RNN (tanh / relu) -----------------------------------------------------------------
def rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, plan, relu):
    n, dt = x.shape[0], x.dtype
    hidden = w_hh.shape[0]
    buffer, (pre, h_prev) = WORKSPACE.take(dt, (n, hidden), (n, hidden))
    xp.matmul(x, w_ih.T, out=pre)
    if b_ih is not None:
        pre += b_ih
    if b_hh is not None:
        pre += b_hh
    y = xp.empty((n, hidden), dtype=dt)
    h = h0.copy()
    tmp = xp.empty(hidden * h.shape[0], dtype=dt)
    h_t = xp.empty(hidden * h.shape[0], dtype=dt)
    for start, bs in plan.order:
        rows = slice(start, start + bs)
        hp = h[:bs]
        h_prev[rows] = hp
        a = pre[rows]
        a += _recurrent_product(w_hh, hp, h_t, tmp)
        if relu:
            xp.maximum(a, 0, out=y[rows])
        else:
            xp.tanh(a, out=y[rows])
        h[:bs] = y[rows]
    return (y, h), (h_prev,), buffer


def rnn_backward(saved, y, x, w_ih, w_hh, dy, dhn, plan, needs, relu):
    scratch, (deriv, dpre) = WORKSPACE.take(x.dtype, y.shape, y.shape)
    try:
        return _rnn_bptt(saved, y, x, w_ih, w_hh, dy, dhn, plan, needs, relu, deriv, dpre)
    finally:
        WORKSPACE.give(scratch)


def _rnn_bptt(saved, y, x, w_ih, w_hh, dy, dhn, plan, needs, relu, deriv, dpre):
    (h_prev,) = saved
    dt = x.dtype
    batch = plan.batch_sizes[0] if plan.batch_sizes else 0
    if relu:
        xp.greater(y, 0, out=deriv)  # written as 0/1 in y's dtype
    else:
        xp.multiply(y, y, out=deriv)
        xp.subtract(1, deriv, out=deriv)
    dh = xp.zeros((batch, y.shape[1]), dtype=dt) if dhn is None else dhn.copy()
    for start, bs in reversed(plan.order):
        rows = slice(start, start + bs)
        d = dpre[rows]
        if dy is None:
            xp.multiply(dh[:bs], deriv[rows], out=d)
        else:
            xp.add(dy[rows], dh[:bs], out=d)
            d *= deriv[rows]
        xp.matmul(d, w_hh, out=dh[:bs])

    nx, nh0, _, nwih, nwhh, nbih, nbhh, _ = needs
    dx = dpre @ w_ih if nx else None
    dwih = dpre.T @ x if nwih else None
    dwhh = dpre.T @ h_prev if nwhh else None
    dbih, dbhh = _bias_grads(dpre, nbih, nbhh)
    return dx, dh if nh0 else None, None, dwih, dwhh, dbih, dbhh, None

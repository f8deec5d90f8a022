"""Fused recurrences: one ``Function`` per layer and direction of an RNN, LSTM or GRU.

The layout is PyTorch's *packed* one, which also covers padded input: the rows
of ``x`` (N, input_size) are the time steps one after the other, step t holding
``batch_sizes[t]`` rows (the first ``batch_sizes[t]`` sequences of a batch sorted
by decreasing length). A padded (T, B, I) batch is the special case of T steps of
B rows, so one code path serves both.

Forward
    the input projection of every step is ONE matrix product
    (``x @ W_ih.T + b``, all N rows at once); each step is then one matrix
    product of the hidden state with all the gates' weights at once, and a handful
    of in-place array operations. The activated gates, the previous states and
    tanh(c) are kept for backward.
Backward through time
    a loop over the steps in reverse on arrays: per step one matrix product
    (``dgates @ W_hh``) and a few elementwise operations (the LSTM forms its gates'
    derivatives there, on rows still in cache; the GRU and RNN precompute theirs
    in whole-array operations); the weight gradients come after the loop in one
    product each (``dgates.T @ x``, ``dgates.T @ h_prev``).

Gate order and equations are PyTorch's: LSTM (i, f, g, o); GRU (r, z, n) with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``; plain RNN with tanh or relu.

Intermediates live in recycled scratch memory (``Workspace``): fresh multi-MB
arrays would cost a page fault per 4 KB on first touch, as much as the arithmetic.

Higher-order gradients: the backward above works on arrays. When it is run with
``create_graph=True`` the layer is recomputed from its inputs with tensor ops
(the same equations, one step at a time) and differentiated through that, so
double backward is correct, only slower.
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import Any, Sequence

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.tensor import Tensor

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


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


def _a(t: Any) -> Any:
    return None if t is None else t.array


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
# sigmoid(a) = 0.5 * tanh(a / 2) + 0.5: with the i, f, o columns of the weights halved,
# one tanh over all four gates followed by one affine map activates them all.
def _lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, plan):
    n, dt = x.shape[0], x.dtype
    hidden, proj = w_hh.shape[0] // 4, w_hh.shape[1]
    scale = xp.asarray([[0.5], [0.5], [1.0], [0.5]], dtype=dt)
    shift = xp.asarray([[0.5], [0.5], [0.0], [0.5]], dtype=dt)
    shapes = [(n, 4 * hidden), (n, proj), (n, hidden), (n, hidden)]
    buffer, (gates, h_prev, c_prev, tanh_c, *r) = WORKSPACE.take(
        dt, *shapes, *([(n, hidden)] if w_hr is not None else []))
    xp.matmul(x, w_ih.T, out=gates)  # (N, 4H): the input projection of every step, one product
    if b_ih is not None:
        gates += b_ih
    if b_hh is not None:
        gates += b_hh
    gates3 = gates.reshape(n, 4, hidden)
    gates3 *= scale
    whh = (w_hh.reshape(4, hidden, proj) * scale[:, :, None]).reshape(4 * hidden, proj)
    whr_t = None if w_hr is None else w_hr.T

    y = xp.empty((n, proj), dtype=dt)
    r = r[0] if r else y
    h, c = h0.copy(), c0.copy()
    batch = h.shape[0]
    tmp = xp.empty(4 * hidden * batch, dtype=dt)
    h_t = xp.empty(proj * batch, dtype=dt)
    ig = xp.empty((batch, hidden), dtype=dt)
    for start, bs in plan.order:
        rows = slice(start, start + bs)
        hp, cp = h[:bs], c[:bs]
        h_prev[rows] = hp
        c_prev[rows] = cp
        g = gates[rows]
        g += _recurrent_product(whh, hp, h_t, tmp)
        xp.tanh(g, out=g)
        g3 = gates3[rows]
        g3 *= scale
        g3 += shift
        cp *= g[:, hidden:2 * hidden]
        xp.multiply(g[:, :hidden], g[:, 2 * hidden:3 * hidden], out=ig[:bs])
        cp += ig[:bs]
        tc = tanh_c[rows]
        xp.tanh(cp, out=tc)
        xp.multiply(g[:, 3 * hidden:], tc, out=r[rows])
        if whr_t is not None:
            xp.matmul(r[rows], whr_t, out=y[rows])
        h[:bs] = y[rows]
    return (y, h, c), (gates, h_prev, c_prev, tanh_c, r), buffer


def _lstm_backward(saved, x, w_ih, w_hh, w_hr, dy, dhn, dcn, plan, needs):
    n, dt = x.shape[0], x.dtype
    hidden, proj = w_hh.shape[0] // 4, w_hh.shape[1]
    shapes = [(n, 4 * hidden)] + ([(n, proj)] if w_hr is not None else [])
    scratch, (dgates, *dht_all) = WORKSPACE.take(dt, *shapes)
    try:
        return _lstm_bptt(saved, x, w_ih, w_hh, w_hr, dy, dhn, dcn, plan, needs, dgates,
                          dht_all[0] if dht_all else None)
    finally:
        WORKSPACE.give(scratch)


def _lstm_bptt(saved, x, w_ih, w_hh, w_hr, dy, dhn, dcn, plan, needs, dgates, dht_all):
    gates, h_prev, c_prev, tanh_c, r = saved
    n, dt = x.shape[0], x.dtype
    hidden, proj = w_hh.shape[0] // 4, w_hh.shape[1]
    batch = plan.batch_sizes[0] if plan.batch_sizes else 0
    gates3, dg3 = gates.reshape(n, 4, hidden), dgates.reshape(n, 4, hidden)
    dh = xp.zeros((batch, proj), dtype=dt) if dhn is None else dhn.copy()
    dc = xp.zeros((batch, hidden), dtype=dt) if dcn is None else dcn.copy()
    dht_buf = xp.empty((batch, proj), dtype=dt)
    coef_buf = xp.empty((batch, 4, hidden), dtype=dt)
    tmp = xp.empty((batch, hidden), dtype=dt)
    # Per step, on data still in cache: d(pre-activation) = coef * (dc_t for i, f, g; dh_t
    # for o), coef = (sigmoid'(i) g, sigmoid'(f) c_prev, tanh'(g) i, sigmoid'(o) tanh(c)).
    for start, bs in reversed(plan.order):
        rows = slice(start, start + bs)
        a3 = gates3[rows]
        i, f, g, o = a3[:, 0], a3[:, 1], a3[:, 2], a3[:, 3]
        tc = tanh_c[rows]
        dht = dht_buf[:bs] if dht_all is None else dht_all[rows]
        if dy is None:
            dht[...] = dh[:bs]
        else:
            xp.add(dy[rows], dh[:bs], out=dht)
        dr = dht if w_hr is None else dht @ w_hr
        coef = coef_buf[:bs]
        xp.subtract(1, a3, out=coef)
        coef *= a3  # s (1 - s) for the three sigmoid gates; slot 2 is redone below
        xp.multiply(g, g, out=coef[:, 2])
        xp.subtract(1, coef[:, 2], out=coef[:, 2])
        coef[:, 0] *= g
        coef[:, 1] *= c_prev[rows]
        coef[:, 2] *= i
        coef[:, 3] *= tc
        t = tmp[:bs]  # dc_t += dh_t * o * (1 - tanh(c)^2)
        xp.multiply(tc, tc, out=t)
        xp.subtract(1, t, out=t)
        t *= o
        t *= dr
        dct = dc[:bs]
        dct += t
        xp.multiply(dct[:, None, :], coef[:, :3], out=dg3[rows, :3])
        xp.multiply(dr, coef[:, 3], out=dg3[rows, 3])
        dct *= f
        xp.matmul(dgates[rows], w_hh, out=dh[:bs])

    nx, nh0, nc0, nwih, nwhh, nbih, nbhh, nwhr = needs
    dx = dgates @ w_ih if nx else None
    dwih = dgates.T @ x if nwih else None
    dwhh = dgates.T @ h_prev if nwhh else None
    dbih, dbhh = _bias_grads(dgates, nbih, nbhh)
    dwhr = dht_all.T @ r if (nwhr and w_hr is not None) else None
    return dx, dh if nh0 else None, dc if nc0 else None, dwih, dwhh, dbih, dbhh, dwhr


# --- GRU -------------------------------------------------------------------------------
def _gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, plan):
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


def _gru_backward(saved, x, w_ih, w_hh, dy, dhn, plan, needs):
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
def _rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, plan, relu):
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


def _rnn_backward(saved, y, x, w_ih, w_hh, dy, dhn, plan, needs, relu):
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


# --- the Function ----------------------------------------------------------------------
class FusedRecurrence(Function):
    """One layer and direction of a recurrent network over packed rows (see module docs).

    Inputs: x (N, I), h0 (B, P), c0 (B, H) or None, w_ih, w_hh, b_ih, b_hh, w_hr
    (None where absent). Outputs: y (N, P), h_n (B, P) and, for the LSTM, c_n (B, H).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, *, mode: str, plan: Plan):
        ctx.set_materialize_grads(False)
        ctx.mode, ctx.plan = mode, plan
        xa, ha, wih, whh, bih, bhh = (_a(x), _a(h0), w_ih.array, w_hh.array, _a(b_ih), _a(b_hh))
        if mode == "LSTM":
            outs, ctx.work, buffer = _lstm_forward(xa, ha, c0.array, wih, whh, bih, bhh,
                                                   _a(w_hr), plan)
        elif mode == "GRU":
            outs, ctx.work, buffer = _gru_forward(xa, ha, wih, whh, bih, bhh, plan)
        else:
            outs, ctx.work, buffer = _rnn_forward(xa, ha, wih, whh, bih, bhh, plan,
                                                  mode == "RNN_RELU")
        weakref.finalize(ctx, WORKSPACE.give, buffer)  # back to the pool with the graph node
        # the output too: the plain RNN's backward reads it (and in-place changes are caught)
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, outs[0])
        return outs

    @staticmethod
    def backward(ctx, dy, dhn, dcn=None):
        saved = ctx.saved_tensors
        y = saved[8]
        saved = saved[:8]
        if dy is None and dhn is None and dcn is None:
            return (None,) * 8
        if is_grad_enabled():  # create_graph=True: differentiate the tensor-op recomputation
            return _differentiable_backward(ctx, saved, (dy, dhn, dcn))
        x, _, _, w_ih, w_hh, _, _, w_hr = (_a(t) for t in saved)
        needs = tuple(ctx.needs_input_grad) + (False,) * (8 - len(ctx.needs_input_grad))
        dy, dhn, dcn = _a(dy), _a(dhn), _a(dcn)
        if ctx.mode == "LSTM":
            grads = _lstm_backward(ctx.work, x, w_ih, w_hh, w_hr, dy, dhn, dcn, ctx.plan, needs)
        elif ctx.mode == "GRU":
            grads = _gru_backward(ctx.work, x, w_ih, w_hh, dy, dhn, ctx.plan, needs)
        else:
            grads = _rnn_backward(ctx.work, y.array, x, w_ih, w_hh, dy, dhn, ctx.plan, needs,
                                  ctx.mode == "RNN_RELU")
        return tuple(None if (g is None or not need) else Tensor(g)
                     for g, need in zip(grads, needs))


class _Alias(Function):
    """The identity, as a node of its own: the point where a recomputation's gradients are read."""

    @staticmethod
    def forward(ctx, x):
        return x.array

    @staticmethod
    def backward(ctx, grad):
        return grad


def _differentiable_backward(ctx, saved: tuple, grads: tuple) -> tuple:
    from deepgrad.autograd import grad as autograd_grad

    needs = ctx.needs_input_grad
    inputs = [(_Alias.apply(t) if need else t) for t, need in zip(saved, needs)]
    outs = composite(ctx.mode, *inputs, plan=ctx.plan)
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o is not None
             and o.requires_grad]
    targets = [t for t, need in zip(inputs, needs) if need]
    if not pairs or not targets:
        return (None,) * 8
    found = iter(autograd_grad([o for o, _ in pairs], targets, [g for _, g in pairs],
                               create_graph=True, allow_unused=True))
    return tuple(next(found) if need else None for need in needs)


def composite(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None, b_hh: Tensor | None, w_hr: Tensor | None, *,
              plan: Plan) -> tuple:
    """The same layer from tensor ops, one step at a time (differentiable to any order)."""
    from deepgrad.nn.functional.linear import linear
    from deepgrad.ops.join import cat

    gx = linear(x, w_ih, b_ih)
    if mode != "GRU" and b_hh is not None:
        gx = gx + b_hh
    h, c = h0, c0
    batch = h0.shape[0]
    steps = {}
    for start, bs in plan.order:
        gxt = gx[start:start + bs]
        hp = h if bs == batch else h[:bs]
        if mode == "LSTM":
            cp = c if bs == batch else c[:bs]
            i, f, g, o = (gxt + linear(hp, w_hh, None)).chunk(4, 1)
            cn = f.sigmoid() * cp + i.sigmoid() * g.tanh()
            hn = o.sigmoid() * cn.tanh()
            if w_hr is not None:
                hn = linear(hn, w_hr, None)
            c = cn if bs == batch else cat([cn, c[bs:]], 0)
        elif mode == "GRU":
            xr, xz, xn = gxt.chunk(3, 1)
            hr, hz, hn_ = linear(hp, w_hh, b_hh).chunk(3, 1)
            r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
            n = (xn + r * hn_).tanh()
            hn = n + z * (hp - n)
        else:
            pre = gxt + linear(hp, w_hh, None)
            hn = pre.relu() if mode == "RNN_RELU" else pre.tanh()
        steps[start] = hn
        h = hn if bs == batch else cat([hn, h[bs:]], 0)
    y = cat([steps[s] for s in sorted(steps)], 0)
    return (y, h, c) if mode == "LSTM" else (y, h)


def fused_recurrence(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, w_ih: Tensor,
                     w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None,
                     w_hr: Tensor | None, plan: Plan) -> tuple:
    """Run one layer/direction: ``(y, h_n)`` or, for ``mode='LSTM'``, ``(y, h_n, c_n)``.

    Shape:
        x (N, input_size) packed rows, h0 (B, P), c0 (B, hidden) -> y (N, P),
        h_n (B, P), c_n (B, hidden); P is hidden (or proj_size for a projected LSTM).
    """
    if mode not in MODES:
        raise ValueError(f"fused_recurrence: mode must be one of {MODES}, got {mode!r}")
    return FusedRecurrence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode=mode, plan=plan)


__all__: list[str] = []

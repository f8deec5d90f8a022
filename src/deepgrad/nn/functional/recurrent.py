"""Fused recurrences: one ``Function`` per layer and direction of an RNN, LSTM or GRU.

The layout is PyTorch's *packed* one, which also covers padded input: the rows
of ``x`` (N, input_size) are the time steps one after the other, step t holding
``batch_sizes[t]`` rows (the first ``batch_sizes[t]`` sequences of a batch sorted
by decreasing length). A padded (T, B, I) batch is the special case of T steps of
B rows, so one code path serves both.

Forward
    the GRU and RNN compute the input projection of every step in ONE matrix
    product (``x @ W_ih.T + b``, all N rows at once); each step is then one matrix
    product of the hidden state with all the gates' weights at once, and a handful
    of in-place array operations. The LSTM folds input projection and bias into its
    step's product (``[W_hh | W_ih | b] @ [h; x_t; 1]``), works on transposed
    (gates, batch) blocks, and keeps the factors its backward multiplies with (see
    the LSTM section).
Backward through time
    a loop over the steps in reverse on arrays: per step one matrix product
    (``dgates @ W_hh``) and a few elementwise operations (the GRU and RNN
    precompute their gates' derivatives in whole-array operations); the weight
    gradients come in one product each (``dgates.T @ x``, ``dgates.T @ h_prev``;
    the LSTM's ``dgates.T @ [h_prev | x | 1]``, summed over chunks of steps while
    their ``dgates`` are in cache).

Gate order and equations are PyTorch's: LSTM (i, f, g, o); GRU (r, z, n) with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``; plain RNN with tanh or relu.

Intermediates live in recycled scratch memory (``Workspace``): fresh multi-MB
arrays would cost a page fault per 4 KB on first touch, as much as the arithmetic.

Higher-order gradients: the backward above works on arrays. When it is run with
``create_graph=True`` the layer is recomputed from its inputs with tensor ops
(the same equations, one step at a time) and differentiated through that, so
double backward is correct, only slower.

This file is the autograd side; the array kernels live in ``_recurrent_kernels``.
"""

from __future__ import annotations

import weakref
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.nn.functional._recurrent_kernels import (
    WORKSPACE, Plan, gru_backward, gru_forward, lstm_backward, lstm_forward,
    rnn_backward, rnn_forward,
)
from deepgrad.tensor import Tensor

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _a(t: Tensor | None) -> Any:
    return None if t is None else t.array


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
        if mode == "LSTM":  # backward's factors are formed only if a gradient can be asked
            outs, ctx.work, buffer = lstm_forward(xa, ha, c0.array, wih, whh, bih, bhh,
                                                   _a(w_hr), plan, True in ctx.needs_input_grad)
        elif mode == "GRU":
            outs, ctx.work, buffer = gru_forward(xa, ha, wih, whh, bih, bhh, plan)
        else:
            outs, ctx.work, buffer = rnn_forward(xa, ha, wih, whh, bih, bhh, plan,
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
            grads = lstm_backward(ctx.work, x, w_ih, w_hh, w_hr, dy, dhn, dcn, ctx.plan, needs)
        elif ctx.mode == "GRU":
            grads = gru_backward(ctx.work, x, w_ih, w_hh, dy, dhn, ctx.plan, needs)
        else:
            grads = rnn_backward(ctx.work, y.array, x, w_ih, w_hh, dy, dhn, ctx.plan, needs,
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

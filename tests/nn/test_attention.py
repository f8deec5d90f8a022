"""scaled_dot_product_attention, MultiheadAttention and AdditiveAttention.

Against PyTorch (when installed) in float64: outputs, attention weights, input and
parameter gradients. Without PyTorch: masked positions get zero weight, rows with
no allowed key give zeros, gradchecks, and the error messages.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.nn.functional.attention import scaled_dot_product_attention as sdpa
from deepgrad.nn.modules.attention import AdditiveAttention, MultiheadAttention

from helpers import requires_torch, to_numpy


def close(a, b, tol=1e-10):
    a, b = to_numpy(a), to_numpy(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def copy_state(torch_module, module) -> None:
    state = torch_module.state_dict()
    assert list(state) == list(module.state_dict())
    module.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in state.items()})


def leaves(rng, *shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    return arrays, [dg.tensor(a, requires_grad=True) for a in arrays]


# --- scaled_dot_product_attention -----------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("case", ["plain", "bool", "float", "causal", "causal_rect", "scale",
                                  "dead_row", "gqa"])
def test_sdpa_matches_torch(case):
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    lq = 5 if case == "causal_rect" else 3
    heads_q, heads_kv = (4, 2) if case == "gqa" else (2, 2)
    arrays, (q, k, v) = leaves(rng, (2, heads_q, lq, 4), (2, heads_kv, 4, 4), (2, heads_kv, 4, 3))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in arrays)
    kwargs_d, kwargs_t = {}, {}
    if case in ("bool", "dead_row"):
        mask = rng.random((lq, 4)) < 0.6
        mask[:, 0] = True
        if case == "dead_row":
            mask[1] = False
        kwargs_d["attn_mask"], kwargs_t["attn_mask"] = dg.tensor(mask), torch.tensor(mask)
    elif case == "float":
        mask = rng.standard_normal((2, 1, lq, 4))
        kwargs_d["attn_mask"], kwargs_t["attn_mask"] = dg.tensor(mask), torch.tensor(mask)
    elif case.startswith("causal"):
        kwargs_d["is_causal"] = kwargs_t["is_causal"] = True
    elif case == "scale":
        kwargs_d["scale"] = kwargs_t["scale"] = 0.3
    elif case == "gqa":
        kwargs_d["enable_gqa"] = kwargs_t["enable_gqa"] = True
    got = sdpa(q, k, v, **kwargs_d)
    want = F.scaled_dot_product_attention(tq, tk, tv, **kwargs_t)
    close(want, got)
    w = rng.standard_normal(tuple(want.shape))
    (want * torch.tensor(w)).sum().backward()
    (got * dg.tensor(w)).sum().backward()
    for t, d in ((tq, q), (tk, k), (tv, v)):
        close(t.grad, d.grad)


def test_sdpa_masks_without_torch():
    rng = np.random.default_rng(1)
    arrays, (q, k, v) = leaves(rng, (1, 3, 4), (1, 5, 4), (1, 5, 5))
    v_eye = dg.tensor(np.eye(5)[None])  # output rows are then the attention weights
    mask = np.ones((3, 5), bool)
    mask[0, 3:] = False
    mask[2] = False  # no allowed key
    weights = to_numpy(sdpa(q.detach(), k.detach(), v_eye, attn_mask=dg.tensor(mask)))[0]
    assert np.all(weights[0, 3:] == 0) and np.isclose(weights[0].sum(), 1)
    assert np.all(weights[2] == 0)
    causal = to_numpy(sdpa(q.detach(), k.detach()[:, :3], v_eye[:, :3, :3], is_causal=True))[0]
    assert np.all(np.triu(causal, 1) == 0)
    np.testing.assert_allclose(causal.sum(-1), 1)
    scores = arrays[0][0] @ arrays[1][0].T / 2.0
    e = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(to_numpy(sdpa(q, k, v_eye))[0], e / e.sum(-1, keepdims=True))
    out = sdpa(q, k, v, attn_mask=dg.tensor(mask))
    out.sum().backward()
    assert np.all(to_numpy(q.grad)[0, 2] == 0)  # the dead row sends no gradient
    assert np.all(np.isfinite(to_numpy(k.grad)))


def test_sdpa_gradcheck_and_dropout():
    rng = np.random.default_rng(2)
    _, (q, k, v) = leaves(rng, (2, 2, 3), (2, 3, 3), (2, 3, 2))
    mask = dg.tensor(np.array([[True, False, True], [True, True, True]]))
    assert gradcheck(lambda q, k, v: sdpa(q, k, v, attn_mask=mask), [q, k, v])
    assert gradgradcheck(lambda q, k, v: sdpa(q, k, v, is_causal=True), [q, k, v])
    dg.manual_seed(0)
    dropped = sdpa(q.detach(), k.detach(), v.detach(), dropout_p=0.5)
    assert not np.allclose(to_numpy(dropped), to_numpy(sdpa(q.detach(), k.detach(), v.detach())))


def test_sdpa_errors():
    q, k, v = dg.randn(2, 3, 4), dg.randn(2, 5, 4), dg.randn(2, 5, 6)
    with pytest.raises(RuntimeError, match="same last dimension"):
        sdpa(q, dg.randn(2, 5, 3), v)
    with pytest.raises(RuntimeError, match="sequence length"):
        sdpa(q, k, dg.randn(2, 4, 6))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(4, 5\)"):
        sdpa(q, k, v, attn_mask=dg.ones(4, 5, dtype=dg.bool))
    with pytest.raises(RuntimeError, match="is_causal"):
        sdpa(q, k, v, attn_mask=dg.ones(3, 5, dtype=dg.bool), is_causal=True)
    with pytest.raises(TypeError, match="bool and floating"):
        sdpa(q, k, v, attn_mask=dg.ones(3, 5, dtype=dg.int64))


# --- MultiheadAttention ---------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("kwargs", [{}, {"batch_first": True}, {"kdim": 3, "vdim": 5},
                                    {"add_bias_kv": True, "add_zero_attn": True}, {"bias": False}])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_multihead_attention_matches_torch(kwargs, need_weights, average):
    import torch

    tm = torch.nn.MultiheadAttention(8, 2, **kwargs).double()
    dm = MultiheadAttention(8, 2, **kwargs).double()
    copy_state(tm, dm)
    rng = np.random.default_rng(3)
    bf = kwargs.get("batch_first", False)
    lq, ls, n = 3, 4, 2
    kd, vd = kwargs.get("kdim", 8), kwargs.get("vdim", 8)
    shapes = [(lq, n, 8), (ls, n, kd), (ls, n, vd)]
    if bf:
        shapes = [(s[1], s[0], s[2]) for s in shapes]
    arrays, (q, k, v) = leaves(rng, *shapes)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in arrays)
    kpm = np.zeros((n, ls), bool)
    kpm[1, 2:] = True
    mask = np.zeros((lq, ls), bool)
    mask[0, 1] = True
    t_out, t_w = tm(tq, tk, tv, key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(mask),
                    need_weights=need_weights, average_attn_weights=average)
    d_out, d_w = dm(q, k, v, key_padding_mask=dg.tensor(kpm), attn_mask=dg.tensor(mask),
                    need_weights=need_weights, average_attn_weights=average)
    close(t_out, d_out)
    if need_weights:
        close(t_w, d_w)
        w = to_numpy(d_w)
        masked_keys = w[1, ..., 2:4]  # keys appended by add_bias_kv / add_zero_attn come after
        assert np.all(masked_keys == 0) and np.all(w[0, ..., 0, 1] == 0)
    else:
        assert d_w is None
    (t_out ** 2).sum().backward()
    (d_out ** 2).sum().backward()
    for t, d in ((tq, q), (tk, k), (tv, v)):
        close(t.grad, d.grad)
    for (tn, tp), (dn, dp) in zip(tm.named_parameters(), dm.named_parameters()):
        assert tn == dn
        close(tp.grad, dp.grad)


@requires_torch
def test_multihead_attention_self_attention_masks_and_unbatched_match_torch():
    import torch

    tm, dm = torch.nn.MultiheadAttention(6, 3).double(), MultiheadAttention(6, 3).double()
    copy_state(tm, dm)
    x = np.random.default_rng(4).standard_normal((4, 2, 6))
    tx, dx = torch.tensor(x), dg.tensor(x)
    fmask = np.triu(np.full((4, 4), -np.inf), 1)
    close(tm(tx, tx, tx, attn_mask=torch.tensor(fmask))[0],
          dm(dx, dx, dx, attn_mask=dg.tensor(fmask))[0])
    mask3 = np.random.default_rng(5).random((6, 4, 4)) < 0.3
    close(tm(tx, tx, tx, attn_mask=torch.tensor(mask3), need_weights=False)[0],
          dm(dx, dx, dx, attn_mask=dg.tensor(mask3), need_weights=False)[0])
    t_out, t_w = tm(tx[:, 0], tx[:, 0], tx[:, 0])
    d_out, d_w = dm(dx[:, 0], dx[:, 0], dx[:, 0])
    close(t_out, d_out)
    close(t_w, d_w)
    close(tm(tx, tx, tx, attn_mask=torch.tensor(fmask), is_causal=True, need_weights=False)[0],
          dm(dx, dx, dx, attn_mask=dg.tensor(fmask), is_causal=True, need_weights=False)[0])


def test_multihead_attention_without_torch():
    dg.manual_seed(0)
    mha = MultiheadAttention(4, 2, kdim=3, vdim=5).double()
    assert [n for n, _ in mha.named_parameters()] == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight",
        "out_proj.bias"]
    assert list(MultiheadAttention(4, 2).state_dict()) == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    rng = np.random.default_rng(6)
    _, (q, k, v) = leaves(rng, (2, 1, 4), (3, 1, 3), (3, 1, 5))
    kpm = dg.tensor(np.array([[False, True, False]]))
    out, w = mha(q, k, v, key_padding_mask=kpm)
    assert out.shape == (2, 1, 4) and w.shape == (1, 2, 3)
    assert np.all(to_numpy(w)[0, :, 1] == 0)
    np.testing.assert_allclose(to_numpy(w).sum(-1), 1)
    assert gradcheck(lambda q, k, v: mha(q, k, v, key_padding_mask=kpm)[0], [q, k, v])


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match="divisible"):
        MultiheadAttention(6, 4)
    mha = MultiheadAttention(4, 2)
    x = dg.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(3, 4\).*\(3, 3\)"):
        mha(x, x, x, attn_mask=dg.zeros(3, 4, dtype=dg.bool))
    with pytest.raises(RuntimeError, match=r"3D attn_mask is \(2, 3, 3\).*\(4, 3, 3\)"):
        mha(x, x, x, attn_mask=dg.zeros(2, 3, 3, dtype=dg.bool))
    with pytest.raises(RuntimeError, match=r"key_padding_mask shape of \(2, 3\).*\(3, 2\)"):
        mha(x, x, x, key_padding_mask=dg.zeros(3, 2, dtype=dg.bool))
    with pytest.raises(RuntimeError, match=r"MultiheadAttention.*query of shape \(3, 2, 5\)"):
        mha(dg.randn(3, 2, 5), x, x)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        mha(x, x, x, is_causal=True)


# --- AdditiveAttention ----------------------------------------------------------------------
def test_additive_attention_formula_masks_and_gradcheck():
    dg.manual_seed(1)
    att = AdditiveAttention(3, 4, 5).double()
    assert [n for n, _ in att.named_parameters()] == ["W_q.weight", "W_k.weight", "w_v.weight"]
    rng = np.random.default_rng(7)
    arrays, (q, k, v) = leaves(rng, (2, 3), (2, 4, 4), (2, 4, 6))
    context, weights = att(q, k, v, valid_lens=[4, 2])
    assert context.shape == (2, 6) and weights.shape == (2, 4)
    wq, wk, wv = (to_numpy(p) for p in (att.W_q.weight, att.W_k.weight, att.w_v.weight))
    scores = np.tanh((arrays[0] @ wq.T)[:, None, :] + arrays[1] @ wk.T) @ wv[0]
    scores[1, 2:] = -np.inf
    e = np.exp(scores - scores.max(-1, keepdims=True))
    expect = e / e.sum(-1, keepdims=True)
    np.testing.assert_allclose(to_numpy(weights), expect, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(context), np.einsum("ns,nsd->nd", expect, arrays[2]),
                               rtol=1e-12)
    assert np.all(to_numpy(weights)[1, 2:] == 0)
    kpm = dg.tensor(np.array([[False, False, True, True], [False, True, False, False]]))
    _, w2 = att(q.unsqueeze(1), k, v, key_padding_mask=kpm)
    assert w2.shape == (2, 1, 4) and np.all(to_numpy(w2)[0, 0, 2:] == 0)
    assert gradcheck(lambda q, k, v: att(q, k, v, key_padding_mask=kpm)[0], [q, k, v])
    with pytest.raises(RuntimeError, match=r"AdditiveAttention.*key must be \(N, S, 4\)"):
        att(q, dg.randn(2, 4, 3).double())


def test_additive_attention_in_a_seq2seq_decoder_step():
    """Bahdanau decoding: a GRU cell consumes the context of the encoder outputs."""
    from deepgrad.nn.modules.rnn import GRU
    from deepgrad.nn.modules.rnn_cells import GRUCell

    dg.manual_seed(2)
    encoder, cell = GRU(3, 4, batch_first=True), GRUCell(3 + 4, 4)
    attention = AdditiveAttention(4, 4, 6)
    outputs, h = encoder(dg.randn(2, 5, 3))
    state = h[0]
    for _ in range(3):
        context, weights = attention(state, outputs)
        state = cell(dg.cat([dg.randn(2, 3), context], -1), state)
    loss = (state ** 2).sum()
    loss.backward()
    assert all(p.grad is not None for p in attention.parameters())
    assert math.isfinite(loss.item())

"""Transformer layers, stacks, the full Transformer and the sinusoidal positional encoding.

Against PyTorch (when installed, dropout 0, float64): outputs, input gradients and
parameter gradients from the same state_dict. Without PyTorch: the encoding's
formula, the causal mask, gradchecks, dropout behaviour and error messages.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import gradcheck
from deepgrad.nn.modules.transformer import (
    PositionalEncoding, Transformer, TransformerDecoder, TransformerDecoderLayer,
    TransformerEncoder, TransformerEncoderLayer,
)

from helpers import requires_torch, to_numpy


def close(a, b, tol=1e-10):
    a, b = to_numpy(a), to_numpy(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def copy_state(torch_module, module) -> None:
    state = torch_module.state_dict()
    assert list(state) == list(module.state_dict())
    module.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in state.items()})


def compare_grads(torch_module, module) -> None:
    for (tn, tp), (dn, dp) in zip(torch_module.named_parameters(), module.named_parameters()):
        assert tn == dn
        close(tp.grad, dp.grad)


@requires_torch
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(norm_first, batch_first, activation):
    import torch

    kwargs = dict(dim_feedforward=12, dropout=0.0, norm_first=norm_first,
                  batch_first=batch_first, activation=activation)
    tm = torch.nn.TransformerEncoderLayer(8, 2, **kwargs).double()
    dm = TransformerEncoderLayer(8, 2, **kwargs).double()
    copy_state(tm, dm)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 8) if batch_first else (5, 2, 8))
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    mask = np.triu(np.ones((5, 5), bool), 1)  # bool like the padding mask (PyTorch warns otherwise)
    tx, dx = torch.tensor(x, requires_grad=True), dg.tensor(x, requires_grad=True)
    t_out = tm(tx, src_mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(kpm))
    d_out = dm(dx, src_mask=dg.tensor(mask), src_key_padding_mask=dg.tensor(kpm))
    close(t_out, d_out)
    (t_out ** 2).sum().backward()
    (d_out ** 2).sum().backward()
    close(tx.grad, dx.grad)
    compare_grads(tm, dm)


@requires_torch
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, batch_first):
    import torch

    kwargs = dict(dim_feedforward=12, dropout=0.0, norm_first=norm_first, batch_first=batch_first)
    tm = torch.nn.TransformerDecoderLayer(8, 2, **kwargs).double()
    dm = TransformerDecoderLayer(8, 2, **kwargs).double()
    copy_state(tm, dm)
    rng = np.random.default_rng(1)
    tgt = rng.standard_normal((2, 4, 8) if batch_first else (4, 2, 8))
    mem = rng.standard_normal((2, 6, 8) if batch_first else (6, 2, 8))
    mem_kpm = np.zeros((2, 6), bool)
    mem_kpm[0, 4:] = True
    tgt_mask = np.triu(np.ones((4, 4), bool), 1)
    tt, dt = torch.tensor(tgt, requires_grad=True), dg.tensor(tgt, requires_grad=True)
    tmem, dmem = torch.tensor(mem, requires_grad=True), dg.tensor(mem, requires_grad=True)
    t_out = tm(tt, tmem, tgt_mask=torch.tensor(tgt_mask),
               memory_key_padding_mask=torch.tensor(mem_kpm))
    d_out = dm(dt, dmem, tgt_mask=dg.tensor(tgt_mask), memory_key_padding_mask=dg.tensor(mem_kpm))
    close(t_out, d_out)
    (t_out ** 2).sum().backward()
    (d_out ** 2).sum().backward()
    close(tt.grad, dt.grad)
    close(tmem.grad, dmem.grad)
    compare_grads(tm, dm)


@requires_torch
@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(batch_first):
    import torch

    kwargs = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                  dim_feedforward=12, dropout=0.0, batch_first=batch_first)
    tm, dm = torch.nn.Transformer(**kwargs).double(), Transformer(**kwargs).double()
    copy_state(tm, dm)
    rng = np.random.default_rng(2)
    src = rng.standard_normal((2, 5, 8) if batch_first else (5, 2, 8))
    tgt = rng.standard_normal((2, 4, 8) if batch_first else (4, 2, 8))
    kpm = np.zeros((2, 5), bool)
    kpm[1, 4:] = True
    t_mask = torch.nn.Transformer.generate_square_subsequent_mask(4).double()
    d_mask = Transformer.generate_square_subsequent_mask(4, dtype=dg.float64)
    close(t_mask, d_mask, 0)
    ts, ds = torch.tensor(src, requires_grad=True), dg.tensor(src, requires_grad=True)
    t_out = tm(ts, torch.tensor(tgt), tgt_mask=t_mask, src_key_padding_mask=torch.tensor(kpm),
               memory_key_padding_mask=torch.tensor(kpm))
    d_out = dm(ds, dg.tensor(tgt), tgt_mask=d_mask, src_key_padding_mask=dg.tensor(kpm),
               memory_key_padding_mask=dg.tensor(kpm))
    close(t_out, d_out)
    (t_out ** 2).sum().backward()
    (d_out ** 2).sum().backward()
    close(ts.grad, ds.grad)
    compare_grads(tm, dm)


@requires_torch
def test_stacks_with_callable_activation_match_torch():
    import torch
    import torch.nn.functional as TF

    import deepgrad.nn.functional as F

    t_layer = torch.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation=TF.silu)
    d_layer = TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation=F.silu)
    tm = torch.nn.TransformerEncoder(t_layer, 2, norm=torch.nn.LayerNorm(4),
                                     enable_nested_tensor=False).double()
    from deepgrad.nn.modules.normalization import LayerNorm

    dm = TransformerEncoder(d_layer, 2, norm=LayerNorm(4)).double()
    copy_state(tm, dm)
    x = np.random.default_rng(3).standard_normal((3, 2, 4))
    mask = np.triu(np.full((3, 3), -np.inf), 1)
    close(tm(torch.tensor(x), mask=torch.tensor(mask)), dm(dg.tensor(x), mask=dg.tensor(mask)))
    td = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0),
                                     2).double()
    dd = TransformerDecoder(TransformerDecoderLayer(4, 2, 6, dropout=0.0), 2).double()
    copy_state(td, dd)
    mem = np.random.default_rng(4).standard_normal((5, 2, 4))
    close(td(torch.tensor(x), torch.tensor(mem), tgt_mask=torch.tensor(mask)),
          dd(dg.tensor(x), dg.tensor(mem), tgt_mask=dg.tensor(mask)))


def test_encoder_layer_gradcheck_and_dropout():
    dg.manual_seed(0)
    layer = TransformerEncoderLayer(4, 2, 6, dropout=0.0).double()
    x = dg.tensor(np.random.default_rng(5).standard_normal((3, 1, 4)), requires_grad=True)
    mask = Transformer.generate_square_subsequent_mask(3, dtype=dg.float64)
    assert gradcheck(lambda x: layer(x, src_mask=mask), [x])
    noisy = TransformerEncoderLayer(4, 2, 6, dropout=0.5).double()
    a, b = noisy(x), noisy(x)
    assert not np.allclose(to_numpy(a), to_numpy(b))
    noisy.eval()
    close(noisy(x), noisy(x), 0)


def test_square_subsequent_mask_and_names():
    mask = to_numpy(Transformer.generate_square_subsequent_mask(3))
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    model = Transformer(8, 2, 1, 1, 12)
    names = list(model.state_dict())
    assert "encoder.layers.0.self_attn.in_proj_weight" in names
    assert "decoder.layers.0.multihead_attn.out_proj.bias" in names
    assert "encoder.norm.weight" in names and "decoder.norm3.weight" not in names
    assert "decoder.layers.0.norm3.weight" in names
    w = to_numpy(model.encoder.layers[0].linear1.weight)
    bound = math.sqrt(6 / (8 + 12))  # Xavier-uniform for every matrix
    assert np.abs(w).max() <= bound and np.abs(w).max() > bound / 2


def test_positional_encoding():
    pe = PositionalEncoding(6, dropout=0.0, max_len=10)
    assert pe.pe.shape == (10, 1, 6) and list(pe.state_dict()) == ["pe"]
    pos, i = np.arange(10)[:, None], np.arange(3)[None, :]
    angle = pos / 10000 ** (2 * i / 6)
    np.testing.assert_allclose(to_numpy(pe.pe)[:, 0, 0::2], np.sin(angle), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(to_numpy(pe.pe)[:, 0, 1::2], np.cos(angle), rtol=1e-6, atol=1e-6)
    x = dg.zeros(4, 2, 6)
    out = to_numpy(pe(x))
    np.testing.assert_allclose(out[:, 0], to_numpy(pe.pe)[:4, 0])
    np.testing.assert_allclose(out[:, 1], to_numpy(pe.pe)[:4, 0])
    bf = PositionalEncoding(5, dropout=0.0, batch_first=True)  # odd d_model
    y = to_numpy(bf(dg.zeros(2, 3, 5)))
    np.testing.assert_allclose(y[1], to_numpy(bf.pe)[:3, 0])
    with pytest.raises(RuntimeError, match="max_len=10"):
        pe(dg.zeros(11, 2, 6))
    with pytest.raises(RuntimeError, match=r"d_model=6.*\(4, 2, 5\)"):
        pe(dg.zeros(4, 2, 5))


def test_transformer_errors():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        TransformerEncoderLayer(4, 2, activation="tanh")
    layer = TransformerEncoderLayer(4, 2, 6)
    with pytest.raises(RuntimeError, match=r"TransformerEncoderLayer.*d_model=4.*\(3, 2, 5\)"):
        layer(dg.randn(3, 2, 5))
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(2, 2\).*\(3, 3\)"):
        layer(dg.randn(3, 2, 4), src_mask=dg.zeros(2, 2))
    model = Transformer(4, 2, 1, 1, 6)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        model(dg.randn(3, 2, 4), dg.randn(3, 3, 4))

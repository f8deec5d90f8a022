"""Recurrent layers (RNN, LSTM, GRU, cells) and packed sequences.

Against PyTorch (when installed): the same state_dict gives the same outputs,
final states, input gradients and parameter gradients in float64. Without
PyTorch: gradchecks of the fused recurrence, packed batches against running each
sequence alone, names, initialization and error messages.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.nn.functional.recurrent import Plan, composite, fused_recurrence
from deepgrad.nn.modules.rnn import GRU, LSTM, RNN
from deepgrad.nn.modules.rnn_cells import GRUCell, LSTMCell, RNNCell
from deepgrad.nn.utils import rnn as rnn_utils

from helpers import requires_torch, to_numpy

LAYERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
CELLS = {"RNNCell": RNNCell, "LSTMCell": LSTMCell, "GRUCell": GRUCell}


def close(a, b, tol=1e-10):
    a, b = to_numpy(a), to_numpy(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def copy_state(torch_module, module) -> None:
    """Load a torch module's state_dict into a deepgrad module (via NumPy), names checked."""
    state = torch_module.state_dict()
    assert list(state) == list(module.state_dict())
    module.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in state.items()})


def states(out):
    """(h_n,) or (h_n, c_n) from a layer's second output."""
    return out if isinstance(out, tuple) else (out,)


# --- against PyTorch ----------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("name,kwargs", [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("LSTM", {"proj_size": 2}),
    ("GRU", {}),
])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_matches_torch(name, kwargs, batch_first, bidirectional):
    import torch

    rng = np.random.default_rng(0)
    tm = getattr(torch.nn, name)(3, 4, num_layers=2, batch_first=batch_first,
                                 bidirectional=bidirectional, **kwargs).double()
    dm = LAYERS[name](3, 4, num_layers=2, batch_first=batch_first, bidirectional=bidirectional,
                      **kwargs).double()
    copy_state(tm, dm)
    x = rng.standard_normal((3, 5, 3) if batch_first else (5, 3, 3))
    directions = 2 if bidirectional else 1
    out_size = kwargs.get("proj_size", 4)
    h0 = rng.standard_normal((2 * directions, 3, out_size))
    c0 = rng.standard_normal((2 * directions, 3, 4))
    tx, dx = torch.tensor(x, requires_grad=True), dg.tensor(x, requires_grad=True)
    th0, dh0 = torch.tensor(h0, requires_grad=True), dg.tensor(h0, requires_grad=True)
    tc0, dc0 = torch.tensor(c0, requires_grad=True), dg.tensor(c0, requires_grad=True)
    if name == "LSTM":
        t_out, t_st = tm(tx, (th0, tc0))
        d_out, d_st = dm(dx, (dh0, dc0))
    else:
        t_out, t_st = tm(tx, th0)
        d_out, d_st = dm(dx, dh0)
    close(t_out, d_out)
    for a, b in zip(states(t_st), states(d_st)):
        close(a, b)
    weights = rng.standard_normal(tuple(t_out.shape))
    t_loss = (t_out * torch.tensor(weights)).sum() + sum((s ** 2).sum() for s in states(t_st))
    d_loss = (d_out * dg.tensor(weights)).sum() + sum((s ** 2).sum() for s in states(d_st))
    t_loss.backward()
    d_loss.backward()
    close(tx.grad, dx.grad)
    close(th0.grad, dh0.grad)
    if name == "LSTM":
        close(tc0.grad, dc0.grad)
    for (tn, tp), (dn, dp) in zip(tm.named_parameters(), dm.named_parameters()):
        assert tn == dn
        close(tp.grad, dp.grad)


@requires_torch
@pytest.mark.parametrize("name,kwargs", [("RNN", {}), ("LSTM", {}), ("LSTM", {"proj_size": 3}),
                                         ("GRU", {})])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_sequences_match_torch(name, kwargs, batch_first):
    import torch
    from torch.nn.utils import rnn as tu

    rng = np.random.default_rng(1)
    tm = getattr(torch.nn, name)(3, 4, num_layers=2, bidirectional=True,
                                 batch_first=batch_first, **kwargs).double()
    dm = LAYERS[name](3, 4, num_layers=2, bidirectional=True, batch_first=batch_first,
                      **kwargs).double()
    copy_state(tm, dm)
    lengths = [2, 5, 1, 4]  # unsorted: exercises sorted_indices / unsorted_indices
    x = rng.standard_normal((4, 5, 3) if batch_first else (5, 4, 3))
    tx, dx = torch.tensor(x, requires_grad=True), dg.tensor(x, requires_grad=True)
    tp = tu.pack_padded_sequence(tx, lengths, batch_first=batch_first, enforce_sorted=False)
    dp = rnn_utils.pack_padded_sequence(dx, lengths, batch_first=batch_first, enforce_sorted=False)
    close(tp.data, dp.data)
    assert dp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert dp.sorted_indices.tolist() == tp.sorted_indices.tolist()
    h0 = rng.standard_normal((4, 4, kwargs.get("proj_size", 4)))
    th0, dh0 = torch.tensor(h0, requires_grad=True), dg.tensor(h0, requires_grad=True)
    hx_t = (th0, torch.zeros(4, 4, 4, dtype=torch.float64)) if name == "LSTM" else th0
    hx_d = (dh0, dg.zeros(4, 4, 4, dtype=dg.float64)) if name == "LSTM" else dh0
    t_out, t_st = tm(tp, hx_t)
    d_out, d_st = dm(dp, hx_d)
    assert isinstance(d_out, rnn_utils.PackedSequence)
    close(t_out.data, d_out.data)
    t_pad, t_len = tu.pad_packed_sequence(t_out, batch_first=batch_first, total_length=6)
    d_pad, d_len = rnn_utils.pad_packed_sequence(d_out, batch_first=batch_first, total_length=6)
    close(t_pad, d_pad)
    assert d_len.tolist() == t_len.tolist() == lengths
    for a, b in zip(states(t_st), states(d_st)):
        close(a, b)
    weights = rng.standard_normal(tuple(t_pad.shape))
    t_h, d_h = states(t_st)[0], states(d_st)[0]
    ((t_pad * torch.tensor(weights)).sum() + (t_h ** 3).sum()).backward()
    ((d_pad * dg.tensor(weights)).sum() + (d_h ** 3).sum()).backward()
    close(tx.grad, dx.grad)
    close(th0.grad, dh0.grad)
    for (tn, tparam), (dn, dparam) in zip(tm.named_parameters(), dm.named_parameters()):
        close(tparam.grad, dparam.grad)


@requires_torch
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("with_state", [False, True])
def test_cells_match_torch(name, with_state):
    import torch

    rng = np.random.default_rng(2)
    tm = getattr(torch.nn, name)(3, 4).double()
    dm = CELLS[name](3, 4).double()
    copy_state(tm, dm)
    x = rng.standard_normal((2, 3))
    tx, dx = torch.tensor(x, requires_grad=True), dg.tensor(x, requires_grad=True)
    h = rng.standard_normal((2, 4))
    th, dh = torch.tensor(h, requires_grad=True), dg.tensor(h, requires_grad=True)
    if name == "LSTMCell":
        hx_t, hx_d = ((th, th * 2), (dh, dh * 2)) if with_state else (None, None)
    else:
        hx_t, hx_d = (th, dh) if with_state else (None, None)
    t_out, d_out = tm(tx, hx_t), dm(dx, hx_d)
    for a, b in zip(states(t_out), states(d_out)):
        close(a, b)
    sum((o ** 2).sum() for o in states(t_out)).backward()
    sum((o ** 2).sum() for o in states(d_out)).backward()
    close(tx.grad, dx.grad)
    if with_state:
        close(th.grad, dh.grad)
    for (_, tp), (_, dp) in zip(tm.named_parameters(), dm.named_parameters()):
        close(tp.grad, dp.grad)
    # unbatched input (input_size,) gives PyTorch's unbatched result too
    t1, d1 = tm(tx[0].detach()), dm(dx[0].detach())
    for a, b in zip(states(t1), states(d1)):
        close(a, b)


@requires_torch
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(name):
    import torch

    tm = getattr(torch.nn, name)(3, 4, num_layers=2, bidirectional=True).double()
    dm = LAYERS[name](3, 4, num_layers=2, bidirectional=True).double()
    copy_state(tm, dm)
    x = np.random.default_rng(3).standard_normal((5, 3))
    t_out, t_st = tm(torch.tensor(x))
    d_out, d_st = dm(dg.tensor(x))
    close(t_out, d_out)
    for a, b in zip(states(t_st), states(d_st)):
        assert b.shape == tuple(a.shape)
        close(a, b)


@requires_torch
def test_padding_utilities_match_torch():
    import torch
    from torch.nn.utils import rnn as tu

    rng = np.random.default_rng(4)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    t_seqs, d_seqs = [torch.tensor(s) for s in seqs], [dg.tensor(s) for s in seqs]
    for kwargs in ({}, {"batch_first": True}, {"padding_value": -1.0, "padding_side": "left"}):
        close(tu.pad_sequence(t_seqs, **kwargs), rnn_utils.pad_sequence(d_seqs, **kwargs))
    tp, dp = tu.pack_sequence(t_seqs, enforce_sorted=False), \
        rnn_utils.pack_sequence(d_seqs, enforce_sorted=False)
    close(tp.data, dp.data)
    assert dp.unsorted_indices.tolist() == tp.unsorted_indices.tolist()
    for a, b in zip(tu.unpack_sequence(tp), rnn_utils.unpack_sequence(dp)):
        close(a, b)


# --- without PyTorch ------------------------------------------------------------------------
MODES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _fused_args(mode: str, rows: int, batch: int, rng, hidden: int = 3, proj: int = 0) -> list:
    gates = MODES[mode] * hidden
    out = proj or hidden

    def t(*shape):
        return dg.Tensor(rng.standard_normal(shape) * 0.6, requires_grad=True)

    return [t(rows, 2), t(batch, out), t(batch, hidden) if mode == "LSTM" else None,
            t(gates, 2), t(gates, out), t(gates), t(gates), t(proj, hidden) if proj else None]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("batch_sizes,reverse", [((2, 2, 2), False), ((3, 2, 1), False),
                                                 ((3, 2, 1), True)])
def test_fused_recurrence_gradcheck(mode, batch_sizes, reverse):
    rng = np.random.default_rng(5)
    plan = Plan(batch_sizes, reverse)
    args = _fused_args(mode, sum(batch_sizes), batch_sizes[0], rng)
    fn = lambda *a: fused_recurrence(mode, *a, plan)  # noqa: E731
    for got, want in zip(fn(*args), composite(mode, *args, plan=plan)):
        close(got, want, 1e-12)
    assert gradcheck(fn, args)


def test_fused_projected_lstm_gradcheck():
    rng = np.random.default_rng(6)
    plan = Plan((3, 2, 2), reverse=True)
    args = _fused_args("LSTM", 7, 3, rng, hidden=3, proj=2)
    assert gradcheck(lambda *a: fused_recurrence("LSTM", *a, plan), args)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_fused_recurrence_second_order(mode):
    rng = np.random.default_rng(7)
    plan = Plan((2, 1), reverse=True)
    args = _fused_args(mode, 3, 2, rng, hidden=2)
    assert gradgradcheck(lambda *a: fused_recurrence(mode, *a, plan), args)


def test_module_gradcheck_packed_bidirectional_lstm():
    dg.manual_seed(0)
    lstm = LSTM(2, 2, bidirectional=True).double()
    x = dg.Tensor(np.random.default_rng(8).standard_normal((3, 2, 2)), requires_grad=True)

    def fn(x):
        packed = rnn_utils.pack_padded_sequence(x, [3, 1])
        out, (h, c) = lstm(packed)
        return rnn_utils.pad_packed_sequence(out)[0], h, c

    assert gradcheck(fn, [x])


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_packed_batch_equals_each_sequence_alone(name):
    """Outputs are zero past each length, final states are at each sequence's last step."""
    dg.manual_seed(1)
    layer = LAYERS[name](2, 3, num_layers=2, bidirectional=True, batch_first=True).double()
    rng = np.random.default_rng(9)
    lengths = [2, 4, 3]
    x = rng.standard_normal((3, 4, 2))
    packed = rnn_utils.pack_padded_sequence(dg.tensor(x), lengths, batch_first=True,
                                            enforce_sorted=False)
    out, st = layer(packed)
    padded, got_lengths = rnn_utils.pad_packed_sequence(out, batch_first=True)
    assert got_lengths.tolist() == lengths
    for b, n in enumerate(lengths):
        alone_out, alone_st = layer(dg.tensor(x[b:b + 1, :n]))
        close(padded[b, :n], alone_out[0], 1e-12)
        assert np.all(to_numpy(padded[b, n:]) == 0)
        for s_batch, s_alone in zip(states(st), states(alone_st)):
            close(s_batch[:, b], s_alone[:, 0], 1e-12)


def test_parameter_names_shapes_and_init():
    lstm = LSTM(3, 8, num_layers=2, bidirectional=True, proj_size=2)
    shapes = {k: tuple(v.shape) for k, v in lstm.state_dict().items()}
    assert list(shapes)[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                "weight_hr_l0"]
    assert shapes["weight_ih_l0"] == (32, 3)
    assert shapes["weight_hh_l0_reverse"] == (32, 2)
    assert shapes["weight_ih_l1"] == (32, 4)
    assert shapes["weight_hr_l1_reverse"] == (2, 8)
    assert len(shapes) == 20
    gru = GRU(3, 16, bias=False)
    assert list(gru.state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    bound = 1 / np.sqrt(16)
    values = np.concatenate([to_numpy(p).ravel() for p in gru.parameters()])
    assert values.min() >= -bound and values.max() <= bound and values.std() > bound / 3
    assert repr(LSTM(3, 8, 2, batch_first=True, bidirectional=True)) == \
        "LSTM(3, 8, num_layers=2, batch_first=True, bidirectional=True)"
    assert [len(w) for w in lstm.all_weights] == [5, 5, 5, 5]


def test_bias_gradients_are_separate_arrays():
    """b_ih and b_hh get equal gradients, but each its own array (clipping works in place)."""
    layer = LSTM(2, 3)
    out, _ = layer(dg.randn(4, 2, 2))
    out.sum().backward()
    close(layer.bias_ih_l0.grad, layer.bias_hh_l0.grad, 0)
    assert layer.bias_ih_l0.grad.array is not layer.bias_hh_l0.grad.array
    layer.bias_ih_l0.grad.array[...] = 0
    assert np.any(to_numpy(layer.bias_hh_l0.grad) != 0)


def test_dtype_dropout_and_no_grad():
    dg.manual_seed(2)
    layer = GRU(4, 5, num_layers=2, dropout=0.5)
    x = dg.randn(6, 3, 4)
    out, h = layer(x)
    assert out.dtype == dg.float32 and h.dtype == dg.float32 and out.shape == (6, 3, 5)
    layer.eval()
    with dg.no_grad():
        a, _ = layer(x)
        b, _ = layer(x)
    close(a, b, 0)
    layer.train()
    c, _ = layer(x)
    assert not np.allclose(to_numpy(a), to_numpy(c))
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        LSTM(2, 2, dropout=0.2)


def test_layer_errors_name_the_layer_and_shapes():
    lstm = LSTM(3, 4, num_layers=2)
    with pytest.raises(RuntimeError, match=r"LSTM.*\(5, 2, 7\).*input_size=3"):
        lstm(dg.randn(5, 2, 7))
    with pytest.raises(RuntimeError, match=r"LSTM.*\(5, 2, 3, 1\).*3-d"):
        lstm(dg.randn(5, 2, 3, 1))
    with pytest.raises(RuntimeError, match=r"h_0.*\(2, 2, 4\).*got \(1, 2, 4\)"):
        lstm(dg.randn(5, 2, 3), (dg.zeros(1, 2, 4), dg.zeros(2, 2, 4)))
    with pytest.raises(RuntimeError, match=r"c_0.*\(2, 2, 4\).*got \(2, 3, 4\)"):
        lstm(dg.randn(5, 2, 3), (dg.zeros(2, 2, 4), dg.zeros(2, 3, 4)))
    with pytest.raises(RuntimeError, match="tuple"):
        lstm(dg.randn(5, 2, 3), dg.zeros(2, 2, 4))
    with pytest.raises(RuntimeError, match="dtype"):
        lstm(dg.randn(5, 2, 3).double())
    with pytest.raises(RuntimeError, match=r"GRU.*h_0.*\(2, 2, 4\)"):
        GRU(3, 4, bidirectional=True)(dg.randn(5, 2, 3), dg.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="proj_size"):
        LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size"):
        GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="sigmoid")
    cell = LSTMCell(3, 4)
    with pytest.raises(RuntimeError, match=r"LSTMCell.*\(2, 5\).*input_size=3"):
        cell(dg.randn(2, 5))
    with pytest.raises(RuntimeError, match=r"LSTMCell.*\(2, 4\).*got \(3, 4\)"):
        cell(dg.randn(2, 3), (dg.zeros(3, 4), dg.zeros(3, 4)))


def test_packing_errors():
    x = dg.randn(4, 2, 3)
    with pytest.raises(RuntimeError, match="decreasing order"):
        rnn_utils.pack_padded_sequence(x, [2, 4])
    with pytest.raises(RuntimeError, match="longer than"):
        rnn_utils.pack_padded_sequence(x, [5, 4])
    with pytest.raises(ValueError, match="2 sequences"):
        rnn_utils.pack_padded_sequence(x, [4])
    packed = rnn_utils.pack_padded_sequence(x, [4, 2])
    with pytest.raises(ValueError, match="total_length"):
        rnn_utils.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(RuntimeError, match="packed data"):
        LSTM(5, 2)(packed)

"""Every layer of part 1 against PyTorch's module of the same name (and the random layers'
semantics, which no shared seed can compare).

Each case builds the module twice with the same code (``make(nn, lib)`` where
``nn`` is ``deepgrad.nn`` or ``torch.nn`` and ``lib`` is ``deepgrad`` or
``torch``), copies PyTorch's state_dict into ours through NumPy, and compares,
in float64 after a training-mode forward: outputs, input gradients, parameter
gradients (by name), parameters and buffers.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
import deepgrad.nn.functional as F
from deepgrad.autograd import gradcheck, gradgradcheck
from helpers import requires_torch, to_numpy


@dataclass
class In:
    """One input: ``kind`` 'float' (differentiable), 'const' (float, no grad), 'int' or 'sign'."""

    shape: tuple
    low: float = -2.0
    high: float = 2.0
    kind: str = "float"
    values: Any = None  # fixed values instead of random ones


def R(*shape: int, low: float = -2.0, high: float = 2.0) -> In:
    return In(shape, low, high)


def C(*shape: int, low: float = -2.0, high: float = 2.0) -> In:
    return In(shape, low, high, "const")


def I(*shape: int, high: int = 5) -> In:  # noqa: E743 - short for "integer input"
    return In(shape, 0, high, "int")


def V(values: Any) -> In:
    a = np.asarray(values)
    return In(a.shape, kind="int" if a.dtype.kind in "iu" else "const", values=a)


@dataclass
class Case:
    id: str
    make: Callable[[Any, Any], Any]
    inputs: list
    train: bool = True
    atol: float = 1e-10


CASES = [
    Case("Linear", lambda nn, lib: nn.Linear(5, 3), [R(4, 5)]),
    Case("Linear-3d-nobias", lambda nn, lib: nn.Linear(5, 3, bias=False), [R(2, 3, 5)]),
    Case("Linear-1d", lambda nn, lib: nn.Linear(5, 3), [R(5)]),
    Case("Bilinear", lambda nn, lib: nn.Bilinear(3, 4, 2), [R(5, 3), R(5, 4)]),
    Case("Bilinear-nobias", lambda nn, lib: nn.Bilinear(3, 2, 4, bias=False), [R(2, 3, 3), R(2, 3, 2)]),
    Case("Identity", lambda nn, lib: nn.Identity(7, key="ignored"), [R(3, 2)]),
    Case("Flatten", lambda nn, lib: nn.Flatten(), [R(2, 3, 4)]),
    Case("Flatten-0-1", lambda nn, lib: nn.Flatten(0, 1), [R(2, 3, 4)]),
    Case("Unflatten", lambda nn, lib: nn.Unflatten(1, (2, 3)), [R(4, 6)]),
    Case("Dropout-p0", lambda nn, lib: nn.Dropout(0.0), [R(4, 5)]),
    Case("Dropout-eval", lambda nn, lib: nn.Dropout(0.5), [R(4, 5)], train=False),
    Case("Dropout2d-eval", lambda nn, lib: nn.Dropout2d(0.3), [R(2, 3, 2, 2)], train=False),
    Case("Dropout1d-eval", lambda nn, lib: nn.Dropout1d(0.3), [R(2, 3, 4)], train=False),
    Case("Embedding", lambda nn, lib: nn.Embedding(10, 3), [I(2, 4, high=10)]),
    Case("Embedding-padding_idx", lambda nn, lib: nn.Embedding(6, 3, padding_idx=1),
         [V([[1, 2, 1], [0, 5, 1]])]),
    Case("Embedding-negative-padding_idx", lambda nn, lib: nn.Embedding(6, 3, padding_idx=-1),
         [V([[5, 2, 1], [0, 5, 1]])]),
    Case("Embedding-scale_grad_by_freq", lambda nn, lib: nn.Embedding(6, 2, scale_grad_by_freq=True),
         [V([[1, 2, 1], [0, 1, 1]])]),
    Case("Embedding-max_norm", lambda nn, lib: nn.Embedding(6, 4, max_norm=1.0),
         [V([[1, 2, 1], [0, 3, 3]])]),
    Case("Embedding-max_norm-p1", lambda nn, lib: nn.Embedding(6, 4, max_norm=1.5, norm_type=1.0),
         [V([4, 2, 4])]),
    Case("ReLU", lambda nn, lib: nn.ReLU(), [R(3, 4)]),
    Case("ReLU-inplace", lambda nn, lib: nn.Sequential(nn.Linear(4, 3), nn.ReLU(inplace=True)),
         [R(2, 4)]),
    Case("LeakyReLU", lambda nn, lib: nn.LeakyReLU(0.1), [R(3, 4)]),
    Case("LeakyReLU-inplace", lambda nn, lib: nn.Sequential(nn.Linear(4, 3),
                                                         nn.LeakyReLU(0.2, inplace=True)), [R(2, 4)]),
    Case("PReLU", lambda nn, lib: nn.PReLU(), [R(3, 4)]),
    Case("PReLU-channels", lambda nn, lib: nn.PReLU(3, init=0.1), [R(2, 3, 4)]),
    Case("ELU", lambda nn, lib: nn.ELU(0.5), [R(3, 4)]),
    Case("ELU-inplace", lambda nn, lib: nn.Sequential(nn.Linear(4, 3), nn.ELU(inplace=True)),
         [R(2, 4)]),
    Case("CELU", lambda nn, lib: nn.CELU(1.3), [R(3, 4)]),
    Case("SELU", lambda nn, lib: nn.SELU(), [R(3, 4)]),
    Case("GELU", lambda nn, lib: nn.GELU(), [R(3, 4, low=-4, high=4)]),
    Case("GELU-tanh", lambda nn, lib: nn.GELU(approximate="tanh"), [R(3, 4, low=-4, high=4)]),
    Case("SiLU", lambda nn, lib: nn.SiLU(), [R(3, 4, low=-6, high=6)]),
    Case("Mish", lambda nn, lib: nn.Mish(), [R(3, 4)]),
    Case("Sigmoid", lambda nn, lib: nn.Sigmoid(), [R(3, 4)]),
    Case("Tanh", lambda nn, lib: nn.Tanh(), [R(3, 4)]),
    Case("LogSigmoid", lambda nn, lib: nn.LogSigmoid(), [R(3, 4, low=-30, high=30)]),
    Case("Softsign", lambda nn, lib: nn.Softsign(), [R(3, 4)]),
    Case("Softmax", lambda nn, lib: nn.Softmax(dim=1), [R(2, 3, 4)]),
    Case("Softmin", lambda nn, lib: nn.Softmin(dim=-1), [R(2, 3)]),
    Case("LogSoftmax", lambda nn, lib: nn.LogSoftmax(dim=-1), [R(2, 5, low=-50, high=50)]),
    Case("Softplus", lambda nn, lib: nn.Softplus(), [R(3, 4, low=-30, high=30)]),
    Case("Softplus-beta", lambda nn, lib: nn.Softplus(beta=2.0, threshold=1.5), [R(4, 5)]),
    Case("Hardtanh", lambda nn, lib: nn.Hardtanh(-0.5, 0.8), [R(3, 4)]),
    Case("ReLU6", lambda nn, lib: nn.ReLU6(), [R(3, 4, low=-3, high=9)]),
    Case("ReLU6-exact-bounds", lambda nn, lib: nn.Sequential(nn.ReLU(), nn.ReLU6()),
         [R(3, 4, low=-3, high=9)]),
    Case("MLP", lambda nn, lib: nn.Sequential(
        nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Dropout(0.0), nn.Linear(8, 3), nn.LogSoftmax(1)),
        [R(4, 3, 4)]),
    Case("EmbeddingBag-like", lambda nn, lib: nn.Sequential(OrderedDict(
        emb=nn.Embedding(7, 4), flat=nn.Flatten(), fc=nn.Linear(12, 2))), [I(5, 3, high=7)]),
    # --- losses --------------------------------------------------------------------------
    Case("MSELoss", lambda nn, lib: nn.MSELoss(), [R(3, 4), C(3, 4)]),
    Case("MSELoss-sum", lambda nn, lib: nn.MSELoss(reduction="sum"), [R(3, 4), R(3, 4)]),
    Case("L1Loss-none", lambda nn, lib: nn.L1Loss(reduction="none"), [R(3, 4), C(3, 4)]),
    Case("HuberLoss", lambda nn, lib: nn.HuberLoss(delta=0.5), [R(3, 4), R(3, 4)]),
    Case("SmoothL1Loss", lambda nn, lib: nn.SmoothL1Loss(beta=0.5), [R(3, 4), C(3, 4)]),
    Case("SmoothL1Loss-beta0", lambda nn, lib: nn.SmoothL1Loss(beta=0.0), [R(3, 4), C(3, 4)]),
    Case("CrossEntropyLoss", lambda nn, lib: nn.CrossEntropyLoss(), [R(6, 5), I(6, high=5)]),
    Case("CrossEntropyLoss-weight-smoothing", lambda nn, lib: nn.CrossEntropyLoss(
        weight=lib.tensor([0.2, 1.0, 3.0, 0.5]), label_smoothing=0.15, ignore_index=2),
        [R(8, 4), I(8, high=4)]),
    Case("CrossEntropyLoss-2d-sum", lambda nn, lib: nn.CrossEntropyLoss(reduction="sum"),
         [R(2, 3, 4, 2), I(2, 4, 2, high=3)]),
    Case("CrossEntropyLoss-probs", lambda nn, lib: nn.CrossEntropyLoss(
        weight=lib.tensor([0.2, 1.0, 3.0]), label_smoothing=0.2), [R(4, 3), C(4, 3, low=0, high=1)]),
    Case("CrossEntropyLoss-unbatched", lambda nn, lib: nn.CrossEntropyLoss(), [R(5), V(3)]),
    Case("NLLLoss", lambda nn, lib: nn.NLLLoss(), [R(5, 4), I(5, high=4)]),
    Case("NLLLoss-weight", lambda nn, lib: nn.NLLLoss(weight=lib.tensor([1.0, 2.0, 0.5]),
                                                      ignore_index=0), [R(6, 3), I(6, high=3)]),
    Case("NLLLoss-none", lambda nn, lib: nn.NLLLoss(reduction="none"), [R(2, 3, 4), I(2, 4, high=3)]),
    Case("BCELoss", lambda nn, lib: nn.BCELoss(), [R(3, 4, low=0.02, high=0.98), C(3, 4, low=0, high=1)]),
    Case("BCELoss-weight", lambda nn, lib: nn.BCELoss(weight=lib.tensor([0.5, 1.0, 2.0, 1.5]),
                                                      reduction="sum"),
         [R(3, 4, low=0.02, high=0.98), R(3, 4, low=0, high=1)]),
    Case("BCEWithLogitsLoss", lambda nn, lib: nn.BCEWithLogitsLoss(), [R(3, 4, low=-30, high=30),
                                                                       C(3, 4, low=0, high=1)]),
    Case("BCEWithLogitsLoss-pos_weight", lambda nn, lib: nn.BCEWithLogitsLoss(
        weight=lib.tensor([[1.0], [2.0], [0.5]]), pos_weight=lib.tensor([0.5, 2.0, 1.5, 3.0]),
        reduction="none"), [R(3, 4, low=-5, high=5), R(3, 4, low=0, high=1)]),
    Case("KLDivLoss", lambda nn, lib: nn.KLDivLoss(reduction="batchmean"),
         [R(3, 4), R(3, 4, low=0.05, high=1)]),
    Case("KLDivLoss-log_target", lambda nn, lib: nn.KLDivLoss(reduction="sum", log_target=True),
         [R(3, 4), R(3, 4)]),
    Case("CosineEmbeddingLoss", lambda nn, lib: nn.CosineEmbeddingLoss(margin=0.2),
         [R(4, 5), R(4, 5), V([1.0, -1.0, -1.0, 1.0])]),
    Case("MarginRankingLoss", lambda nn, lib: nn.MarginRankingLoss(margin=0.1),
         [R(6), R(6), V([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])]),
    Case("TripletMarginLoss", lambda nn, lib: nn.TripletMarginLoss(margin=0.5, swap=True),
         [R(4, 3), R(4, 3), R(4, 3)]),
    Case("TripletMarginLoss-p3", lambda nn, lib: nn.TripletMarginLoss(margin=2.0, p=3.0,
                                                                      reduction="none"),
         [R(4, 3), R(4, 3), R(4, 3)]),
]


def _arrays(case: Case, rng: np.random.Generator) -> list:
    arrays = []
    for spec in case.inputs:
        if spec.values is not None:
            arrays.append(spec.values)
        elif spec.kind == "int":
            arrays.append(rng.integers(0, int(spec.high), spec.shape))
        else:
            arrays.append(rng.uniform(spec.low, spec.high, spec.shape))
    return arrays


@requires_torch
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_module_matches_torch(case: Case) -> None:
    import torch

    torch.manual_seed(0)
    theirs = case.make(torch.nn, torch).double()
    ours = case.make(nn, dg).double()
    assert list(ours.state_dict()) == list(theirs.state_dict()), case.id
    ours.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    theirs.train(case.train)
    ours.train(case.train)

    arrays = _arrays(case, np.random.default_rng(zlib.crc32(case.id.encode())))
    grads = [s.kind == "float" for s in case.inputs]
    t_in = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    o_in = [dg.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    t_out, o_out = theirs(*t_in), ours(*o_in)

    t_np, o_np = to_numpy(t_out), to_numpy(o_out)
    assert o_np.shape == t_np.shape and o_np.dtype == t_np.dtype, case.id
    np.testing.assert_allclose(o_np, t_np, rtol=1e-7, atol=case.atol, err_msg=f"{case.id}: output")

    weights = np.random.default_rng(1).standard_normal(t_np.shape)
    if t_out.requires_grad:
        (t_out * torch.tensor(weights)).sum().backward()
        (o_out * dg.tensor(weights)).sum().backward()
    for i, (t, o) in enumerate(zip(t_in, o_in)):
        if t.requires_grad:
            assert o.grad is not None, f"{case.id}: no gradient for input {i}"
            np.testing.assert_allclose(to_numpy(o.grad), to_numpy(t.grad), rtol=1e-7,
                                       atol=case.atol, err_msg=f"{case.id}: input {i} gradient")
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        mine = ours_params[name]
        np.testing.assert_allclose(to_numpy(mine), to_numpy(p), rtol=1e-7, atol=case.atol,
                                   err_msg=f"{case.id}: parameter {name}")
        if p.grad is None:
            assert mine.grad is None or not np.any(to_numpy(mine.grad)), f"{case.id}: {name}"
        else:
            np.testing.assert_allclose(to_numpy(mine.grad), to_numpy(p.grad), rtol=1e-7,
                                       atol=case.atol, err_msg=f"{case.id}: gradient of {name}")
    ours_buffers = dict(ours.named_buffers())
    for name, b in theirs.named_buffers():
        np.testing.assert_allclose(to_numpy(ours_buffers[name]), to_numpy(b), rtol=1e-7,
                                   atol=case.atol, err_msg=f"{case.id}: buffer {name}")


@requires_torch
@pytest.mark.parametrize("name,make", [
    ("Linear", lambda nn: nn.Linear(3, 2)), ("ReLU", lambda nn: nn.ReLU(inplace=True)),
    ("LeakyReLU", lambda nn: nn.LeakyReLU(0.2, inplace=True)), ("PReLU", lambda nn: nn.PReLU(3)),
    ("ELU", lambda nn: nn.ELU(alpha=0.5)), ("CELU", lambda nn: nn.CELU()), ("SELU", lambda nn: nn.SELU()),
    ("GELU", lambda nn: nn.GELU()), ("SiLU", lambda nn: nn.SiLU()), ("Softmax", lambda nn: nn.Softmax(1)),
    ("LogSoftmax", lambda nn: nn.LogSoftmax(dim=0)), ("Softplus", lambda nn: nn.Softplus()),
    ("Hardtanh", lambda nn: nn.Hardtanh(-2, 3.5, inplace=True)), ("ReLU6", lambda nn: nn.ReLU6(True)),
    ("Dropout", lambda nn: nn.Dropout(0.25)), ("Dropout2d", lambda nn: nn.Dropout2d(inplace=True)),
    ("Embedding", lambda nn: nn.Embedding(5, 2, padding_idx=3, max_norm=2.0, scale_grad_by_freq=True)),
    ("Bilinear", lambda nn: nn.Bilinear(2, 3, 4, bias=False)), ("Flatten", lambda nn: nn.Flatten(0)),
    ("Unflatten", lambda nn: nn.Unflatten(-1, (2, 5))), ("Identity", lambda nn: nn.Identity()),
    ("CrossEntropyLoss", lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1)),
    ("KLDivLoss", lambda nn: nn.KLDivLoss(reduction="batchmean", log_target=True)),
    ("TripletMarginLoss", lambda nn: nn.TripletMarginLoss(swap=True)),
])
def test_repr_matches_torch(name: str, make: Callable) -> None:
    import torch

    assert repr(make(nn)) == repr(make(torch.nn))


@requires_torch
def test_linear_forward_float32_matches_torch() -> None:
    """The default dtype path: float32 in, float32 out, close to PyTorch's float32 result."""
    import torch

    theirs = torch.nn.Linear(30, 7)
    ours = nn.Linear(30, 7)
    ours.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((16, 30)).astype(np.float32)
    got = ours(dg.tensor(x))
    assert got.dtype is dg.float32
    np.testing.assert_allclose(got.numpy() if not got.requires_grad else got.detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


# --- random layers: PyTorch's semantics -------------------------------------------------------------
def test_dropout_scales_kept_values_and_masks_the_gradient() -> None:
    dg.manual_seed(0)
    x = dg.ones(200, 500, requires_grad=True)
    y = F.dropout(x, 0.3)
    v = y.detach().numpy()
    assert {round(float(a), 6) for a in np.unique(v)} == {0.0, round(1 / 0.7, 6)}
    assert (v == 0).mean() == pytest.approx(0.3, abs=0.01)
    assert v.mean() == pytest.approx(1.0, abs=0.02)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), v)  # d/dx of x * mask is the mask
    dg.manual_seed(0)
    np.testing.assert_array_equal(F.dropout(dg.ones(200, 500), 0.3).numpy(), v)  # global generator
    assert F.dropout(x, 0.3, training=False) is x
    assert not np.any(F.dropout(dg.ones(3, 3), 1.0).numpy())
    layer = nn.Dropout(0.5)
    z = dg.ones(4, 4)
    assert layer.eval()(z) is z
    assert np.any(layer.train()(z).numpy() == 0)


def test_dropout_inplace_and_float32() -> None:
    x = dg.ones(50, 50)
    y = nn.Dropout(0.5, inplace=True)(x)
    assert y is x and np.any(x.numpy() == 0) and x.dtype is dg.float32


def test_dropout2d_drops_whole_channels() -> None:
    dg.manual_seed(1)
    y = nn.Dropout2d(0.4)(dg.ones(16, 32, 3, 5)).numpy()
    per_channel = y.reshape(16, 32, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # each plane all-zero or all-kept
    assert {round(float(a), 6) for a in np.unique(per_channel[..., 0])} == {0.0, round(1 / 0.6, 6)}
    assert (per_channel[..., 0] == 0).mean() == pytest.approx(0.4, abs=0.06)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        y3 = F.dropout2d(dg.ones(4, 8, 6), 0.5).numpy()
    assert np.all(y3.min(-1) == y3.max(-1))
    y1 = F.dropout1d(dg.ones(4, 8, 6), 0.5).numpy()
    assert np.all(y1.min(-1) == y1.max(-1))


def test_embedding_padding_and_frequency_gradients_are_differentiable_again() -> None:
    idx = dg.tensor([[0, 2, 1], [2, 2, 4]])
    for kwargs in ({"padding_idx": 2}, {"scale_grad_by_freq": True},
                   {"padding_idx": 0, "scale_grad_by_freq": True}):
        w = dg.randn(5, 3, dtype=dg.float64, requires_grad=True)
        assert gradgradcheck(lambda w: F.embedding(idx, w, **kwargs), [w])
    w = dg.randn(5, 3, dtype=dg.float64, requires_grad=True)
    assert gradcheck(lambda w: F.embedding(idx, w), [w])
    F.embedding(idx, w, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [1, 1, 0, 0, 1])


def test_embedding_max_norm_renormalizes_rows_in_place() -> None:
    emb = nn.Embedding(4, 3, max_norm=1.0)
    with dg.no_grad():
        emb.weight.copy_(dg.tensor([[3.0, 4.0, 0.0], [0.1, 0.0, 0.0], [0.0, 2.0, 0.0], [5.0, 0.0, 0.0]]))
    out = emb(dg.tensor([0, 1]))
    norms = np.linalg.norm(emb.weight.detach().numpy(), axis=1)
    np.testing.assert_allclose(norms, [1.0, 0.1, 2.0, 5.0], rtol=1e-6)  # only looked-up rows
    np.testing.assert_allclose(np.linalg.norm(out.detach().numpy(), axis=1), [1.0, 0.1], rtol=1e-6)


def test_embedding_from_pretrained() -> None:
    table = dg.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(dg.tensor([1, 0])).numpy(), [[3.0, 4.0], [1.0, 2.0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad

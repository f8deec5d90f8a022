"""nn.init: each initializer's distribution against its formula (and PyTorch's bounds),
in-place semantics, the global generator, and the layers' default initialization."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import init
from helpers import requires_torch


def _values(t: dg.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def test_calculate_gain_table() -> None:
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@requires_torch
def test_calculate_gain_matches_torch() -> None:
    import torch

    for name, param in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                        ("leaky_relu", 0.3), ("selu", None), ("conv1d", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_uniform_and_normal_statistics() -> None:
    t = dg.empty(200, 500)
    assert init.uniform_(t, -0.5, 1.5) is t
    v = _values(t)
    assert v.min() >= -0.5 and v.max() < 1.5
    assert v.mean() == pytest.approx(0.5, abs=0.01) and v.std() == pytest.approx(2 / math.sqrt(12), rel=0.01)
    init.normal_(t, mean=2.0, std=0.3)
    v = _values(t)
    assert v.mean() == pytest.approx(2.0, abs=0.005) and v.std() == pytest.approx(0.3, rel=0.01)
    assert t.dtype is dg.float32


def _truncated_normal_moments(alpha: float, beta: float) -> tuple[float, float]:
    """Mean and std of N(0, 1) truncated to [alpha, beta]."""
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    mean = (pdf(alpha) - pdf(beta)) / z
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - mean * mean
    return mean, math.sqrt(var)


def test_trunc_normal_bounds_and_std() -> None:
    t = dg.empty(100_000, dtype=dg.float64)
    init.trunc_normal_(t, mean=1.0, std=2.0, a=0.0, b=3.0)
    v = _values(t)
    assert v.min() >= 0.0 and v.max() <= 3.0
    # the standard deviation of N(1, 4) truncated to [1 - 0.5 sd, 1 + 1 sd]
    mean, std = _truncated_normal_moments(-0.5, 1.0)
    assert v.mean() == pytest.approx(1.0 + 2.0 * mean, abs=0.01)
    assert v.std() == pytest.approx(2.0 * std, rel=0.01)
    narrow = init.trunc_normal_(dg.empty(10_000), mean=0.0, std=1.0, a=5.0, b=5.01)
    assert _values(narrow).min() >= 5.0 and _values(narrow).max() <= 5.01


def test_constant_zeros_ones_eye_dirac() -> None:
    t = dg.empty(3, 4)
    np.testing.assert_array_equal(_values(init.constant_(t, 0.25)), np.full((3, 4), 0.25))
    np.testing.assert_array_equal(_values(init.zeros_(t)), np.zeros((3, 4)))
    np.testing.assert_array_equal(_values(init.ones_(t)), np.ones((3, 4)))
    np.testing.assert_array_equal(_values(init.eye_(t)), np.eye(3, 4))
    with pytest.raises(ValueError, match="only tensors with 2 dimensions"):
        init.eye_(dg.empty(2, 2, 2))
    w = init.dirac_(dg.empty(4, 2, 3, 3))
    y = np.einsum("oikl,ikl->o", _values(w), np.ones((2, 3, 3)))
    np.testing.assert_array_equal(y, [1, 1, 0, 0])


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
def test_xavier_bounds_and_std(shape: tuple) -> None:
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    t = dg.empty(*shape)
    init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    v = _values(t)
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.99 * bound
    init.xavier_normal_(t)
    assert _values(t).std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.02)


def test_kaiming_modes_and_nonlinearities() -> None:
    t = dg.empty(400, 100)
    init.kaiming_uniform_(t)  # a=0, fan_in, leaky_relu: gain ~ sqrt(2)
    bound = math.sqrt(3) * init.calculate_gain("leaky_relu", 0) / math.sqrt(100)
    assert np.abs(_values(t)).max() == pytest.approx(bound, rel=0.01)
    assert np.abs(_values(t)).max() <= bound
    init.kaiming_uniform_(t, a=math.sqrt(5))  # PyTorch's Linear default: bound 1/sqrt(fan_in)
    assert np.abs(_values(t)).max() == pytest.approx(1 / math.sqrt(100), rel=0.01)
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert _values(t).std() == pytest.approx(math.sqrt(2) / math.sqrt(400), rel=0.02)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(t, mode="fan_avg")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(dg.empty(5))


@pytest.mark.parametrize("shape", [(5, 8), (8, 5), (4, 2, 3)])
def test_orthogonal(shape: tuple) -> None:
    t = init.orthogonal_(dg.empty(*shape, dtype=dg.float64), gain=1.5)
    m = _values(t).reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    np.testing.assert_allclose(gram, 2.25 * np.eye(small), atol=1e-10)


def test_init_is_in_place_outside_the_graph_and_seeded() -> None:
    p = nn.Parameter(dg.zeros(3, 4))
    init.normal_(p)  # no error for a leaf that requires grad, no graph recorded
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    dg.manual_seed(3)
    a = _values(init.kaiming_uniform_(dg.empty(3, 4)))
    dg.manual_seed(3)
    b = _values(init.kaiming_uniform_(dg.empty(3, 4)))
    np.testing.assert_array_equal(a, b)
    g1, g2 = dg.Generator(5), dg.Generator(5)
    np.testing.assert_array_equal(_values(init.uniform_(dg.empty(4), generator=g1)),
                                  _values(init.uniform_(dg.empty(4), generator=g2)))
    dg.manual_seed(0)
    first = _values(nn.Linear(3, 3).weight)
    dg.manual_seed(0)
    np.testing.assert_array_equal(first, _values(nn.Linear(3, 3).weight))


def test_layer_default_initialization() -> None:
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        v = _values(p)
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.95 * bound
        assert v.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    emb = nn.Embedding(1000, 64, padding_idx=3)
    v = _values(emb.weight)
    assert v[3].tolist() == [0.0] * 64
    assert v.std() == pytest.approx(1.0, rel=0.02)
    bil = nn.Bilinear(20, 30, 5)
    assert np.abs(_values(bil.weight)).max() <= 1 / math.sqrt(20)
    prelu = nn.PReLU(3)
    np.testing.assert_array_equal(_values(prelu.weight), [0.25] * 3)


@requires_torch
def test_default_initialization_bounds_match_torch() -> None:
    """PyTorch's values lie within our formula's bound, and ours fill the same interval."""
    import torch

    cases = [(lambda nn: nn.Linear(250, 40), 1 / math.sqrt(250)),
             (lambda nn: nn.Bilinear(30, 20, 40), 1 / math.sqrt(30))]
    for make, bound in cases:
        ours, theirs = make(nn), make(torch.nn)
        for name, p in theirs.named_parameters():
            t = p.detach().numpy().astype(np.float64)
            o = _values(dict(ours.named_parameters())[name])
            assert o.shape == t.shape
            for v in (o, t):
                assert np.abs(v).max() <= bound
                if v.size >= 1000:
                    assert np.abs(v).max() > 0.98 * bound
                    assert v.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)

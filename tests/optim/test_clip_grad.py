"""Gradient clipping and flattening parameters (deepgrad.nn.utils): PyTorch's numbers, by hand and against torch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.nn.utils import (
    clip_grad_norm, clip_grad_norm_, clip_grad_value_, get_total_norm, parameters_to_vector,
    vector_to_parameters,
)

from helpers import requires_torch


def _params(lib, grads, dtype=np.float64):
    ps = []
    for g in grads:
        p = lib.tensor(np.zeros_like(g, dtype=dtype), requires_grad=True)
        p.grad = lib.tensor(np.asarray(g, dtype=dtype))
        ps.append(p)
    return ps


def test_clip_grad_norm_by_hand():
    ps = _params(dg, [np.array([3.0, 0.0]), np.array([[0.0], [4.0]])])  # total 2-norm 5
    total = clip_grad_norm_(ps, max_norm=1.0)
    assert isinstance(total, dg.Tensor) and total.shape == () and float(total) == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.array, [3.0 * scale, 0.0], rtol=1e-15)
    np.testing.assert_allclose(ps[1].grad.array, [[0.0], [4.0 * scale]], rtol=1e-15)
    # below the limit: untouched
    before = ps[0].grad.array.copy()
    assert float(clip_grad_norm_(ps, max_norm=10.0)) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(ps[0].grad.array, before)


def test_other_norms_by_hand():
    grads = [np.array([3.0, -4.0]), np.array([1.0])]
    assert float(get_total_norm([dg.tensor(g) for g in grads], float("inf"))) == 4.0
    assert float(get_total_norm([dg.tensor(g) for g in grads], 1)) == 8.0
    assert float(get_total_norm([dg.tensor(g) for g in grads], 3)) == pytest.approx((27 + 64 + 1) ** (1 / 3))
    ps = _params(dg, grads)
    clip_grad_norm_(ps, max_norm=2.0, norm_type="inf")
    np.testing.assert_allclose(ps[0].grad.array, [1.5, -2.0], rtol=1e-6)


def test_clip_grad_value_and_single_tensor():
    p = _params(dg, [np.array([-3.0, 0.5, 2.0])])[0]
    version = p.grad._version[0]
    clip_grad_value_(p, 1.0)
    np.testing.assert_array_equal(p.grad.array, [-1.0, 0.5, 1.0])
    assert p.grad._version[0] == version + 1


def test_edge_cases():
    p = dg.tensor([1.0], requires_grad=True)  # no grad
    assert float(clip_grad_norm_([p], 1.0)) == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((q for q in []), 1.0)
    bad = _params(dg, [np.array([np.nan, 1.0])])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)
    total = clip_grad_norm_(bad, 1.0)
    assert math.isnan(float(total)) and np.isnan(bad[0].grad.array).all()
    with pytest.warns(FutureWarning):
        clip_grad_norm(_params(dg, [np.ones(2)]), 1.0)


def test_float32_stays_float32():
    ps = _params(dg, [np.full(4, 10.0)], dtype=np.float32)
    total = clip_grad_norm_(ps, 1.0)
    assert total.dtype == dg.float32 and ps[0].grad.array.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ps[0].grad.array), 1.0, rtol=1e-5)


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 0.5, 3.0])
def test_matches_torch(norm_type):
    import torch

    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 2, 2)]]
    ours, theirs = _params(dg, grads), _params(torch, grads)
    t_ours = clip_grad_norm_(ours, 0.7, norm_type=norm_type)
    t_theirs = torch.nn.utils.clip_grad_norm_(theirs, 0.7, norm_type=norm_type)
    np.testing.assert_allclose(float(t_ours), float(t_theirs), rtol=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-12)
    ours, theirs = _params(dg, grads), _params(torch, grads)
    clip_grad_value_(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.array, q.grad.numpy())


def test_parameters_to_vector_and_back():
    a = dg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = dg.tensor(np.array([10.0, 11.0]), requires_grad=True)
    vec = parameters_to_vector([a, b])
    np.testing.assert_array_equal(vec.array, [0, 1, 2, 3, 4, 5, 10, 11])
    assert vec.requires_grad  # differentiable, as in PyTorch
    (vec * dg.tensor(np.arange(8.0))).sum().backward()
    np.testing.assert_array_equal(a.grad.array, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(b.grad.array, [6, 7])

    new = dg.tensor(np.arange(8.0) * -1)
    vector_to_parameters(new, [a, b])
    np.testing.assert_array_equal(a.array, [[0, -1, -2], [-3, -4, -5]])
    np.testing.assert_array_equal(b.array, [-6, -7])
    new.array[0] = 42.0  # the parameters are views of the vector, as PyTorch's .data assignment
    assert a.array[0, 0] == 42.0
    with pytest.raises(ValueError, match="8 elements but the parameters have 9"):
        vector_to_parameters(new, [a, b, dg.tensor([1.0])])
    with pytest.raises(TypeError, match="deepgrad Tensor"):
        vector_to_parameters(np.zeros(8), [a, b])

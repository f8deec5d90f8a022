"""Behaviour of the elementwise, selection, comparison, softmax and sort ops that the
declared OpCases don't reach: in-place forms, dtypes, edge values and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg

from helpers import requires_torch


def t(data, **kwargs) -> dg.Tensor:
    return dg.tensor(data, **kwargs)


# --- unary --------------------------------------------------------------------------
def test_sigmoid_is_stable_in_both_tails() -> None:
    x = t(np.array([-800.0, -40.0, 0.0, 40.0, 800.0]))
    y = x.sigmoid().numpy()
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, [0.0, 4.248354255291589e-18, 0.5, 1.0, 1.0], rtol=1e-12)
    y32 = t([-80.0, -20.0, 20.0]).sigmoid()
    assert y32.dtype == dg.float32
    np.testing.assert_allclose(y32.numpy(), [1.8048513e-35, 2.0611537e-09, 1.0], rtol=1e-5)


def test_transcendental_ops_promote_integers_others_keep_them() -> None:
    i = t([1, 2, 3])
    for name in ("exp", "log", "sqrt", "rsqrt", "sin", "tanh", "sigmoid", "reciprocal", "erf"):
        assert getattr(i, name)().dtype == dg.float32, name
    for name in ("abs", "sign", "relu", "square"):
        assert getattr(i, name)().dtype == dg.int64, name
    assert t([True, False]).square().dtype == dg.int64


def test_sign_and_abs_match_pytorch_at_zero_and_nan() -> None:
    x = t([float("nan"), -0.0, 0.0, -2.0, 3.0], requires_grad=True)
    np.testing.assert_array_equal(x.sign().detach().numpy(), [0, 0, 0, -1, 1])
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, -1, 1])


def test_relu_gradient_at_zero_is_zero() -> None:
    x = t([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])


def test_inplace_unary_writes_into_storage_and_views() -> None:
    base = t([-1.0, 2.0, -3.0, 4.0])
    view = base.view(2, 2)
    out = view.relu_()
    assert out is view
    np.testing.assert_array_equal(base.numpy(), [0.0, 2.0, 0.0, 4.0])
    ints = t([-1, 5])
    ints.relu_()
    assert ints.dtype == dg.int64 and ints.tolist() == [0, 5]
    s = t([0.0])
    s.sigmoid_()
    assert s.item() == 0.5


def test_inplace_unary_in_graph_and_errors() -> None:
    x = t([0.5, -1.0], requires_grad=True)
    y = x * 2
    y.tanh_()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (1 - np.tanh([1.0, -2.0]) ** 2), rtol=1e-6)
    with pytest.raises(RuntimeError, match="leaf"):
        x.exp_()
    with pytest.raises(RuntimeError, match="exp_.*int64"):
        t([1, 2]).exp_()


def test_double_backward_through_sigmoid_and_tanh() -> None:
    x = t(np.array([0.3, -0.7]), requires_grad=True)  # float64 from NumPy
    (g,) = dg.autograd.grad(x.sigmoid().sum(), [x], create_graph=True)
    (h,) = dg.autograd.grad(g.sum(), [x])
    s = 1 / (1 + np.exp(-np.array([0.3, -0.7])))
    np.testing.assert_allclose(h.numpy(), s * (1 - s) * (1 - 2 * s), rtol=1e-10)


# --- select --------------------------------------------------------------------------
def test_where_promotes_scalars_and_checks_condition() -> None:
    c = t([True, False, True])
    assert dg.where(c, 1.0, 0).dtype == dg.float32
    assert dg.where(c, 1, 0).dtype == dg.int64
    assert dg.where(c, t([1, 2, 3]), 2.5).tolist() == [1.0, 2.5, 3.0]
    assert dg.where(c, t([1.0, 2.0, 3.0], dtype=dg.float64), 0).dtype == dg.float64
    with pytest.raises(TypeError, match="where: expected condition to be a bool tensor.*int64"):
        dg.where(t([1, 0, 1]), 1.0, 0.0)
    (idx,) = dg.where(c)
    assert idx.tolist() == [0, 2]


def test_pow_gradient_of_exponent_at_zero_base_uses_where() -> None:
    base = t(np.array([0.0, 2.0]))
    e = t(np.array([1.5, 1.5]), requires_grad=True)
    (base ** e).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), [0.0, 2.0 ** 1.5 * np.log(2.0)])


def test_maximum_ties_split_the_gradient() -> None:
    a = t([1.0, 2.0, 3.0], requires_grad=True)
    b = t([1.0, 5.0, 0.0], requires_grad=True)
    dg.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0, 1.0]
    assert b.grad.tolist() == [0.5, 1.0, 0.0]


def test_clamp_dtypes_and_errors() -> None:
    assert t([1, 2, 3]).clamp(min=1.5).tolist() == [1.5, 2.0, 3.0]
    assert t([1, 2, 3]).clamp(1, 2).dtype == dg.int64
    with pytest.raises(ValueError, match="clamp: at least one of 'min' or 'max'"):
        t([1.0]).clamp()
    with pytest.raises(RuntimeError, match="clamp_.*float32.*int64"):
        t([1, 2]).clamp_(min=0.5)


def test_clamp_gradient_is_one_at_the_bounds() -> None:
    x = t([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.clamp(-1.0, 1.0).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_clamp_inplace_without_and_with_graph() -> None:
    x = t([-2.0, 0.5, 3.0])
    storage = x.array
    version = x._version[0]
    assert x.clamp_(0.0, 1.0) is x
    assert x.array is storage and x._version[0] == version + 1
    assert x.tolist() == [0.0, 0.5, 1.0]
    leaf = t([-2.0, 0.5, 3.0], requires_grad=True)
    y = leaf * 1
    y.clamp_(min=0.0, max=1.0)
    y.sum().backward()
    assert leaf.grad.tolist() == [0.0, 1.0, 0.0]
    lo = t([0.0, 1.0, 0.0], requires_grad=True)
    z = t([-1.0, 0.5, 2.0])
    z.clamp_(min=lo)
    z.sum().backward()
    assert lo.grad.tolist() == [1.0, 1.0, 0.0]


# --- compare -------------------------------------------------------------------------
def test_comparisons_return_bool_and_follow_torch_promotion() -> None:
    x = t([1, 2, 3])
    r = x == 2.0
    assert r.dtype == dg.bool and r.tolist() == [False, True, False]
    assert (2 < x).tolist() == [False, False, True]  # reflected: x > 2
    # 16777217 is not a float32: PyTorch compares int64 vs a float scalar in float32
    big = t([16777217])
    assert (big == 16777216.0).tolist() == [True]
    assert (t([1.0]) == None) is False  # noqa: E711 - PyTorch's answer
    assert (t([1.0]) != None) is True  # noqa: E711


def test_tensors_stay_hashable_by_identity() -> None:
    a, b = t([1.0, 2.0]), t([1.0, 2.0])
    d = {a: 1, b: 2}
    assert d[a] == 1 and d[b] == 2 and len({a, a, b}) == 2


def test_bitwise_ops_reject_floats_with_a_hint() -> None:
    with pytest.raises(TypeError, match="bitwise_and.*float32.*logical_and"):
        t([1.0]) & t([1.0])
    with pytest.raises(TypeError, match="bitwise_not.*float32"):
        ~t([1.0])
    assert (t([True, False]) & 1).dtype == dg.int64
    assert (~t([True, False])).tolist() == [False, True]


def test_equal_allclose_isclose() -> None:
    a = t([1.0, 2.0])
    assert dg.equal(a, t([1.0, 2.0])) is True
    assert dg.equal(a, t([1.0, 2.0, 3.0])) is False
    assert a.allclose(t([1.0, 2.0 + 1e-7])) is True
    assert a.allclose(t([1.0, 2.1])) is False
    nan = t([float("nan")])
    assert nan.isclose(nan).tolist() == [False]
    assert nan.isclose(nan, equal_nan=True).tolist() == [True]
    with pytest.raises(RuntimeError, match="isclose.*float32.*int64"):
        a.isclose(t([1, 2]))


def test_classification() -> None:
    x = t([1.0, float("inf"), -float("inf"), float("nan")])
    assert x.isnan().tolist() == [False, False, False, True]
    assert x.isinf().tolist() == [False, True, True, False]
    assert x.isfinite().tolist() == [True, False, False, False]


# --- softmax -------------------------------------------------------------------------
def test_softmax_handles_huge_inputs_and_dtype_argument() -> None:
    x = t([[1000.0, 1000.0, -1000.0]])
    np.testing.assert_allclose(x.softmax(-1).numpy(), [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(x.log_softmax(1).numpy(), [[-np.log(2), -np.log(2), -2000 - np.log(2)]],
                               rtol=1e-6)
    assert t([1.0, 2.0]).softmax(0, dtype=dg.float64).dtype == dg.float64
    assert t([1, 2]).softmax(0, dtype=dg.float32).dtype == dg.float32


def test_softmax_errors() -> None:
    with pytest.raises(TypeError, match="softmax: expected a floating point tensor, got deepgrad.int64"):
        t([1, 2]).softmax(0)
    with pytest.raises(IndexError, match="log_softmax: dimension 2 is out of range"):
        t([[1.0]]).log_softmax(2)
    with pytest.raises(TypeError, match="softmax: pass the dimension"):
        dg.softmax(t([1.0]))


# --- sort ----------------------------------------------------------------------------
def test_sort_returns_named_tuple_and_handles_nan_and_ties() -> None:
    x = t([1.0, float("nan"), 0.0, 1.0])
    values, indices = x.sort(descending=True, stable=True)
    assert indices.dtype == dg.int64
    assert indices.tolist() == [1, 0, 3, 2]
    r = x.sort()
    assert r.indices.tolist() == [2, 0, 3, 1]
    assert np.isnan(r.values.numpy()[-1])
    top = x.topk(2)
    assert top.indices.tolist() == [1, 0]
    assert x.topk(2, largest=False).indices.tolist() == [2, 0]


def test_topk_errors_and_empty() -> None:
    with pytest.raises(IndexError, match="topk: k=3 is out of range for dimension -1 of size 2"):
        t([1.0, 2.0]).topk(3)
    v, i = t([1.0, 2.0]).topk(0)
    assert v.shape == (0,) and i.shape == (0,) and i.dtype == dg.int64


def test_topk_partition_path_gradient() -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 50))
    x = dg.tensor(data, requires_grad=True)
    v, i = x.topk(3, dim=1)
    np.testing.assert_array_equal(i.numpy(), np.argsort(-data, axis=1)[:, :3])
    v.sum().backward()
    want = np.zeros_like(data)
    np.put_along_axis(want, i.numpy(), 1.0, axis=1)
    np.testing.assert_array_equal(x.grad.numpy(), want)


@requires_torch
def test_sort_ties_match_torch_stable() -> None:
    import torch

    data = np.random.default_rng(3).integers(0, 3, (4, 9))
    for descending in (False, True):
        ours = dg.tensor(data).sort(dim=1, descending=descending, stable=True)
        theirs = torch.tensor(data).sort(dim=1, descending=descending, stable=True)
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())

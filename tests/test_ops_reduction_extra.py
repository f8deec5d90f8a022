"""Reductions, extrema and matmul beyond the declared cases: errors, dtypes, ties,
gradients at zeros, and property tests over random shapes and dims."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad.autograd import gradcheck, gradgradcheck

from helpers import requires_torch


def t(a, requires_grad=False, dtype=np.float64):
    return dg.Tensor(np.asarray(a, dtype=dtype), requires_grad=requires_grad)


# --- dtypes --------------------------------------------------------------------------
def test_float32_stays_float32():
    x = dg.randn(3, 4)
    for out in (x.var(), x.std(1), x.prod(0), x.logsumexp(1), x.norm(), x.norm(3, 0),
                x.cumsum(1), x.amax(0), x.max(1).values, x @ dg.randn(4, 2)):
        assert out.dtype is dg.float32


def test_integer_and_bool_results():
    ints = dg.tensor([[1, 2, 0], [3, 0, 0]], dtype=dg.int32)
    assert ints.prod(1).dtype is dg.int64 and ints.prod(1).tolist() == [0, 0]
    assert ints.cumsum(1).dtype is dg.int64 and ints.cumsum(1).tolist() == [[1, 3, 3], [3, 3, 3]]
    assert dg.tensor([True, True]).cumsum(0).tolist() == [1, 2]
    assert dg.tensor([True, True]).prod().dtype is dg.int64
    assert ints.max().dtype is dg.int32 and ints.max().item() == 3
    assert ints.argmax().dtype is dg.int64 and ints.argmax().item() == 3
    assert ints.count_nonzero().item() == 3 and ints.count_nonzero(1).tolist() == [2, 1]
    assert ints.all().dtype is dg.bool and ints.all().item() is False
    assert ints.any(1).tolist() == [True, True]
    assert ints.all(dim=(0, 1), keepdim=True).shape == (1, 1)
    assert ints.logsumexp(1).dtype is dg.float32
    assert dg.tensor([[1, 2], [3, 4]]).matmul(dg.tensor([1, 1])).tolist() == [3, 7]


def test_var_and_norm_refuse_integers():
    with pytest.raises(RuntimeError, match="var: .*floating point.*int64"):
        dg.tensor([1, 2]).var()
    with pytest.raises(RuntimeError, match="norm: expected a floating point tensor, "
                                           "got deepgrad.int64"):
        dg.tensor([1, 2]).norm()


# --- signatures ----------------------------------------------------------------------
def test_var_signatures():
    x = t(np.arange(12.0).reshape(3, 4) ** 1.5)
    a = x.array
    np.testing.assert_allclose(x.var(1, False, True).array, a.var(1, keepdims=True))
    np.testing.assert_allclose(x.var(False).array, a.var())
    np.testing.assert_allclose(dg.var(x, 0, correction=0).array, a.var(0))
    np.testing.assert_allclose(x.var(dim=(), correction=1).array, a.var(ddof=1))
    var, mean = dg.var_mean(x, 1)
    np.testing.assert_allclose(var.array, a.var(1, ddof=1))
    np.testing.assert_allclose(mean.array, a.mean(1))
    with pytest.raises(TypeError, match="either unbiased= or correction="):
        x.var(0, unbiased=True, correction=1)


def test_var_with_no_degrees_of_freedom_warns_and_gives_nan():
    with pytest.warns(UserWarning, match="degrees of freedom"):
        out = t([2.0]).var()
    assert math.isnan(out.item())


def test_max_forms():
    x = t([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    assert x.max().item() == 7.0
    result = x.max(1)
    assert type(result).__name__ == "max" and result._fields == ("values", "indices")
    values, indices = result
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]  # first of the ties
    assert indices.dtype is dg.int64
    assert values.grad_fn is None
    assert repr(x.requires_grad_().max(1).values.grad_fn) == "<MaxBackward>"
    assert dg.min(x, dim=0, keepdim=True).indices.shape == (1, 3)
    assert dg.max(x, t([3.0, 3.0, 3.0])).tolist() == [[3.0, 5.0, 3.0], [7.0, 3.0, 7.0]]
    assert x.min(other=t(1.5)).tolist() == [[1.0, 1.5, 1.5], [1.5, 0.0, 1.5]]
    assert x.argmax().item() == 3 and x.argmin(1).tolist() == [0, 1]
    assert x.argmax(keepdim=True).shape == (1, 1)
    assert x.amax(dim=()).item() == 7.0 and x.amin(None).item() == 0.0


def test_extrema_errors():
    x = dg.zeros(0, 3)
    with pytest.raises(IndexError, match=r"max: can't reduce shape \(0, 3\): the tensor is empty"):
        x.max()
    with pytest.raises(IndexError, match="amax: .*dimension 0 has size 0"):
        x.amax(0)
    assert x.amax(1).shape == (0,)
    with pytest.raises(TypeError, match="max: dim must be an int.*use amax"):
        dg.ones(2, 3).max((0, 1))
    with pytest.raises(IndexError, match=r"argmax: dimension 2 is out of range"):
        dg.ones(2, 3).argmax(2)


# --- gradients with ties, zeros and nans ------------------------------------------------
def test_amax_and_max_split_ties_max_dim_picks_the_first():
    x = t([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.array, [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    x.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad.array, [[0, 0.5, 0.5], [0.5, 0.5, 0]])
    x.grad = None
    x.max(1).values.sum().backward()
    np.testing.assert_allclose(x.grad.array, [[0, 1, 0], [1, 0, 0]])
    x.grad = None
    x.norm(math.inf).backward()
    np.testing.assert_allclose(x.grad.array, [[0, 0.5, 0.5], [0, 0, 0]])


def test_nan_propagates_through_amax_and_its_gradient_goes_to_the_nan():
    x = t([1.0, float("nan"), 3.0], requires_grad=True)
    out = x.amax()
    assert math.isnan(out.item())
    out.backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    assert x.detach().argmax().item() == 1


def test_prod_gradient_with_zeros():
    x = t([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]], requires_grad=True)
    x.prod(1).sum().backward()
    np.testing.assert_allclose(x.grad.array, [[0, 6, 0], [0, 0, 0], [8, 4, 2]])
    assert gradcheck(lambda a: a.prod(1), [x])
    assert gradgradcheck(lambda a: a.prod(1), [x])
    assert gradgradcheck(lambda a: a.prod(), [t([0.0, 2.0, 0.0, 3.0], requires_grad=True)])


def test_norm_gradient_at_zero_is_zero():
    x = t([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    for p in (2, 1, 3, 0.5, math.inf):
        x.grad = None
        x.norm(p, dim=1).sum().backward()
        assert np.all(np.isfinite(x.grad.array)), p
        assert x.grad.array[0].tolist() == [0.0, 0.0], p
    x.grad = None
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.array[1], [0.6, 0.8])


def test_logsumexp_is_stable():
    x = t([1000.0, 1000.0, -math.inf])
    assert x.logsumexp(0).item() == pytest.approx(1000 + math.log(2))
    assert t([-math.inf, -math.inf]).logsumexp(0).item() == -math.inf
    assert t([math.inf, 1.0]).logsumexp(0).item() == math.inf


def test_cumsum_backward_is_a_reversed_cumsum():
    x = t([1.0, 2.0, 3.0], requires_grad=True)
    x.cumsum(0).backward(t([1.0, 10.0, 100.0]))
    assert x.grad.tolist() == [111.0, 110.0, 100.0]


# --- matmul ------------------------------------------------------------------------------
def test_matmul_error_messages():
    with pytest.raises(RuntimeError) as info:
        dg.zeros(128, 784) @ dg.zeros(512, 10)
    assert str(info.value) == (
        "matmul: shapes (128, 784) and (512, 10) cannot be multiplied: inner dimensions 784 "
        "and 512 differ"
    )
    with pytest.raises(RuntimeError, match=r"matmul: batch dimensions \(2,\) and \(3,\)"):
        dg.zeros(2, 3, 4) @ dg.zeros(3, 4, 5)
    with pytest.raises(RuntimeError, match="matmul: both arguments need at least 1 dimension"):
        dg.tensor(2.0) @ dg.zeros(3)
    with pytest.raises(RuntimeError, match="matmul: both operands must have the same dtype, "
                                           "got deepgrad.float32 and deepgrad.float64"):
        dg.zeros(2, 3) @ dg.zeros(3, 2, dtype=dg.float64)
    with pytest.raises(RuntimeError, match=r"mm: expected two 2-D tensors, got shapes \(3,\)"):
        dg.mm(dg.zeros(3), dg.zeros(3, 2))
    with pytest.raises(RuntimeError, match="bmm: batch sizes 2 and 3"):
        dg.bmm(dg.zeros(2, 3, 4), dg.zeros(3, 4, 5))
    with pytest.raises(RuntimeError, match="dot: the tensors have 3 and 4 elements"):
        dg.dot(dg.zeros(3), dg.zeros(4))
    with pytest.raises(RuntimeError, match=r"mv: shapes \(2, 3\) and \(4,\) cannot be multiplied"):
        dg.mv(dg.zeros(2, 3), dg.zeros(4))
    with pytest.raises(TypeError, match="matmul: expected two tensors"):
        dg.matmul(dg.zeros(2, 2), [[1.0, 0.0], [0.0, 1.0]])


def test_matmul_shapes_follow_pytorch():
    for a, b, out in [((4,), (4,), ()), ((4,), (4, 3), (3,)), ((3, 4), (4,), (3,)),
                      ((5, 1, 3, 4), (2, 4, 6), (5, 2, 3, 6)), ((4,), (2, 4, 3), (2, 3)),
                      ((2, 3, 4), (4,), (2, 3))]:
        assert (dg.ones(*a) @ dg.ones(*b)).shape == out
    out = [[1.0, 2.0, 3.0]] @ dg.ones(3, 2)  # __rmatmul__ from a list
    assert isinstance(out, dg.Tensor) and out.tolist() == [[6.0, 6.0]]


def test_matmul_second_order_gradient_through_broadcast_batches():
    rng = np.random.default_rng(0)
    a = t(rng.standard_normal((2, 1, 2, 3)), requires_grad=True)
    b = t(rng.standard_normal((3, 3, 2)), requires_grad=True)
    assert gradgradcheck(lambda x, y: x @ y, [a, b])
    v = t(rng.standard_normal(3), requires_grad=True)
    assert gradgradcheck(lambda x, y: x @ y, [a, v])


def test_einsum_forms_and_errors():
    a, b = dg.randn(2, 3), dg.randn(3, 4)
    np.testing.assert_allclose(dg.einsum("ij,jk", [a, b]).array, (a @ b).array, rtol=1e-6)
    assert dg.einsum("...j,j->...", dg.ones(2, 5, 3), dg.ones(3)).shape == (2, 5)
    assert dg.einsum("ba", dg.ones(2, 3)).shape == (3, 2)  # implicit output is alphabetical
    with pytest.raises(ValueError, match="einsum: the equation 'ij,jk->ik' has subscripts for 2"):
        dg.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match=r"einsum: subscript 'j' has size 3 in one operand and 4"):
        dg.einsum("ij,jk->ik", a, dg.ones(4, 4))
    with pytest.raises(ValueError, match=r"operand 0 has shape \(2, 3\), which doesn't fit"):
        dg.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="output subscript 'z'"):
        dg.einsum("ij->z", a)
    with pytest.raises(RuntimeError, match="einsum: all operands must have the same dtype"):
        dg.einsum("ij,jk", a, b.double())


@requires_torch
def test_ties_and_zeros_match_torch():
    import torch

    data = np.array([[1.0, 3.0, 3.0, 0.0], [0.0, 0.0, 2.0, 2.0], [-3.0, 3.0, 1.0, 0.0]])
    ops = [
        lambda x: x.max(), lambda x: x.amax(1), lambda x: x.amin(0), lambda x: x.max(1).values,
        lambda x: x.min(0).values, lambda x: x.prod(1), lambda x: x.prod(),
        lambda x: x.norm(dim=0), lambda x: x.norm(math.inf, 1), lambda x: x.norm(1, 1),
        lambda x: x.norm(0.5, 0), lambda x: x.norm(3, 0), lambda x: x.std(1),
    ]
    for i, op in enumerate(ops):
        ours, theirs = t(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        o, th = op(ours), op(theirs)
        np.testing.assert_allclose(o.detach().array, th.detach().numpy(), err_msg=str(i))
        o.sum().backward()
        th.sum().backward()
        np.testing.assert_allclose(ours.grad.array, theirs.grad.numpy(), err_msg=str(i))


# --- property tests ----------------------------------------------------------------------
shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


@st.composite
def shape_and_dims(draw):
    shape = draw(shapes)
    ndim = len(shape)
    if ndim == 0:
        return shape, draw(st.sampled_from([None, 0, -1]))
    picked = draw(st.lists(st.integers(-ndim, ndim - 1), max_size=ndim,
                           unique_by=lambda d: d % ndim))
    dim = draw(st.sampled_from([None, tuple(picked)] + ([picked[0]] if picked else [])))
    return shape, dim


@settings(max_examples=60, deadline=None)
@given(shape_and_dims(), st.booleans(), st.integers(0, 2**31 - 1))
def test_reductions_match_numpy(shape_dim, keepdim, seed):
    shape, dim = shape_dim
    a = np.random.default_rng(seed).uniform(-2, 2, shape)
    x = t(a)
    axis = dim if dim != () else None
    if len(shape) == 0:
        axis = None
    expect = {
        "sum": a.sum(axis=axis, keepdims=keepdim),
        "amax": a.max(axis=axis, keepdims=keepdim),
        "amin": a.min(axis=axis, keepdims=keepdim),
        "var": a.var(axis=axis, keepdims=keepdim),
        "logsumexp": np.log(np.exp(a).sum(axis=axis, keepdims=keepdim)),
        "norm": np.sqrt((a * a).sum(axis=axis, keepdims=keepdim)),
        # all/any read dim=() as "no dimension", as PyTorch does
        "all": (a > -1).all(axis=dim if len(shape) else None, keepdims=keepdim),
    }
    got = {
        "sum": x.sum(dim, keepdim),
        "amax": x.amax(dim if dim is not None else (), keepdim),
        "amin": x.amin(dim, keepdim),
        "var": x.var(dim, keepdim=keepdim, correction=0),
        "logsumexp": x.logsumexp(dim, keepdim),
        "norm": x.norm(dim=dim, keepdim=keepdim),
        "all": (x > -1).all(dim, keepdim),
    }
    for name, want in expect.items():
        out = got[name].array
        assert out.shape == np.shape(want), name
        np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12, err_msg=name)


@settings(max_examples=25, deadline=None)
@given(shape_and_dims(), st.booleans(), st.integers(0, 2**31 - 1))
def test_reduction_gradients_have_the_input_shape_and_pass_gradcheck(shape_dim, keepdim, seed):
    shape, dim = shape_dim
    a = np.random.default_rng(seed).uniform(0.5, 2, shape)
    for fn in (lambda x: x.var(dim, keepdim=keepdim, correction=0),
               lambda x: x.logsumexp(dim, keepdim), lambda x: x.norm(dim=dim, keepdim=keepdim),
               lambda x: x.amax(dim if dim is not None else (), keepdim)):
        x = t(a, requires_grad=True)
        fn(x).sum().backward()
        assert x.grad.shape == x.shape
        assert gradcheck(fn, [t(a, requires_grad=True)])


@st.composite
def matmul_shapes(draw):
    """Two operand shapes whose batch dimensions broadcast (suffixes of one batch shape,
    some entries 1), each side possibly 1-d."""
    batch = draw(st.lists(st.integers(2, 3), max_size=3))

    def batch_variant():
        suffix = batch[draw(st.integers(0, len(batch))):]
        return tuple(1 if draw(st.booleans()) else s for s in suffix)

    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    a_shape = (k,) if draw(st.booleans()) else batch_variant() + (n, k)
    b_shape = (k,) if draw(st.booleans()) else batch_variant() + (k, m)
    return a_shape, b_shape


@settings(max_examples=40, deadline=None)
@given(matmul_shapes(), st.integers(0, 2**31 - 1))
def test_matmul_matches_numpy_and_gradcheck(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    x, y = t(a, requires_grad=True), t(b, requires_grad=True)
    out = x @ y
    assert out.shape == np.shape(a @ b)
    np.testing.assert_allclose(out.array, a @ b, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    assert x.grad.shape == a.shape and y.grad.shape == b.shape
    assert gradcheck(lambda p, q: p @ q, [t(a, requires_grad=True), t(b, requires_grad=True)])


def test_no_warnings_in_plain_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = dg.randn(4, 5, requires_grad=True)
        (x.var(1).sum() + x.std() + x.norm() + x.logsumexp(1).sum() + x.amax()).backward()

"""Creation functions: shapes, dtypes, values, and seeded random draws."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg

from helpers import requires_torch, to_numpy


# --- from data ------------------------------------------------------------------------------
def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = dg.tensor(a)
    a[0] = 100
    assert to_numpy(t).tolist() == [1.0, 2.0]


def test_tensor_from_nested_lists_and_tensors():
    t = dg.tensor([[1, 2], [3, 4]])
    assert t.shape == (2, 2) and t.dtype is dg.int64
    u = dg.tensor([dg.tensor(1.0), dg.tensor(2.0)])
    assert u.shape == (2,) and to_numpy(u).tolist() == [1.0, 2.0]
    v = dg.tensor([1.0, 2.0], dtype=dg.float64, requires_grad=True)
    assert v.dtype is dg.float64 and v.requires_grad and v.is_leaf


def test_tensor_rejects_strings_clearly():
    with pytest.raises(TypeError, match="tensor"):
        dg.tensor(["a", "b"])


def test_as_tensor_and_from_numpy_share_memory():
    a = np.zeros(3, dtype=np.float32)
    t = dg.as_tensor(a)
    f = dg.from_numpy(a)
    a[1] = 7
    assert to_numpy(t)[1] == 7 and to_numpy(f)[1] == 7
    assert f.dtype is dg.float32
    assert dg.from_numpy(np.zeros(2)).dtype is dg.float64  # keeps NumPy's dtype
    existing = dg.ones(2)
    assert dg.as_tensor(existing) is existing
    with pytest.raises(TypeError, match="numpy.ndarray"):
        dg.from_numpy([1, 2])


# --- constants and ranges ---------------------------------------------------------------------
@pytest.mark.parametrize("fn", [dg.zeros, dg.ones, dg.empty])
def test_filled_shapes_and_dtypes(fn):
    assert fn(2, 3).shape == (2, 3)
    assert fn((2, 3)).shape == (2, 3)
    assert fn([4]).shape == (4,)
    assert fn().shape == ()
    assert fn(2, 3).dtype is dg.float32
    assert fn(2, dtype=dg.int64).dtype is dg.int64
    t = fn(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_zeros_ones_values():
    assert to_numpy(dg.zeros(2, 2)).tolist() == [[0, 0], [0, 0]]
    assert to_numpy(dg.ones(3)).tolist() == [1, 1, 1]


def test_negative_size_is_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        dg.zeros(2, -1)


def test_full_infers_dtype_from_the_fill_value():
    assert dg.full((2,), 1.5).dtype is dg.float32
    assert dg.full((2,), 7).dtype is dg.int64
    assert dg.full((2,), True).dtype is dg.bool
    assert to_numpy(dg.full((2, 2), 3.0)).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert dg.full((2,), 7, dtype=dg.float64).dtype is dg.float64


def test_like_functions_follow_the_input():
    x = dg.ones(2, 3, dtype=dg.float64)
    for fn in (dg.zeros_like, dg.ones_like, dg.empty_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype is dg.float64
    assert to_numpy(dg.full_like(x, 4.0)).tolist() == [[4.0] * 3] * 2
    assert dg.zeros_like(x, dtype=dg.int32).dtype is dg.int32
    i = dg.tensor([1, 2])
    assert dg.ones_like(i).dtype is dg.int64


def test_arange():
    assert to_numpy(dg.arange(5)).tolist() == [0, 1, 2, 3, 4]
    assert dg.arange(5).dtype is dg.int64
    assert to_numpy(dg.arange(1, 7, 2)).tolist() == [1, 3, 5]
    f = dg.arange(0, 1, 0.25)
    assert f.dtype is dg.float32
    np.testing.assert_allclose(to_numpy(f), [0, 0.25, 0.5, 0.75])
    assert dg.arange(0, 3, dtype=dg.float64).dtype is dg.float64
    assert dg.arange(5, 0, -2).tolist() == [5, 3, 1]
    with pytest.raises(ValueError, match="step"):
        dg.arange(0, 3, 0)


def test_linspace_and_eye():
    t = dg.linspace(0, 1, 5)
    assert t.dtype is dg.float32
    np.testing.assert_allclose(to_numpy(t), [0, 0.25, 0.5, 0.75, 1.0])
    assert dg.linspace(0, 1, 1).tolist() == [0.0]
    assert to_numpy(dg.eye(3)).tolist() == np.eye(3).tolist()
    assert dg.eye(2, 3).shape == (2, 3)
    assert dg.eye(2, dtype=dg.float64).dtype is dg.float64


@requires_torch
def test_creation_matches_torch():
    import torch

    pairs = [
        (dg.arange(0, 1, 0.1), torch.arange(0, 1, 0.1)),
        (dg.arange(-3, 10, 3), torch.arange(-3, 10, 3)),
        (dg.arange(2.5), torch.arange(2.5)),
        (dg.linspace(-1, 2, 7), torch.linspace(-1, 2, 7)),
        (dg.eye(3, 4), torch.eye(3, 4)),
        (dg.full((2, 2), 2), torch.full((2, 2), 2)),
        (dg.full((2,), 0.5), torch.full((2,), 0.5)),
        (dg.zeros(2, 3), torch.zeros(2, 3)),
        (dg.tensor([[1, 2]]), torch.tensor([[1, 2]])),
        (dg.tensor(3.5), torch.tensor(3.5)),
    ]
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape)
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_allclose(to_numpy(ours), theirs.numpy(), rtol=1e-6)


# --- random -----------------------------------------------------------------------------------
def test_manual_seed_reproduces_draws():
    dg.manual_seed(123)
    a, b = dg.randn(3, 4), dg.rand(5)
    dg.manual_seed(123)
    c, d = dg.randn(3, 4), dg.rand(5)
    assert np.array_equal(to_numpy(a), to_numpy(c)) and np.array_equal(to_numpy(b), to_numpy(d))
    dg.manual_seed(124)
    assert not np.array_equal(to_numpy(dg.randn(3, 4)), to_numpy(a))
    assert dg.initial_seed() == 124


def test_manual_seed_returns_the_global_generator():
    g = dg.manual_seed(5)
    assert isinstance(g, dg.Generator) and g.initial_seed() == 5


def test_generator_streams_are_independent():
    g1, g2 = dg.Generator(7), dg.Generator(7)
    first = dg.randn(4, generator=g1)
    dg.randn(100, generator=g2)  # draws from g2 and from the global stream ...
    dg.randn(100)
    g3 = dg.Generator(7)
    dg.randn(4, generator=g3)
    second_g1 = dg.randn(4, generator=g1)
    second_g3 = dg.randn(4, generator=g3)
    assert np.array_equal(to_numpy(second_g1), to_numpy(second_g3))  # ... do not disturb g1
    assert not np.array_equal(to_numpy(first), to_numpy(second_g1))
    assert np.array_equal(to_numpy(first), to_numpy(dg.randn(4, generator=dg.Generator(7))))


def test_global_draws_do_not_depend_on_generator_draws():
    dg.manual_seed(9)
    a = dg.rand(3)
    dg.manual_seed(9)
    dg.rand(10, generator=dg.Generator(1))
    b = dg.rand(3)
    assert np.array_equal(to_numpy(a), to_numpy(b))


def test_rng_state_round_trip():
    dg.manual_seed(3)
    state = dg.get_rng_state()
    a = dg.randn(5)
    dg.set_rng_state(state)
    assert np.array_equal(to_numpy(a), to_numpy(dg.randn(5)))
    g = dg.Generator(11)
    s = g.get_state()
    x = dg.rand(3, generator=g)
    g.set_state(s)
    assert np.array_equal(to_numpy(x), to_numpy(dg.rand(3, generator=g)))


def test_random_shapes_dtypes_and_ranges():
    g = dg.Generator(0)
    r = dg.rand(1000, generator=g)
    assert r.dtype is dg.float32 and r.shape == (1000,)
    assert 0 <= to_numpy(r).min() and to_numpy(r).max() < 1
    n = dg.randn(2, 3, dtype=dg.float64, generator=g)
    assert n.dtype is dg.float64 and n.shape == (2, 3)
    big = to_numpy(dg.randn(20000, generator=g))
    assert abs(big.mean()) < 0.05 and abs(big.std() - 1) < 0.05
    i = dg.randint(3, 7, (50,), generator=g)
    assert i.dtype is dg.int64 and i.shape == (50,)
    assert set(to_numpy(i).tolist()) <= {3, 4, 5, 6}
    assert dg.randint(5, (2, 2), generator=g).shape == (2, 2)
    p = dg.randperm(10, generator=g)
    assert p.dtype is dg.int64 and sorted(to_numpy(p).tolist()) == list(range(10))
    assert dg.rand(2, requires_grad=True).requires_grad
    assert dg.randn_like(n).dtype is dg.float64 and dg.rand_like(n).shape == (2, 3)


def test_randint_rejects_an_empty_range():
    with pytest.raises(ValueError, match="high"):
        dg.randint(5, 5, (2,))


def test_normal_and_bernoulli():
    g = dg.Generator(1)
    m = dg.full((20000,), 3.0)
    x = to_numpy(dg.normal(m, 2.0, generator=g))
    assert x.shape == (20000,) and abs(x.mean() - 3) < 0.1 and abs(x.std() - 2) < 0.1
    y = dg.normal(0.0, 1.0, (3, 2), generator=g)
    assert y.shape == (3, 2) and y.dtype is dg.float32
    with pytest.raises(ValueError, match="std"):
        dg.normal(0.0, -1.0, (2,))
    probs = dg.full((20000,), 0.3)
    b = dg.bernoulli(probs, generator=g)
    vals = to_numpy(b)
    assert b.dtype is dg.float32 and set(np.unique(vals).tolist()) <= {0.0, 1.0}
    assert abs(vals.mean() - 0.3) < 0.02
    assert to_numpy(dg.bernoulli(dg.zeros(5), generator=g)).sum() == 0
    assert to_numpy(dg.bernoulli(dg.ones(5), generator=g)).sum() == 5


@pytest.mark.parametrize("make, error, words", [
    (lambda: dg.zeros(-1), ValueError, "zeros: the size must be non-negative integers, got (-1,)"),
    (lambda: dg.ones(2, -3), ValueError, "ones: the size"),
    (lambda: dg.randn(2, -3), ValueError, "randn: the size"),
    (lambda: dg.rand(1.5), ValueError, "rand: the size"),
    (lambda: dg.empty((2, -1)), ValueError, "empty: the size"),
    (lambda: dg.eye(-1), ValueError, "eye: the size"),
    (lambda: dg.randperm(-1), ValueError, "randperm: the size"),
    (lambda: dg.tensor([[1, 2], [3]]), ValueError, "Nested lists must be rectangular"),
    (lambda: dg.full((2,), "a"), TypeError, "full: fill_value must be a number or a boolean, got str 'a'"),
    (lambda: dg.bernoulli(dg.tensor([0.5, 1.5])), ValueError, "bernoulli: the probabilities must be in [0, 1]"),
    (lambda: dg.bernoulli(dg.tensor([float("nan")])), ValueError, "bernoulli: the probabilities"),
])
def test_bad_creation_arguments_name_the_op(make, error, words):
    with pytest.raises(error) as raised:
        make()
    assert words in str(raised.value)

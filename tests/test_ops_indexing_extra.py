"""Shape, joining and indexing ops: what declared OpCases can't express.

Views that share memory and the version counter, ``__setitem__`` semantics and
gradients, the in-place variants (scatter_, index_add_, masked_fill_ ...),
multi-output ops (split, unbind) when only some outputs are used, error
messages, the bincount fast path of ``add_at`` against ``numpy.add.at``, and
hypothesis property tests over random (broadcast) shapes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad.ops.indexing import ARRAY, add_at, prepare_key

from helpers import requires_torch, to_numpy

SETTINGS = settings(max_examples=40, deadline=None)


def leaf(shape, seed=0, dtype=np.float64):
    return dg.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype),
                     requires_grad=True)


def shares(a: dg.Tensor, b: dg.Tensor) -> bool:
    return np.shares_memory(a.array, b.array)


# --- views: shared memory and version counter -------------------------------------------
VIEWS = {
    "slice": lambda x: x[1:, ::2],
    "int": lambda x: x[0],
    "0d": lambda x: x[0, 1, 2],
    "none-ellipsis": lambda x: x[None, ..., 1],
    "transpose": lambda x: x.transpose(0, 2),
    "permute": lambda x: x.permute(1, 2, 0),
    "T": lambda x: x.T,
    "mT": lambda x: x.mT,
    "movedim": lambda x: x.movedim(0, -1),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "squeeze": lambda x: x[:, :1].squeeze(1),
    "narrow": lambda x: x.narrow(1, 1, 2),
    "flatten": lambda x: x.flatten(),
    "unflatten": lambda x: x.unflatten(2, (2, 2)),
    "split": lambda x: x.split(1)[1],
    "chunk": lambda x: x.chunk(2, dim=2)[1],
    "unbind": lambda x: x.unbind(1)[2],
}
COPIES = {
    "flip": lambda x: x.flip(0),
    "roll": lambda x: x.roll(1, 0),
    "repeat": lambda x: x.repeat(1, 1, 1),
    "tile": lambda x: x.tile((2,)),
    "cat": lambda x: dg.cat([x, x]),
    "stack": lambda x: dg.stack([x]),
    "index-array": lambda x: x[[0, 1]],
    "mask": lambda x: x[x > 0],
    "contiguous-of-transpose": lambda x: x.transpose(0, 1).contiguous(),
}


@pytest.mark.parametrize("name", VIEWS)
def test_view_shares_memory_and_version(name):
    x = dg.tensor(np.arange(24.0).reshape(2, 3, 4))
    v = VIEWS[name](x)
    assert shares(v, x), name
    before = x._version[0]
    v.add_(100.0)  # writes through to x and bumps the shared counter
    assert x._version[0] == before + 1
    assert x.array.sum() == np.arange(24.0).sum() + 100.0 * v.numel()


@pytest.mark.parametrize("name", COPIES)
def test_copy_does_not_share_memory(name):
    x = dg.tensor(np.arange(24.0).reshape(2, 3, 4))
    c = COPIES[name](x)
    assert not shares(c, x), name
    c.add_(1.0)
    np.testing.assert_array_equal(x.numpy(), np.arange(24.0).reshape(2, 3, 4))


def test_contiguous_is_identity_when_contiguous_and_passes_gradient():
    x = leaf((3, 4))
    assert x.contiguous() is x
    t = x.transpose(0, 1)
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.array.flags.c_contiguous
    (c * dg.tensor(np.arange(12.0).reshape(4, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(12.0).reshape(4, 3).T)


def test_saved_tensor_changed_through_view_is_detected():
    x = leaf((3, 4))
    y = x * 1.0
    z = y * y            # saves its inputs
    row = y[0]           # a view of y shares its version counter
    row[1] = 5.0         # in-place change of what backward needs
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()
    e = (x * 1.0).exp()  # saves its output
    e[0, 0] = 5.0
    with pytest.raises(RuntimeError, match="ExpBackward.*modified by an in-place operation"):
        e.sum().backward()


def test_zero_d_int_tensor_index_is_a_view_like_an_int():
    x = dg.tensor(np.arange(5.0))
    v = x[dg.tensor(1)]
    assert v.shape == () and shares(v, x)


# --- __setitem__ ------------------------------------------------------------------------
def test_setitem_values_broadcast_and_casting():
    x = dg.zeros(3, 4)
    x[1] = 2.0
    x[:, 0] = dg.tensor([1.0, 2.0, 3.0])
    x[x > 2.5] = -1.0
    x[[0, 2], 3] = dg.tensor([7.0, 8.0])
    expect = np.zeros((3, 4))
    expect[1] = 2.0
    expect[:, 0] = [1, 2, 3]
    expect[expect > 2.5] = -1
    expect[[0, 2], 3] = [7, 8]
    np.testing.assert_array_equal(x.numpy(), expect)
    n = dg.zeros(3, dtype=dg.int64)
    n[0] = 1.7
    n[1:] = dg.tensor([2.5, 3.9])
    assert n.dtype == dg.int64 and n.tolist() == [1, 2, 3]  # truncated, as in PyTorch


def test_setitem_gradients_reach_value_and_the_rest_of_the_tensor():
    a = leaf((3, 4))
    v = leaf((2,), seed=1)
    x = a * 1.0
    version = x._version[0]
    x[1:3, 2] = v
    assert x._version[0] == version + 1 and x.grad_fn is not None
    w = np.arange(12.0).reshape(3, 4)
    (x * dg.tensor(w)).sum().backward()
    expect = w.copy()
    expect[1:3, 2] = 0
    np.testing.assert_array_equal(a.grad.numpy(), expect)
    np.testing.assert_array_equal(v.grad.numpy(), w[1:3, 2])


def test_setitem_scalar_value_blocks_gradient_at_written_positions():
    a = leaf((4,))
    x = a * 2.0
    x[[0, 3]] = 0.0
    x.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 2.0, 2.0, 0.0])


def test_setitem_into_a_constant_tensor_makes_it_part_of_the_graph():
    v = leaf((), seed=3)
    x = dg.zeros(3)
    x[1] = v
    assert x.requires_grad and not x.is_leaf
    (x * dg.tensor([1.0, 5.0, 7.0])).sum().backward()
    assert v.grad.item() == 5.0


def test_augmented_assignment_on_a_slice_gradients():
    a = leaf((2, 3))
    x = a * 1.0
    x[:, 1] += x[:, 0] + x[:, 2]  # getitem view, add_ through it, then setitem
    x.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[2.0, 1.0, 2.0], [2.0, 1.0, 2.0]])


def test_setitem_on_leaf_that_requires_grad_is_refused_but_allowed_under_no_grad():
    a = leaf((3,))
    with pytest.raises(RuntimeError, match="__setitem__.*leaf"):
        a[0] = 1.0
    with dg.no_grad():
        a[0] = 1.0
    assert a.array[0] == 1.0


def test_setitem_writes_through_views():
    x = dg.zeros(2, 3)
    row = x[1]
    x[1, 2] = 4.0
    assert row.tolist() == [0.0, 0.0, 4.0]
    row[0] = 9.0
    assert x[1, 0].item() == 9.0


@requires_torch
def test_setitem_gradients_match_torch_with_mixed_index():
    import torch

    base = np.random.default_rng(0).standard_normal((4, 5, 3))
    val = np.random.default_rng(1).standard_normal((2, 3))
    idx = [3, 0]
    ours_a, ours_v = dg.tensor(base, requires_grad=True), dg.tensor(val, requires_grad=True)
    their_a, their_v = torch.tensor(base, requires_grad=True), torch.tensor(val, requires_grad=True)
    for a, v, lib in ((ours_a, ours_v, dg), (their_a, their_v, torch)):
        x = a * 2.0
        x[idx, 1:4:2] = v[:, None, :]  # advanced then basic, value broadcast
        (x * lib.tensor(np.arange(60.0).reshape(4, 5, 3))).sum().backward()
    np.testing.assert_allclose(ours_a.grad.numpy(), their_a.grad.numpy())
    np.testing.assert_allclose(ours_v.grad.numpy(), their_v.grad.numpy())


# --- in-place variants ------------------------------------------------------------------
def test_inplace_variants_without_graph_match_out_of_place():
    x = np.random.default_rng(0).standard_normal((3, 4))
    i = dg.tensor([[1, 0, 3], [2, 2, 0], [0, 1, 1]])
    src = dg.tensor(np.arange(12.0).reshape(3, 4))
    mask = dg.tensor(x > 0)
    cases = [
        ("scatter_", lambda t: t.scatter_(1, i, src), lambda t: t.scatter(1, i, src)),
        ("scatter_ value", lambda t: t.scatter_(1, i, value=-1.0), lambda t: t.scatter(1, i, -1.0)),
        ("scatter_add_", lambda t: t.scatter_add_(1, i, src), lambda t: t.scatter_add(1, i, src)),
        ("index_add_", lambda t: t.index_add_(0, dg.tensor([2, 2]), src[:2], alpha=3),
         lambda t: t.index_add(0, dg.tensor([2, 2]), src[:2], alpha=3)),
        ("masked_fill_", lambda t: t.masked_fill_(mask, 0.5), lambda t: t.masked_fill(mask, 0.5)),
        ("index_put_", lambda t: t.index_put_((dg.tensor([0, 0]),), dg.tensor(1.0), True),
         lambda t: t.index_put((dg.tensor([0, 0]),), dg.tensor(1.0), True)),
    ]
    for name, inplace, out_of_place in cases:
        t = dg.tensor(x)
        expect = out_of_place(t).numpy()
        version = t._version[0]
        assert inplace(t) is t, name
        assert t._version[0] == version + 1, name
        np.testing.assert_array_equal(t.numpy(), expect, err_msg=name)
    assert dg.tensor(x).index_put_((dg.tensor([0, 0]),), dg.tensor(1.0), True)[0].tolist() == \
        (x[0] + 2).tolist()


def test_inplace_variants_with_graph_give_gradients():
    a = leaf((3, 4))
    src = leaf((3, 1), seed=2)
    x = a * 1.0
    x.scatter_(1, dg.tensor([[1], [0], [3]]), src)
    x.masked_fill_(dg.tensor([True, False, False, False]), 0.0)
    x.sum().backward()
    expect = np.ones((3, 4))
    expect[[0, 1, 2], [1, 0, 3]] = 0
    expect[:, 0] = 0
    np.testing.assert_array_equal(a.grad.numpy(), expect)
    np.testing.assert_array_equal(src.grad.numpy(), [[1.0], [0.0], [1.0]])


def test_masked_fill_inplace_refuses_a_mask_that_grows_the_tensor():
    with pytest.raises(RuntimeError, match="masked_fill_: the mask of shape \\(2, 3\\)"):
        dg.zeros(3).masked_fill_(dg.ones(2, 3, dtype=dg.bool), 1.0)


# --- multi-output ops ---------------------------------------------------------------------
def test_split_gradient_with_some_outputs_unused():
    x = leaf((7, 2))
    parts = x.split(3)
    assert [p.shape for p in parts] == [(3, 2), (3, 2), (1, 2)]
    (parts[1] * 2).sum().backward()
    expect = np.zeros((7, 2))
    expect[3:6] = 2
    np.testing.assert_array_equal(x.grad.numpy(), expect)
    assert parts[0].grad_fn is parts[2].grad_fn  # one node, several outputs


def test_unbind_and_chunk_shapes_and_gradients():
    x = leaf((2, 3))
    rows = x.unbind(1)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    (rows[0] + 3 * rows[2]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 3.0], [1.0, 0.0, 3.0]])
    assert [c.shape[0] for c in dg.ones(5).chunk(3)] == [2, 2, 1]
    assert [c.shape[0] for c in dg.ones(6).chunk(4)] == [2, 2, 2]  # fewer chunks, as PyTorch
    assert [tuple(c.shape) for c in dg.ones(0).chunk(3)] == [(0,)] * 3
    assert [tuple(c.shape) for c in dg.ones(0, 2).split(2)] == [(0, 2)]


def test_cat_promotes_and_skips_legacy_empty():
    out = dg.cat([dg.tensor([1, 2]), dg.tensor([0.5], dtype=dg.float64)])
    assert out.dtype == dg.float64 and out.tolist() == [1.0, 2.0, 0.5]
    assert dg.stack([dg.tensor([1, 2]), dg.tensor([1.0, 2.0])]).dtype == dg.float32
    assert dg.cat([dg.ones(2, 3), dg.zeros(0)]).shape == (2, 3)


def test_one_hot_and_nonzero():
    oh = dg.one_hot(dg.tensor([0, 2, 1]))
    assert oh.dtype == dg.int64 and oh.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    nz = dg.tensor([[0.0, 1.5], [2.0, 0.0]]).nonzero()
    assert nz.dtype == dg.int64 and nz.tolist() == [[0, 1], [1, 0]]
    rows, cols = dg.tensor([[0.0, 1.5], [2.0, 0.0]]).nonzero(as_tuple=True)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    assert dg.tensor(5.0).nonzero().shape == (1, 0)
    assert not leaf((2, 2)).nonzero().requires_grad


# --- errors ---------------------------------------------------------------------------------
ERRORS = [
    (lambda: dg.ones(3, 4)[::-1], ValueError, "step must be greater than zero.*flip"),
    (lambda: dg.ones(3, 4)[5], IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda: dg.ones(3, 4)[dg.tensor([0, 7])], IndexError, "index 7 is out of bounds.*size 3"),
    (lambda: dg.ones(3, 4)[:, dg.tensor([1.0])], IndexError, "integer .* or bool .*float32"),
    (lambda: dg.ones(3)[dg.tensor([True, False])], IndexError, "boolean index did not match"),
    (lambda: dg.ones(3).__setitem__(slice(0, 2), dg.ones(3)), ValueError,
     "__setitem__: could not broadcast"),
    (lambda: dg.ones(3, 4).gather(1, dg.tensor([[0, 4]])), IndexError,
     "gather: index 4 is out of bounds for dimension 1 with size 4"),
    (lambda: dg.ones(3, 4).gather(1, dg.tensor([[-1]])), IndexError, "gather: index -1"),
    (lambda: dg.ones(3, 4).gather(1, dg.tensor([0, 1])), RuntimeError,
     "gather: index has 1 dimensions"),
    (lambda: dg.ones(3, 4).gather(1, dg.tensor([[0.0]])), TypeError,
     "gather: index must be an integer"),
    (lambda: dg.ones(3, 4).scatter(1, dg.tensor([[0, 1]]), dg.ones(1, 1)), RuntimeError,
     "scatter: src of shape \\(1, 1\\)"),
    (lambda: dg.ones(3, 4).index_select(0, dg.tensor([3])), IndexError,
     "index_select: index 3 is out of bounds for dimension 0 with size 3"),
    (lambda: dg.ones(3, 4).index_add(0, dg.tensor([0]), dg.ones(2, 4)), RuntimeError,
     "index_add: source has shape \\(2, 4\\), expected \\(1, 4\\)"),
    (lambda: dg.ones(3).masked_fill(dg.ones(3), 0.0), TypeError, "masked_fill: expected a boolean"),
    (lambda: dg.ones(3).masked_fill(dg.ones(3, dtype=dg.bool), dg.ones(1)), RuntimeError,
     "0-dimensional value"),
    (lambda: dg.one_hot(dg.tensor([0, 3]), 3), RuntimeError, "one_hot: class value 3"),
    (lambda: dg.one_hot(dg.tensor([-1])), RuntimeError, "non-negative"),
    (lambda: dg.one_hot(dg.tensor([0.5])), TypeError, "one_hot: expected an integer"),
    (lambda: dg.cat([dg.ones(2, 3), dg.ones(2, 4)]), RuntimeError,
     "cat: sizes of tensors must match except in dimension 0"),
    (lambda: dg.cat([dg.tensor(1.0)]), ValueError, "zero-dimensional"),
    (lambda: dg.cat(dg.ones(2)), TypeError, "cat: expected a list"),
    (lambda: dg.stack([dg.ones(2), dg.ones(3)]), RuntimeError, "stack: expects each tensor"),
    (lambda: dg.ones(5).split([2, 2]), RuntimeError, "split: split sizes \\(2, 2\\)"),
    (lambda: dg.ones(2, 3).permute(0, 0), RuntimeError, "permute: dims"),
    (lambda: dg.ones(2, 3).permute(0), RuntimeError, "permute: got 1 dims"),
    (lambda: dg.ones(2, 3).transpose(0, 2), IndexError, "transpose: dimension 2 is out of range"),
    (lambda: dg.ones(2, 3).unsqueeze(3), IndexError, "unsqueeze: dimension 3"),
    (lambda: dg.ones(2, 3).narrow(1, 2, 2), IndexError, "narrow: start 2 and length 2"),
    (lambda: dg.ones(2, 6).unflatten(1, (4, -1)), RuntimeError, "unflatten: sizes \\(4, -1\\)"),
    (lambda: dg.ones(2, 3).flatten(1, 0), RuntimeError, "flatten: start_dim"),
    (lambda: dg.ones(2, 3).repeat(2), RuntimeError, "repeat: 1 repeat sizes"),
    (lambda: dg.ones(3).tril(), RuntimeError, "tril: input tensor must have at least 2"),
    (lambda: dg.ones(3).mT, RuntimeError, "mT: expects a tensor with at least 2"),
    (lambda: dg.ones(3, 4).roll((1, 2), 0), RuntimeError, "roll: shifts"),
]


@pytest.mark.parametrize("call,error,message", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- the bincount fast path of add_at ----------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("key_fn", [
    lambda rng: (rng.integers(-5, 5, (7,)),),
    lambda rng: (rng.integers(0, 5, (2, 3)), Ellipsis),
    lambda rng: (rng.integers(0, 5, (4,)), rng.integers(-3, 3, (4,)), slice(None)),
    lambda rng: (slice(None), rng.integers(0, 3, (6,))),     # general path
    lambda rng: (rng.integers(0, 5, (4,)), None),            # general path
])
def test_add_at_matches_numpy_add_at(key_fn, dtype):
    rng = np.random.default_rng(0)
    key = key_fn(rng)
    base = rng.standard_normal((5, 3, 2)).astype(dtype)
    values = rng.standard_normal(base[key].shape).astype(dtype)
    expect = base.copy()
    np.add.at(expect, key, values)
    got = add_at(base.copy(), key, ARRAY, values)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-6)


def test_prepare_key_kinds_and_views():
    key, kind = prepare_key(3)
    assert key == (3, Ellipsis) and kind == 0
    assert prepare_key([True, False])[1] == 1
    assert prepare_key((slice(None), [0, 1]))[1] == ARRAY
    assert prepare_key((dg.tensor(2), None))[0] == (2, None, Ellipsis)


# --- property tests over random shapes ------------------------------------------------------
@st.composite
def shape_and_target(draw):
    """A shape and a shape it broadcasts to (new leading dims, 1s stretched)."""
    target = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    drop = draw(st.integers(0, len(target)))
    shape = tuple(1 if draw(st.booleans()) else n for n in target[drop:])
    return shape, target


@SETTINGS
@given(shape_and_target(), st.integers(0, 2**32 - 1))
def test_expand_and_masked_fill_broadcast_backward_sums(shapes, seed):
    shape, target = shapes
    rng = np.random.default_rng(seed)
    x = dg.tensor(rng.standard_normal(shape), requires_grad=True)
    w = rng.standard_normal(target)
    out = x.broadcast_to(target)
    np.testing.assert_array_equal(out.numpy() if not out.requires_grad else to_numpy(out),
                                  np.broadcast_to(x.array, target))
    mask = rng.random(target) < 0.5
    (out.masked_fill(dg.tensor(mask), 0.0) * dg.tensor(w)).sum().backward()
    expect = np.where(mask, 0.0, w)
    lead = len(target) - len(shape)
    expect = expect.sum(axis=tuple(range(lead))) if lead else expect
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and expect.shape[i] != 1)
    expect = expect.sum(axis=axes, keepdims=True) if axes else expect
    assert x.grad.shape == shape
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-12, atol=1e-12)


@st.composite
def shape_and_perm(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    perm = tuple(draw(st.permutations(range(len(shape)))))
    return shape, perm


@SETTINGS
@given(shape_and_perm(), st.integers(0, 2**32 - 1))
def test_permute_matches_numpy_and_gradient_is_inverse(sp, seed):
    shape, perm = sp
    rng = np.random.default_rng(seed)
    x = dg.tensor(rng.standard_normal(shape), requires_grad=True)
    y = x.permute(*perm)
    np.testing.assert_array_equal(to_numpy(y), np.transpose(x.array, perm))
    w = rng.standard_normal(y.shape)
    (y * dg.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.transpose(w, np.argsort(perm)))


@SETTINGS
@given(shape_and_perm(), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_split_then_cat_round_trip(sp, size, seed):
    shape, _ = sp
    dim = seed % len(shape)
    x = dg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)
    parts = x.split(size, dim)
    assert sum(p.shape[dim] for p in parts) == shape[dim]
    y = dg.cat(parts, dim)
    np.testing.assert_array_equal(to_numpy(y), x.array)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))


@st.composite
def basic_key(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    length = draw(st.integers(1, 4))  # index arrays of one key must broadcast together
    key = []
    for n in shape[:draw(st.integers(0, len(shape)))]:
        kind = draw(st.sampled_from(["int", "slice", "none", "array"]))
        if kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            key.append(slice(draw(st.one_of(st.none(), st.integers(-n, n))),
                             draw(st.one_of(st.none(), st.integers(-n, n))),
                             draw(st.one_of(st.none(), st.integers(1, 3)))))
        elif kind == "none":
            key.append(None)
            key.append(slice(None))
        else:
            key.append(draw(st.lists(st.integers(-n, n - 1), min_size=length, max_size=length)))
    return shape, tuple(key)


@SETTINGS
@given(basic_key(), st.integers(0, 2**32 - 1))
def test_getitem_matches_numpy_and_gradient_scatters(sk, seed):
    shape, key = sk
    rng = np.random.default_rng(seed)
    x = dg.tensor(rng.standard_normal(shape), requires_grad=True)
    np_key = tuple(np.asarray(k) if isinstance(k, list) else k for k in key)
    y = x[key]
    expect = x.array[np_key]
    np.testing.assert_array_equal(to_numpy(y), expect)
    w = rng.standard_normal(np.shape(expect))
    (y * dg.tensor(w)).sum().backward()
    grad = np.zeros(shape)
    np.add.at(grad, np_key, w)
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-12, atol=1e-12)

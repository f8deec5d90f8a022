"""Property tests (hypothesis): broadcasting and reductions over random shapes.

For random broadcast-compatible shapes, the gradients of ``+ - * /`` come back in
each input's shape and equal NumPy's upstream gradient summed over the broadcast
dimensions. For random dims (negative ones too) and keepdim, ``sum`` and ``mean``
match NumPy and their gradients are the upstream gradient spread out (times 1/count).
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import deepgrad as dg

from helpers import to_numpy

# Random exploration locally; a fixed sequence of examples in CI, so a run is reproducible.
SETTINGS = settings(max_examples=60, deadline=None, derandomize=os.environ.get("CI") == "true")


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast together, each a 'thinned' version of a common shape."""
    full = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))

    def thin():
        drop = draw(st.integers(0, len(full)))  # leading dims may be missing
        return tuple(1 if draw(st.booleans()) else n for n in full[drop:])

    return tuple(full), thin(), thin()


@st.composite
def shape_and_dims(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    ndim = len(shape)
    dims = draw(st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(
            lambda ds: tuple(d - ndim if i % 2 else d for i, d in enumerate(ds))),  # mix signs
    ))
    return shape, dims, draw(st.booleans())


def reduce_to(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """NumPy's answer to 'undo broadcasting': sum leading dims and dims that were 1."""
    lead = grad.ndim - len(shape)
    g = grad.sum(axis=tuple(range(lead))) if lead else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def values(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape)


@SETTINGS
@given(broadcast_pair(), st.integers(0, 2**32 - 1))
def test_broadcast_add_and_mul_gradients_reduce_to_input_shapes(shapes, seed):
    _, sa, sb = shapes
    rng = np.random.default_rng(seed)
    av, bv = values(rng, sa), values(rng, sb)
    out_shape = np.broadcast_shapes(sa, sb)
    gv = values(rng, out_shape)
    for op, da, db in [
        ("add", lambda: np.ones(out_shape), lambda: np.ones(out_shape)),
        ("mul", lambda: np.broadcast_to(bv, out_shape), lambda: np.broadcast_to(av, out_shape)),
    ]:
        a = dg.tensor(av, requires_grad=True)
        b = dg.tensor(bv, requires_grad=True)
        out = getattr(dg, op)(a, b)
        assert out.shape == out_shape
        np.testing.assert_allclose(to_numpy(out), getattr(np, {"add": "add", "mul": "multiply"}[op])(av, bv))
        (out * dg.tensor(gv)).sum().backward()
        assert a.grad.shape == sa and b.grad.shape == sb, op
        np.testing.assert_allclose(to_numpy(a.grad), reduce_to(gv * da(), sa), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(to_numpy(b.grad), reduce_to(gv * db(), sb), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(broadcast_pair(), st.integers(0, 2**32 - 1))
def test_broadcast_sub_and_div_gradients_reduce_to_input_shapes(shapes, seed):
    _, sa, sb = shapes
    rng = np.random.default_rng(seed)
    av, bv = values(rng, sa), values(rng, sb, 0.5, 2.0)
    out_shape = np.broadcast_shapes(sa, sb)
    a = dg.tensor(av, requires_grad=True)
    b = dg.tensor(bv, requires_grad=True)
    ((a - b) + (a / b)).sum().backward()
    bb = np.broadcast_to(bv, out_shape)
    ab = np.broadcast_to(av, out_shape)
    np.testing.assert_allclose(to_numpy(a.grad), reduce_to(1 + 1 / bb, sa), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(b.grad), reduce_to(-1 - ab / bb ** 2, sb), rtol=1e-12)


@SETTINGS
@given(broadcast_pair())
def test_broadcast_shapes_match_numpy_for_float32(shapes):
    _, sa, sb = shapes
    a, b = dg.ones(sa), dg.ones(sb)
    for out in (a + b, a * b, a - b, a / b):
        assert out.shape == np.broadcast_shapes(sa, sb)
        assert out.dtype is dg.float32


def _count(shape, dims):
    if dims is None:
        return int(np.prod(shape))
    dims = (dims,) if isinstance(dims, int) else dims
    return int(np.prod([shape[d] for d in dims]))


@SETTINGS
@given(shape_and_dims(), st.integers(0, 2**32 - 1))
def test_sum_and_mean_match_numpy_with_their_gradients(case, seed):
    shape, dims, keepdim = case
    rng = np.random.default_rng(seed)
    xv = values(rng, shape)
    for name, ref, scale in [("sum", np.sum, 1.0), ("mean", np.mean, 1.0 / _count(shape, dims))]:
        x = dg.tensor(xv, requires_grad=True)
        out = getattr(x, name)(dim=dims, keepdim=keepdim) if dims is not None else getattr(x, name)()
        want = ref(xv, axis=dims, keepdims=keepdim) if dims is not None else ref(xv)
        assert out.shape == np.shape(want), (name, shape, dims, keepdim)
        np.testing.assert_allclose(to_numpy(out), want, rtol=1e-12, atol=1e-12)
        # the upstream gradient comes back spread over the reduced dims
        gv = values(rng, out.shape)
        (out * dg.tensor(gv)).sum().backward()
        kept = np.sum(xv, axis=dims, keepdims=True) if dims is not None else np.sum(xv, keepdims=True)
        expected = np.broadcast_to(gv.reshape(kept.shape), shape) * scale
        assert x.grad.shape == shape
        np.testing.assert_allclose(to_numpy(x.grad), expected, rtol=1e-12, atol=1e-15)


@SETTINGS
@given(shape_and_dims())
def test_plain_sum_and_mean_gradients_are_ones_and_one_over_count(case):
    shape, dims, keepdim = case
    x = dg.ones(shape, dtype=dg.float64, requires_grad=True)
    x.sum(dim=dims, keepdim=keepdim).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), np.ones(shape))
    x.grad = None
    x.mean(dim=dims, keepdim=keepdim).sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), np.full(shape, 1.0 / _count(shape, dims)))

"""dtypes and PyTorch's type promotion: the rules table, real ops, and torch.result_type."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import dtypes

from helpers import requires_torch, to_numpy

DTYPES = [dg.float16, dg.float32, dg.float64, dg.uint8, dg.int8, dg.int16, dg.int32, dg.int64,
          dg.bool]


def full_of(dtype, ndim=1):
    shape = (2,) * ndim
    return dg.Tensor(np.ones(shape, dtype=dtype.np))


# --- the dtype objects -------------------------------------------------------------------------
def test_dtype_names_aliases_and_repr():
    assert dg.float is dg.float32 and dg.double is dg.float64 and dg.half is dg.float16
    assert dg.long is dg.int64 and dg.int is dg.int32 and dg.short is dg.int16
    assert repr(dg.float64) == "deepgrad.float64"
    assert dg.float32.is_floating_point and not dg.int64.is_floating_point
    assert dg.float32.itemsize == 4 and dg.float16.itemsize == 2
    assert dg.float32.np == np.float32


def test_to_dtype_accepts_numpy_python_and_names():
    assert dtypes.to_dtype("float32") is dg.float32
    assert dtypes.to_dtype(np.float64) is dg.float64
    assert dtypes.to_dtype(np.dtype("int16")) is dg.int16
    assert dtypes.to_dtype(float) is dg.float32
    assert dtypes.to_dtype(int) is dg.int64
    assert dtypes.to_dtype(bool) is dg.bool


def test_unsupported_dtype_error_lists_the_supported_ones():
    with pytest.raises(TypeError, match=r"complex128.*supported: .*float32"):
        dg.from_numpy(np.zeros(2, dtype=np.complex128))


@pytest.mark.parametrize("d", [dg.float16, dg.float32, dg.float64, dg.int64, dg.uint8])
def test_dtypes_pickle_to_the_same_object(d):
    assert pickle.loads(pickle.dumps(d)) is d


def test_bool_dtype_pickles():
    assert pickle.loads(pickle.dumps(dg.bool)) is dg.bool


def test_default_dtype_can_be_changed_and_restored():
    assert dg.get_default_dtype() is dg.float32
    try:
        dg.set_default_dtype(dg.float64)
        assert dg.tensor([1.5]).dtype is dg.float64
        assert dg.zeros(2).dtype is dg.float64
        assert (dg.tensor([1, 2]) / 2).dtype is dg.float64
    finally:
        dg.set_default_dtype(dg.float32)
    assert dg.tensor([1.5]).dtype is dg.float32
    with pytest.raises(TypeError, match="floating"):
        dg.set_default_dtype(dg.int64)


# --- inference from data -----------------------------------------------------------------------
@pytest.mark.parametrize("data, expected", [
    ([1.0, 2.0], dg.float32),
    ([1, 2], dg.int64),
    ([True, False], dg.bool),
    ([1, 2.5], dg.float32),
    (3, dg.int64),
    (2.5, dg.float32),
    (np.arange(3, dtype=np.int32), dg.int32),
    (np.ones(2), dg.float64),       # a NumPy array keeps its dtype, as torch.tensor does
    (np.ones(2, dtype=np.float16), dg.float16),
])
def test_tensor_infers_dtype_like_pytorch(data, expected):
    assert dg.tensor(data).dtype is expected


# --- the promotion table ------------------------------------------------------------------------
def test_float_tensor_times_python_float_stays_float32():
    x = dg.tensor([1.0, 2.0])
    assert (x * 2.5).dtype is dg.float32
    assert (2.5 * x).dtype is dg.float32
    assert (x + 1).dtype is dg.float32
    assert (x.half() * 2.5).dtype is dg.float16


def test_int_tensor_divided_by_int_is_float32():
    x = dg.tensor([1, 2, 3])
    y = x / 2
    assert y.dtype is dg.float32
    np.testing.assert_allclose(to_numpy(y), [0.5, 1.0, 1.5])
    assert (x // 2).dtype is dg.int64
    assert (x * 2).dtype is dg.int64
    assert (x * 2.5).dtype is dg.float32


def test_int32_tensor_plus_int64_zero_dim_tensor_stays_int32():
    a = dg.tensor([1, 2], dtype=dg.int32)
    b = dg.tensor(5)  # 0-d int64
    assert (a + b).dtype is dg.int32
    assert dg.result_type(a, b) is dg.int32
    # but a 0-d tensor of a higher category wins, with its own width
    assert (a + dg.tensor(0.5, dtype=dg.float64)).dtype is dg.float64


def test_bool_plus_int():
    m = dg.tensor([True, False])
    assert (m + 1).dtype is dg.int64
    assert (m + dg.tensor([1, 2], dtype=dg.int16)).dtype is dg.int16
    assert (m + 1.5).dtype is dg.float32
    assert to_numpy(m + 1).tolist() == [2, 1]


def test_float16_plus_float32_is_float32():
    assert (dg.ones(2, dtype=dg.float16) + dg.ones(2)).dtype is dg.float32
    assert (dg.ones(2, dtype=dg.float64) + dg.ones(2)).dtype is dg.float64


def test_uint8_plus_int8_is_int16():
    a = dg.tensor([200], dtype=dg.uint8)
    b = dg.tensor([-100], dtype=dg.int8)
    c = a + b
    assert c.dtype is dg.int16
    assert c.item() == 100


def test_result_type_tiers():
    f32, i64 = full_of(dg.float32), full_of(dg.int64)
    zero_f64 = dg.tensor(1.0, dtype=dg.float64)
    assert dg.result_type(f32, zero_f64) is dg.float32   # same category: dims win
    assert dg.result_type(i64, zero_f64) is dg.float64   # higher category: 0-d wins
    assert dg.result_type(i64, 2.5) is dg.float32        # scalar float: the default dtype
    assert dg.result_type(full_of(dg.bool), 3) is dg.int64
    assert dg.result_type(full_of(dg.uint8), 300) is dg.uint8


def test_inplace_op_that_would_need_a_wider_dtype_raises():
    x = dg.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"add_.*can't be cast.*int64"):
        x.add_(0.5)
    x.add_(1)
    assert to_numpy(x).tolist() == [2, 3]


# --- against PyTorch -------------------------------------------------------------------------------
def _operands():
    """(label, deepgrad operand factory, torch operand factory) over the whole grid."""
    import torch

    ops = []
    for d in DTYPES:
        t = getattr(torch, d.name)
        ops.append((f"{d.name}[2]", lambda d=d: full_of(d), lambda t=t: torch.ones(2, dtype=t)))
        ops.append((f"{d.name}[]", lambda d=d: full_of(d, 0), lambda t=t: torch.ones((), dtype=t)))
    for s in (True, 3, 2.5):
        ops.append((repr(s), lambda s=s: s, lambda s=s: s))
    return ops


@requires_torch
def test_result_type_matches_torch_over_the_grid():
    import torch

    mismatches = []
    operands = _operands()
    for (la, da, ta), (lb, db, tb) in itertools.product(operands, operands):
        a, b = da(), db()
        if not isinstance(a, dg.Tensor) and not isinstance(b, dg.Tensor):
            continue
        want = str(torch.result_type(ta(), tb())).removeprefix("torch.")
        got = dg.result_type(a, b).name
        if got != want:
            mismatches.append(f"{la} with {lb}: deepgrad {got}, torch {want}")
    assert not mismatches, "\n".join(mismatches)


@requires_torch
@pytest.mark.parametrize("op", ["add", "mul"])
def test_op_result_dtype_matches_torch_over_the_grid(op):
    import torch

    mismatches = []
    operands = _operands()
    for (la, da, ta), (lb, db, tb) in itertools.product(operands, operands):
        a, b = da(), db()
        if not isinstance(a, dg.Tensor):
            continue
        want = getattr(torch, op)(ta(), tb())
        got = getattr(dg, op)(a, b)
        if got.dtype.name != str(want.dtype).removeprefix("torch.") or got.shape != tuple(want.shape):
            mismatches.append(f"{op}({la}, {lb}): deepgrad {got.dtype} {tuple(got.shape)}, "
                              f"torch {want.dtype} {tuple(want.shape)}")
        elif not np.array_equal(to_numpy(got), want.numpy()):
            mismatches.append(f"{op}({la}, {lb}): values differ")
    assert not mismatches, "\n".join(mismatches)


@requires_torch
def test_true_division_dtype_matches_torch():
    import torch

    for d in DTYPES:
        if d is dg.bool:
            continue
        ours = full_of(d) / 2
        theirs = torch.ones(2, dtype=getattr(torch, d.name)) / 2
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), d

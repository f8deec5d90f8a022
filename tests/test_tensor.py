"""The Tensor itself: inspection, conversions (NumPy, Python, DLPack, dtypes), repr, errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg

from helpers import requires_torch, to_numpy


# --- inspection ---------------------------------------------------------------------------------
def test_shape_ndim_size_numel():
    t = dg.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24 and len(t) == 2
    assert t.dtype is dg.float32 and t.is_floating_point() and t.element_size() == 4
    assert t.device == "cpu"
    s = dg.tensor(1.5)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1
    with pytest.raises(TypeError, match="0-d"):
        len(s)
    assert not dg.tensor([1, 2]).is_floating_point()
    assert dg.is_tensor(t) and not dg.is_tensor(np.zeros(2))


def test_truth_value():
    assert bool(dg.tensor([1.0])) and not bool(dg.tensor(0))
    with pytest.raises(RuntimeError, match=r"ambiguous.*any\(\).*all\(\)"):
        bool(dg.tensor([1.0, 2.0]))


# --- conversions ---------------------------------------------------------------------------------
def test_numpy_shares_memory():
    t = dg.zeros(3)
    a = t.numpy()
    a[0] = 5
    assert t.tolist() == [5.0, 0.0, 0.0]
    assert a.dtype == np.float32


def test_numpy_on_tensor_requiring_grad_points_to_detach():
    t = dg.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        t.numpy()
    assert t.detach().numpy().tolist() == [0.0, 0.0]


def test_item_and_python_numbers():
    assert dg.tensor(2.5).item() == 2.5 and isinstance(dg.tensor(2.5).item(), float)
    assert dg.tensor([7]).item() == 7 and isinstance(dg.tensor([7]).item(), int)
    assert dg.tensor(True).item() is True
    assert float(dg.tensor([1.5])) == 1.5 and int(dg.tensor(3)) == 3
    assert [10, 20, 30][dg.tensor(1)] == 20  # __index__
    with pytest.raises(ValueError, match=r"one element.*shape \(2,\)"):
        dg.tensor([1.0, 2.0]).item()
    with pytest.raises(TypeError):
        [1, 2][dg.tensor(0.5)]


def test_tolist():
    assert dg.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert dg.tensor(3.0).tolist() == 3.0
    assert dg.tensor([True]).tolist() == [True]


def test_array_protocol():
    t = dg.tensor([1.0, 2.0])
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.tolist() == [1.0, 2.0]
    assert np.shares_memory(a, t.array)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


def test_dlpack_round_trip_with_numpy():
    t = dg.arange(6).reshape(2, 3)
    a = np.from_dlpack(t)
    assert a.shape == (2, 3) and a.dtype == np.int64 and np.shares_memory(a, t.array)
    b = np.arange(4.0)
    u = dg.from_dlpack(b)
    assert u.dtype is dg.float64 and np.shares_memory(u.array, b)
    back = dg.from_dlpack(np.from_dlpack(u))
    b[0] = 42
    assert back.tolist()[0] == 42.0
    assert t.__dlpack_device__()[0] == 1  # kDLCPU


@requires_torch
def test_dlpack_with_torch():
    import torch

    t = dg.tensor([1.0, 2.0, 3.0])
    theirs = torch.from_dlpack(t)
    theirs[0] = 9
    assert t.tolist() == [9.0, 2.0, 3.0]
    ours = dg.from_dlpack(torch.arange(3, dtype=torch.float64))
    assert ours.dtype is dg.float64 and ours.tolist() == [0.0, 1.0, 2.0]


def test_to_and_dtype_shorthands():
    x = dg.tensor([1.7, -2.2])
    assert x.double().dtype is dg.float64
    assert x.float() is x  # already float32: no copy, as in PyTorch
    assert x.long().dtype is dg.int64 and x.long().tolist() == [1, -2]  # truncation
    assert x.int().dtype is dg.int32 and x.half().dtype is dg.float16
    assert x.bool().tolist() == [True, True]
    assert x.to(dg.float64).dtype is dg.float64
    assert x.to("float64").dtype is dg.float64
    assert x.to(dg.tensor([1])).dtype is dg.int64
    assert x.to("cpu") is x
    c = x.to(dg.float32, copy=True)
    assert c is not x and not np.shares_memory(c.array, x.array)
    assert x.type_as(dg.zeros(1, dtype=dg.float16)).dtype is dg.float16


def test_dtype_conversion_is_differentiable():
    x = dg.tensor([1.0, 2.0], dtype=dg.float64, requires_grad=True)
    y = x.float()
    assert y.dtype is dg.float32 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype is dg.float64
    np.testing.assert_allclose(to_numpy(x.grad), [2.0, 4.0])


def test_clone_copies_and_keeps_the_graph():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.array, x.array) and c.grad_fn is not None
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_data_is_the_same_storage_outside_the_graph():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and np.shares_memory(d.array, x.array)
    x.data = dg.tensor([5.0, 6.0])
    assert x.tolist() == [5.0, 6.0] and x.requires_grad


# --- repr ------------------------------------------------------------------------------------------
# The expected strings are PyTorch 2.13's reprs with "torch." replaced by "deepgrad.".
REPRS = [
    (lambda: dg.tensor([1.0, 2.0, 3.0], requires_grad=True), "tensor([1., 2., 3.], requires_grad=True)"),
    (lambda: dg.tensor([0.1, 0.2]), "tensor([0.1000, 0.2000])"),
    (lambda: dg.tensor([1.0, 2.0], dtype=dg.float64), "tensor([1., 2.], dtype=deepgrad.float64)"),
    (lambda: dg.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
    (lambda: dg.tensor([1, 2], dtype=dg.int32), "tensor([1, 2], dtype=deepgrad.int32)"),
    (lambda: dg.tensor([True, False]), "tensor([ True, False])"),
    (lambda: dg.tensor(3.5), "tensor(3.5000)"),
    (lambda: dg.tensor(3), "tensor(3)"),
    (lambda: dg.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
    (lambda: dg.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: dg.tensor([1e9, 1.0]), "tensor([1.0000e+09, 1.0000e+00])"),
    (lambda: dg.zeros(0), "tensor([])"),
    (lambda: dg.tensor([0.5], dtype=dg.float16), "tensor([0.5000], dtype=deepgrad.float16)"),
    (lambda: dg.tensor([-1.5, 2.25]), "tensor([-1.5000,  2.2500])"),
    (lambda: dg.tensor([100.5, 2.0]), "tensor([100.5000,   2.0000])"),
    (lambda: dg.tensor([-1.0, 2.0]), "tensor([-1.,  2.])"),
    (lambda: dg.tensor([float("nan"), 1.5]), "tensor([   nan, 1.5000])"),
    (lambda: dg.arange(2000), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"),
    (lambda: dg.tensor([[1.123456, 22.5], [3.0, 4.0]]),
     "tensor([[ 1.1235, 22.5000],\n        [ 3.0000,  4.0000]])"),
    (lambda: dg.tensor([float("nan"), float("inf"), 1.0]), "tensor([nan, inf, 1.])"),
    (lambda: dg.tensor([1.0, 2.0, -10.0]), "tensor([  1.,   2., -10.])"),
    (lambda: dg.tensor([1.0, 2000.0]), "tensor([1.0000e+00, 2.0000e+03])"),  # whole, but wide
    (lambda: dg.tensor([0.0, 1.0, 1000.0]), "tensor([   0.,    1., 1000.])"),
    (lambda: dg.tensor([1e9, 1.0]), "tensor([1.0000e+09, 1.0000e+00])"),
]


@pytest.mark.parametrize("make, expected", REPRS, ids=[e for _, e in REPRS])
def test_repr_like_pytorch(make, expected):
    assert repr(make()) == expected


def test_repr_shows_grad_fn():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward>)"


@requires_torch
@pytest.mark.parametrize("make, expected", REPRS, ids=[e for _, e in REPRS])
def test_expected_reprs_are_pytorchs(make, expected):
    """Keeps the table above honest: the same tensor in PyTorch prints the expected string."""
    import torch

    ours = make()
    theirs = torch.tensor(ours.detach().numpy(), requires_grad=ours.requires_grad)
    assert repr(theirs).replace("torch.", "deepgrad.") == expected


# --- errors -------------------------------------------------------------------------------------------
def test_matmul_shape_mismatch_message():
    a, b = dg.zeros(128, 784), dg.zeros(512, 10)
    with pytest.raises(RuntimeError, match=r"matmul.*\(128, 784\).*\(512, 10\).*784.*512"):
        dg.matmul(a, b)
    with pytest.raises(RuntimeError, match=r"\(128, 784\).*\(512, 10\)"):
        a @ b


def test_reshape_error_names_the_shapes():
    with pytest.raises(RuntimeError, match=r"reshape.*\(4, 4\).*\(2, 3\).*6 elements"):
        dg.zeros(2, 3).reshape(4, 4)


def test_dimension_out_of_range_names_the_op():
    with pytest.raises(IndexError, match=r"sum.*dimension 2.*2 dimensions"):
        dg.zeros(2, 3).sum(dim=2)


def test_mean_of_integer_tensor_says_how_to_fix_it():
    with pytest.raises(RuntimeError, match=r"mean.*int64.*float\(\)"):
        dg.tensor([1, 2]).mean()


def test_broadcasting_error_is_raised_not_asserted():
    with pytest.raises((RuntimeError, ValueError), match=r"\(2,\).*\(3,\)"):
        dg.zeros(2) + dg.zeros(3)


def test_broadcasting_error_names_the_op():
    with pytest.raises(RuntimeError, match=r"add.*\(2,\).*\(3,\)"):
        dg.zeros(2) + dg.zeros(3)

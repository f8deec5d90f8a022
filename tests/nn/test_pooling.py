"""Pooling layers against PyTorch (values, gradients, indices) and on their own (ties, NaN,
padding, errors)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F

from helpers import requires_torch, to_numpy

sys.path.insert(0, os.path.dirname(__file__))
from test_conv import compare_with_torch  # noqa: E402

POOL_CONFIGS = [
    ("MaxPool1d", (3, 2), dict(padding=1), (2, 3, 8)),
    ("MaxPool1d", (2,), dict(dilation=2, ceil_mode=True), (3, 7)),
    ("MaxPool2d", (2,), {}, (2, 3, 6, 8)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=(1, 2), ceil_mode=True), (1, 2, 7, 8)),
    ("MaxPool2d", ((2, 3), (1, 2)), {}, (2, 5, 6)),
    ("AvgPool1d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False), (2, 3, 8)),
    ("AvgPool2d", (3, 2, 1), {}, (2, 2, 7, 6)),
    ("AvgPool2d", ((2, 3),), dict(stride=(2, 1), padding=(1, 1), ceil_mode=True,
                                  count_include_pad=False), (1, 2, 5, 6)),
    ("AvgPool2d", (2,), dict(divisor_override=3), (2, 2, 4, 4)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((3, None),), {}, (2, 2, 7, 5)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 4, 4)),
    ("AdaptiveMaxPool2d", ((3, 2),), {}, (2, 2, 7, 5)),
    ("AdaptiveMaxPool2d", (2,), {}, (2, 2, 6, 4)),
]


@requires_torch
@pytest.mark.parametrize("name,args,kwargs,shape", POOL_CONFIGS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(POOL_CONFIGS)])
def test_pool_modules_match_torch(name, args, kwargs, shape):
    import torch

    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    compare_with_torch(ours, theirs, shape)
    assert repr(ours) == repr(theirs)


@requires_torch
@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.MaxPool2d(3, 2, padding=1, return_indices=True),
    lambda lib: lib.nn.MaxPool1d(2, return_indices=True),
    lambda lib: lib.nn.AdaptiveMaxPool2d((2, 3), return_indices=True),
], ids=["max2d", "max1d", "adaptive"])
def test_indices_match_torch(make):
    import torch

    x = np.random.default_rng(0).standard_normal((2, 3, 7, 5))
    if isinstance(make(dg), nn.MaxPool1d):
        x = x.reshape(2, 3, 35)
    values, indices = make(dg)(dg.tensor(x))
    t_values, t_indices = make(torch)(torch.tensor(x))
    np.testing.assert_array_equal(to_numpy(values), to_numpy(t_values))
    assert indices.dtype == dg.int64
    np.testing.assert_array_equal(to_numpy(indices), to_numpy(t_indices))


def test_max_pool_matches_reshape_max_and_keeps_float32():
    x = np.random.default_rng(1).standard_normal((4, 3, 8, 6)).astype(np.float32)
    out = F.max_pool2d(dg.tensor(x), 2)
    assert out.dtype == dg.float32
    np.testing.assert_array_equal(to_numpy(out), x.reshape(4, 3, 4, 2, 3, 2).max(axis=(3, 5)))
    avg = F.avg_pool2d(dg.tensor(x), 2)
    assert avg.dtype == dg.float32
    np.testing.assert_allclose(to_numpy(avg), x.reshape(4, 3, 4, 2, 3, 2).mean(axis=(3, 5)),
                               rtol=1e-6)


def test_max_pool_ties_go_to_the_first_element_and_nan_propagates():
    x = dg.tensor([[[[1.0, 1.0], [0.0, 1.0]]]], requires_grad=True)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    out.sum().backward()
    assert idx.item() == 0
    assert to_numpy(x.grad).ravel().tolist() == [1.0, 0.0, 0.0, 0.0]
    y = F.max_pool2d(dg.tensor([[[[1.0, float("nan")], [3.0, 2.0]]]]), 2)
    assert np.isnan(y.item())


def test_overlapping_windows_accumulate_gradients():
    x = dg.tensor([[[0.0, 5.0, 1.0, 2.0]]], requires_grad=True)
    F.max_pool1d(x, 2, stride=1).sum().backward()  # windows [0,5], [5,1], [1,2]
    assert to_numpy(x.grad).ravel().tolist() == [0.0, 2.0, 0.0, 1.0]


def test_avg_pool_padding_counts_as_in_pytorch():
    x = dg.ones(1, 1, 3, 3)
    with_pad = to_numpy(F.avg_pool2d(x, 3, 1, padding=1))
    without = to_numpy(F.avg_pool2d(x, 3, 1, padding=1, count_include_pad=False))
    assert with_pad[0, 0, 0, 0] == pytest.approx(4 / 9)
    assert with_pad[0, 0, 1, 1] == pytest.approx(1.0)
    np.testing.assert_allclose(without, 1.0)


def test_adaptive_avg_pool_windows():
    x = dg.arange(5.0).reshape(1, 1, 5)
    # windows [0, 2), [1, 4), [3, 5) for 5 -> 3
    np.testing.assert_allclose(to_numpy(F.adaptive_avg_pool1d(x, 3)).ravel(), [0.5, 2.0, 3.5])


def test_pooling_errors_name_the_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2))
    with pytest.raises(RuntimeError, match=r"MaxPool2d '1' \(kernel_size=2.*\) got input of shape "
                                           r"\(1, 1, 2, 1, 1\): expected a 3-d or 4-d input"):
        model[1](dg.zeros(1, 1, 2, 1, 1))
    with pytest.raises(RuntimeError, match=r"AvgPool2d \(kernel_size=5.*\(1, 1, 3, 3\): the input "
                                           r"is too small.*smaller than the kernel \(5, 5\)"):
        nn.AvgPool2d(5)(dg.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="padding=2 should be at most half of kernel_size=2"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be at least 1"):
        nn.AvgPool1d(0)
    with pytest.raises(ValueError, match="output_size must be"):
        nn.AdaptiveAvgPool2d((0, 2))
    with pytest.raises(TypeError, match="floating point"):
        F.max_pool2d(dg.zeros(1, 1, 2, 2, dtype=dg.int64), 2)

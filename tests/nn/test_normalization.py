"""Normalization layers against PyTorch (outputs, gradients, running statistics, eval mode)
and on their own (statistics, buffers, errors)."""

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

NORM_CONFIGS = [
    ("BatchNorm1d", (4,), {}, (6, 4)),
    ("BatchNorm1d", (3,), dict(momentum=0.3, eps=1e-3), (4, 3, 5)),
    ("BatchNorm1d", (3,), dict(affine=False), (5, 3)),
    ("BatchNorm2d", (3,), {}, (4, 3, 2, 3)),
    ("BatchNorm2d", (2,), dict(track_running_stats=False), (3, 2, 2, 2)),
    ("BatchNorm2d", (2,), dict(bias=False, momentum=None), (3, 2, 2, 2)),
    ("InstanceNorm2d", (3,), {}, (2, 3, 3, 4)),
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True), (2, 3, 3, 2)),
    ("InstanceNorm2d", (2,), dict(affine=True), (2, 3, 3)),
    ("LayerNorm", (5,), {}, (3, 4, 5)),
    ("LayerNorm", ((3, 4),), dict(elementwise_affine=False, eps=1e-3), (2, 3, 4)),
    ("LayerNorm", (4,), dict(bias=False), (3, 4)),
    ("GroupNorm", (2, 4), {}, (3, 4, 2, 3)),
    ("GroupNorm", (3, 6), dict(affine=False), (2, 6, 5)),
    ("GroupNorm", (1, 2), dict(bias=False), (2, 2, 3)),
    ("LocalResponseNorm", (3,), {}, (2, 5, 3, 3)),
    ("LocalResponseNorm", (2,), dict(alpha=0.1, beta=0.5, k=2.0), (2, 4, 5)),
]


@requires_torch
@pytest.mark.parametrize("name,args,kwargs,shape", NORM_CONFIGS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(NORM_CONFIGS)])
def test_norm_modules_match_torch(name, args, kwargs, shape):
    import torch

    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    compare_with_torch(ours, theirs, shape)  # training mode: buffers compared after the forward
    compare_with_torch(ours, theirs, shape, seed=1, train=False)  # eval: running statistics
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@requires_torch
@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_statistics_over_several_batches_match_torch(momentum):
    import torch

    ours, theirs = nn.BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32) * (step + 1) + step
        ours(dg.tensor(x))
        theirs(torch.tensor(x))
    for name, buffer in theirs.named_buffers():
        ours_buffer = getattr(ours, name)
        assert ours_buffer.dtype == (dg.int64 if name == "num_batches_tracked" else dg.float32)
        np.testing.assert_allclose(to_numpy(ours_buffer), to_numpy(buffer), rtol=1e-5, err_msg=name)


def test_batch_norm_training_statistics_and_buffers():
    layer = nn.BatchNorm2d(2)
    x = dg.randn(8, 2, 3, 3) * 3 + 1
    y = to_numpy(layer(x))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-3)
    xs = to_numpy(x)
    np.testing.assert_allclose(to_numpy(layer.running_mean), 0.1 * xs.mean(axis=(0, 2, 3)),
                               rtol=1e-5)
    unbiased = xs.transpose(1, 0, 2, 3).reshape(2, -1).var(axis=1, ddof=1)
    np.testing.assert_allclose(to_numpy(layer.running_var), 0.9 + 0.1 * unbiased, rtol=1e-5)
    assert layer.num_batches_tracked.item() == 1
    layer.eval()
    out = to_numpy(layer(x))
    want = (xs - to_numpy(layer.running_mean).reshape(1, 2, 1, 1)) / np.sqrt(
        to_numpy(layer.running_var).reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    assert layer.num_batches_tracked.item() == 1  # eval does not count


def test_functional_batch_norm_updates_given_running_stats_in_place():
    mean, var = dg.zeros(3), dg.ones(3)
    x = dg.randn(4, 3)
    F.batch_norm(x, mean, var, training=True, momentum=0.5)
    xs = to_numpy(x)
    np.testing.assert_allclose(to_numpy(mean), 0.5 * xs.mean(0), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(var), 0.5 + 0.5 * xs.var(0, ddof=1), rtol=1e-5)


def test_layer_and_group_norm_statistics():
    x = dg.randn(2, 4, 3)
    y = to_numpy(F.layer_norm(x, (4, 3)))
    np.testing.assert_allclose(y.reshape(2, -1).mean(1), 0, atol=1e-5)
    g = to_numpy(F.group_norm(x, 2)).reshape(2, 2, -1)
    np.testing.assert_allclose(g.std(-1), 1, rtol=1e-3)


def test_normalization_errors_name_the_layer():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm2d(4))
    with pytest.raises(RuntimeError, match=r"BatchNorm2d '1' \(num_features=4\) got input of shape "
                                           r"\(8, 4\): expected a 4-d input .*BatchNorm1d"):
        model(dg.zeros(8, 4))
    with pytest.raises(RuntimeError, match=r"BatchNorm1d \(num_features=3\) got input of shape "
                                           r"\(8, 5\): expected 3 channels in dimension 1, got 5"):
        nn.BatchNorm1d(3)(dg.zeros(8, 5))
    with pytest.raises(RuntimeError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(dg.zeros(1, 3))
    with pytest.raises(RuntimeError, match=r"LayerNorm .*\(2, 3\): its last 1 dimension\(s\) must "
                                           r"be \(4,\)"):
        nn.LayerNorm(4)(dg.zeros(2, 3))
    with pytest.raises(ValueError, match="num_channels=6 must be divisible by num_groups=4"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="num_features must be at least 1"):
        nn.BatchNorm2d(-2)
    with pytest.raises(ValueError, match="C must be divisible"):
        F.group_norm(dg.zeros(2, 6, 3), 4)

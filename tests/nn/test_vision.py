"""Upsampling and pixel shuffles against PyTorch, and on their own."""

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

VISION_CONFIGS = [
    ("Upsample", (), dict(scale_factor=2), (2, 3, 3, 4)),
    ("Upsample", (), dict(size=(5, 7)), (1, 2, 3, 4)),
    ("Upsample", (), dict(scale_factor=(1.5, 0.5), mode="nearest-exact"), (1, 2, 4, 6)),
    ("Upsample", (), dict(size=(5, 7), mode="bilinear"), (1, 2, 3, 4)),
    ("Upsample", (), dict(scale_factor=1.5, mode="bilinear", align_corners=True), (2, 1, 4, 3)),
    ("Upsample", (), dict(scale_factor=0.5, mode="bilinear"), (1, 2, 6, 5)),
    ("Upsample", (), dict(scale_factor=3, mode="linear"), (2, 2, 4)),
    ("Upsample", (), dict(size=3, mode="area"), (1, 2, 7)),
    ("UpsamplingNearest2d", (), dict(scale_factor=2), (1, 2, 2, 3)),
    ("UpsamplingBilinear2d", (), dict(size=(4, 6)), (1, 2, 3, 3)),
    ("PixelShuffle", (2,), {}, (2, 8, 2, 3)),
    ("PixelShuffle", (3,), {}, (9, 2, 2)),
    ("PixelUnshuffle", (2,), {}, (1, 2, 4, 6)),
]


@requires_torch
@pytest.mark.parametrize("name,args,kwargs,shape", VISION_CONFIGS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(VISION_CONFIGS)])
def test_vision_modules_match_torch(name, args, kwargs, shape):
    import torch

    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    compare_with_torch(ours, theirs, shape)
    assert repr(ours) == repr(theirs)


@requires_torch
def test_float32_bilinear_matches_torch():
    import torch

    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7)).astype(np.float32)
    ours = F.interpolate(dg.tensor(x), size=(8, 11), mode="bilinear")
    theirs = torch.nn.functional.interpolate(torch.tensor(x), size=(8, 11), mode="bilinear")
    assert ours.dtype == dg.float32
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-5, atol=1e-6)


def test_nearest_upsampling_repeats_and_its_gradient_sums():
    x = dg.arange(6.0).reshape(1, 1, 2, 3).requires_grad_()
    y = F.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(to_numpy(y)[0, 0], np.arange(6.0).reshape(2, 3).repeat(2, 0)
                                  .repeat(2, 1))
    y.sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), 4.0)


def test_bilinear_align_corners_reproduces_a_ramp():
    ramp = dg.tensor(np.linspace(0, 1, 4).reshape(1, 1, 1, 4))
    out = to_numpy(F.interpolate(ramp, size=(1, 7), mode="bilinear", align_corners=True))
    np.testing.assert_allclose(out.ravel(), np.linspace(0, 1, 7), atol=1e-12)


def test_pixel_unshuffle_inverts_pixel_shuffle():
    x = dg.randn(2, 12, 3, 4)
    y = F.pixel_shuffle(x, 2)
    assert y.shape == (2, 3, 6, 8)
    np.testing.assert_array_equal(to_numpy(F.pixel_unshuffle(y, 2)), to_numpy(x))
    assert to_numpy(y)[0, 0, 1, 0] == to_numpy(x)[0, 2, 0, 0]  # channel c*4 + i*2 + j


def test_vision_errors():
    with pytest.raises(ValueError, match="exactly one of size or scale_factor"):
        nn.Upsample()
    with pytest.raises(ValueError, match="mode must be one of"):
        nn.Upsample(scale_factor=2, mode="cubic")
    for size in (-3, (4, 0), 2.5):
        with pytest.raises(ValueError, match=r"Upsample: size must be positive integers, got"):
            nn.Upsample(size=size)
    with pytest.raises(ValueError, match="align_corners can only be set"):
        nn.Upsample(scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="bilinear' expects a 4-d input"):
        F.interpolate(dg.zeros(1, 2, 3), scale_factor=2, mode="bilinear")
    with pytest.raises(RuntimeError, match=r"PixelShuffle '0' \(upscale_factor=2\) got input of "
                                           r"shape \(1, 6, 2, 2\): expected .*divisible"):
        nn.Sequential(nn.PixelShuffle(2))(dg.zeros(1, 6, 2, 2))
    with pytest.raises(RuntimeError, match=r"Upsample \(scale_factor=2.0, mode='nearest'\) got "
                                           r"input of shape \(4, 4\)"):
        nn.Upsample(scale_factor=2)(dg.zeros(4, 4))

"""The TensorFlow Playground generators' statistics, and the toy regression data."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.data.datasets import (
    checkerboard,
    classify_circle,
    classify_spiral,
    classify_two_gauss,
    classify_xor,
    playground_data,
    polynomial_data,
    polynomial_features,
    regress_gaussian,
    regress_plane,
    sine_data,
    train_test_split,
    two_moons,
)


def test_circle_radius_ranges_and_balance():
    x, y = classify_circle(2000, noise=0, generator=0)
    assert x.shape == (2000, 2) and x.dtype == np.float32 and y.dtype == np.float32
    r = np.hypot(x[:, 0], x[:, 1])
    assert (y == 1).sum() == (y == -1).sum() == 1000
    assert r[y == 1].max() <= 2.5 and r[y == -1].min() >= 3.5 and r.max() <= 5.0
    assert np.all(y[:1000] == 1)  # positives first, as dataset.ts
    _, noisy = classify_circle(4000, noise=50, generator=0)
    assert 0.05 < (noisy[:2000] == -1).mean() < 0.95  # noise flips labels of inner points
    _, y01 = classify_circle(10, labels="01", generator=0)
    assert y01.dtype == np.int64 and set(y01.tolist()) == {0, 1}


def test_xor_padding_and_labels():
    x, y = classify_xor(3000, noise=0, generator=1)
    assert np.abs(x).min() >= 0.3 and np.abs(x).max() <= 5.3
    assert np.array_equal(y, np.where(x[:, 0] * x[:, 1] >= 0, 1, -1))
    assert abs((y == 1).mean() - 0.5) < 0.05


def test_two_gauss_variance_follows_noise():
    for noise, var in ((0, 0.5), (50, 4.0), (20, 0.5 + 7 * 0.2)):
        x, y = classify_two_gauss(20000, noise=noise, generator=2)
        pos = x[y == 1]
        assert np.allclose(pos.mean(0), [2, 2], atol=0.06)
        assert np.allclose(pos.var(0), var, rtol=0.05)
        assert np.allclose(x[y == -1].mean(0), [-2, -2], atol=0.06)


def test_spiral_definition():
    x, y = classify_spiral(500, noise=0, generator=0)
    assert x.shape == (500, 2) and (y == 1).sum() == 250
    i = np.arange(250)
    r = i / 250 * 5
    t = 1.75 * i / 250 * 2 * np.pi
    assert np.allclose(x[:250, 0], r * np.sin(t), atol=1e-5)
    assert np.allclose(x[250:, 1], r * np.cos(t + np.pi), atol=1e-5)
    xn, _ = classify_spiral(500, noise=50, generator=0)
    assert np.abs(xn - x).max() <= 0.5 + 1e-5
    x5, _ = classify_spiral(5, generator=0)
    assert x5.shape == (6, 2)  # numSamples / 2 = 2.5 -> three points per arm, as the JS loop


def test_regression_sets():
    x, y = regress_plane(3000, noise=0, generator=0)
    assert np.abs(x).max() <= 6 and np.allclose(y, (x[:, 0] + x[:, 1]) / 10, atol=1e-6)
    x, y = regress_gaussian(3000, noise=0, generator=0)
    assert y.min() >= -1 and y.max() <= 1
    near = np.hypot(x[:, 0] + 4, x[:, 1] - 2.5) < 0.5
    assert np.all(y[near] > 0.7)
    near = np.hypot(x[:, 0], x[:, 1] - 2.5) < 0.5
    assert np.all(y[near] < -0.7)


def test_moons_and_checkerboard():
    x, y = two_moons(1000, generator=0)
    assert (y == 1).sum() == 500 and np.abs(x[:, 0]).max() <= 6.01
    assert x[y == 1, 1].mean() > x[y == -1, 1].mean()
    x, y = checkerboard(2000, generator=0, cells=2)
    quadrant = np.where((x[:, 0] < 0) == (x[:, 1] < 0), 1, -1)
    assert np.array_equal(y, quadrant)


def test_playground_split_and_seed():
    (xtr, ytr), (xte, yte) = playground_data("spiral", noise=10, perc_train=70, generator=dg.Generator().manual_seed(0))
    assert len(xtr) == 350 and len(xte) == 150
    (xtr2, _), _ = playground_data("spiral", noise=10, perc_train=70, generator=dg.Generator().manual_seed(0))
    assert np.array_equal(xtr, xtr2)
    (xr, yr), _ = playground_data("reg-gauss", generator=0)
    assert len(xr) == 600 and yr.dtype == np.float32
    with pytest.raises(ValueError, match="unknown playground dataset 'swirl'"):
        playground_data("swirl")
    with pytest.raises(ValueError, match="noise is the playground's 0-50 setting; got 60"):
        classify_circle(10, noise=60)


def test_toy_polynomial_data():
    x, y = sine_data(10, noise=0.0, even=True)
    assert x.shape == (10, 1) and np.allclose(y[:, 0], np.sin(2 * np.pi * x[:, 0]), atol=1e-6)
    x, y = polynomial_data(200, coefficients=(1.0, 2.0), noise=0.0, generator=0)
    assert np.allclose(y, 1 + 2 * x, atol=1e-5)
    phi = polynomial_features(x, 3)
    assert phi.shape == (200, 4) and np.allclose(phi[:, 0], 1) and np.allclose(phi[:, 3], x[:, 0] ** 3)
    w, *_ = np.linalg.lstsq(polynomial_features(x, 1), y, rcond=None)
    assert np.allclose(w[:, 0], [1, 2], atol=1e-4)
    a, b, c, d = train_test_split(x, y, test_size=0.25, generator=0)
    assert len(a) == 150 and len(b) == 50 and np.allclose(d, 1 + 2 * b, atol=1e-5)

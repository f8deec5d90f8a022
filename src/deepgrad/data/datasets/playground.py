"""The TensorFlow Playground's 2-D data sets, with its distributions.

A faithful, vectorized port of ``dataset.ts`` from playground.tensorflow.org:
``classifyCircleData``, ``classifyXORData``, ``classifyTwoGaussData``,
``classifySpiralData``, ``regressPlane`` and ``regressGaussian``, with the
playground's ``noise`` setting (0 to 50, divided by 100 as ``playground.ts``
does) and its train / test split (shuffle, then the first ``percTrainData``
percent for training). Two extra sets in the same coordinates (about -6..6):
:func:`two_moons` and :func:`checkerboard`.

Points are ``(n, 2)`` ``float32`` arrays of ``(x, y)``. Classification labels are
``+1 / -1`` as in the playground (``float32``) or, with ``labels="01"``,
``1 / 0`` (``int64``); regression targets are ``float32`` in ``[-1, 1]``.
"""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Callable

import numpy as np

from .._rng import numpy_generator

__all__ = [
    "classify_circle", "classify_xor", "classify_two_gauss", "classify_spiral",
    "regress_plane", "regress_gaussian", "two_moons", "checkerboard",
    "playground_data", "PLAYGROUND_DATASETS",
]

Arrays = tuple[np.ndarray, np.ndarray]


def _check(num_samples: int, noise: float, labels: str) -> float:
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int; got {num_samples!r}")
    if not 0 <= noise <= 50:
        raise ValueError(f"noise is the playground's 0-50 setting; got {noise!r}")
    if labels not in ("pm1", "01"):
        raise ValueError(f"labels must be 'pm1' (+1/-1, as the playground) or '01'; got {labels!r}")
    return float(noise) / 100.0


def _half(num_samples: int) -> int:
    """Iterations of the playground's ``for (i = 0; i < numSamples / 2; i++)``."""
    return math.ceil(num_samples / 2)


def _out(x: np.ndarray, y: np.ndarray, label: np.ndarray, labels: str) -> Arrays:
    pts = np.stack([x, y], axis=1).astype(np.float32)
    if labels == "01":
        return pts, (label > 0).astype(np.int64)
    return pts, label.astype(np.float32)


def classify_circle(num_samples: int = 500, noise: float = 0, generator: Any = None, labels: str = "pm1") -> Arrays:
    """``classifyCircleData``: half the points at radius ``U(0, 2.5)`` (label +1),
    half at ``U(3.5, 5)`` (label -1); the label is that of the point moved by
    ``U(-5, 5) * noise`` in x and y (so noise flips labels near the boundary)."""
    nz = _check(num_samples, noise, labels)
    rng = numpy_generator(generator)
    h, radius = _half(num_samples), 5.0
    r = np.concatenate([rng.uniform(0, radius * 0.5, h), rng.uniform(radius * 0.7, radius, h)])
    angle = rng.uniform(0, 2 * math.pi, 2 * h)
    x, y = r * np.sin(angle), r * np.cos(angle)
    nx, ny = rng.uniform(-radius, radius, 2 * h) * nz, rng.uniform(-radius, radius, 2 * h) * nz
    label = np.where(np.hypot(x + nx, y + ny) < radius * 0.5, 1.0, -1.0)
    return _out(x, y, label, labels)


def classify_xor(num_samples: int = 500, noise: float = 0, generator: Any = None, labels: str = "pm1") -> Arrays:
    """``classifyXORData``: ``U(-5, 5)`` pushed 0.3 away from each axis; label
    ``+1`` where ``x * y >= 0`` (of the point moved by ``U(-5, 5) * noise``)."""
    nz = _check(num_samples, noise, labels)
    rng = numpy_generator(generator)
    n, pad = num_samples, 0.3
    x = rng.uniform(-5, 5, n)
    x = x + np.where(x > 0, pad, -pad)
    y = rng.uniform(-5, 5, n)
    y = y + np.where(y > 0, pad, -pad)
    nx, ny = rng.uniform(-5, 5, n) * nz, rng.uniform(-5, 5, n) * nz
    label = np.where((x + nx) * (y + ny) >= 0, 1.0, -1.0)
    return _out(x, y, label, labels)


def classify_two_gauss(num_samples: int = 500, noise: float = 0, generator: Any = None, labels: str = "pm1") -> Arrays:
    """``classifyTwoGaussData``: Gaussians at (2, 2) (label +1) and (-2, -2) (label -1)
    with variance ``0.5 + 7 * noise / 100`` (d3 scale [0, 0.5] -> [0.5, 4])."""
    nz = _check(num_samples, noise, labels)
    rng = numpy_generator(generator)
    h = _half(num_samples)
    std = math.sqrt(0.5 + (4.0 - 0.5) * nz / 0.5)
    cx = np.concatenate([np.full(h, 2.0), np.full(h, -2.0)])
    x = cx + std * rng.standard_normal(2 * h)
    y = cx + std * rng.standard_normal(2 * h)
    label = np.concatenate([np.ones(h), -np.ones(h)])
    return _out(x, y, label, labels)


def classify_spiral(num_samples: int = 500, noise: float = 0, generator: Any = None, labels: str = "pm1") -> Arrays:
    """``classifySpiralData``: two interleaved spirals, ``r = 5 i / n``,
    ``t = 1.75 * 2 pi i / n (+ pi for label -1)``, each coordinate plus ``U(-1, 1) * noise``."""
    nz = _check(num_samples, noise, labels)
    rng = numpy_generator(generator)
    n = num_samples / 2
    i = np.arange(_half(num_samples), dtype=np.float64)
    xs, ys, ls = [], [], []
    for delta, lab in ((0.0, 1.0), (math.pi, -1.0)):
        r = i / n * 5
        t = 1.75 * i / n * 2 * math.pi + delta
        xs.append(r * np.sin(t) + rng.uniform(-1, 1, i.size) * nz)
        ys.append(r * np.cos(t) + rng.uniform(-1, 1, i.size) * nz)
        ls.append(np.full(i.size, lab))
    return _out(np.concatenate(xs), np.concatenate(ys), np.concatenate(ls), labels)


def regress_plane(num_samples: int = 1200, noise: float = 0, generator: Any = None) -> Arrays:
    """``regressPlane``: ``U(-6, 6)^2``; target ``(x + nx + y + ny) / 10`` with
    ``nx, ny = U(-6, 6) * noise``."""
    nz = _check(num_samples, noise, "pm1")
    rng = numpy_generator(generator)
    n, radius = num_samples, 6.0
    x, y = rng.uniform(-radius, radius, n), rng.uniform(-radius, radius, n)
    nx, ny = rng.uniform(-radius, radius, n) * nz, rng.uniform(-radius, radius, n) * nz
    return _out(x, y, (x + nx + y + ny) / 10.0, "pm1")


_GAUSSIANS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


def regress_gaussian(num_samples: int = 1200, noise: float = 0, generator: Any = None) -> Arrays:
    """``regressGaussian``: ``U(-6, 6)^2``; the target is, among six signed bumps
    ``sign * clamp(1 - d / 2, 0, 1)`` (``d``: distance to the bump's centre),
    the one largest in absolute value, evaluated at the point moved by
    ``U(-6, 6) * noise``."""
    nz = _check(num_samples, noise, "pm1")
    rng = numpy_generator(generator)
    n, radius = num_samples, 6.0
    x, y = rng.uniform(-radius, radius, n), rng.uniform(-radius, radius, n)
    nx, ny = rng.uniform(-radius, radius, n) * nz, rng.uniform(-radius, radius, n) * nz
    d = np.hypot((x + nx)[:, None] - _GAUSSIANS[:, 0], (y + ny)[:, None] - _GAUSSIANS[:, 1])
    values = _GAUSSIANS[:, 2] * np.clip(1.0 - d / 2.0, 0.0, 1.0)
    best = np.argmax(np.abs(values), axis=1)  # first maximum, as the playground's strict ">" scan
    return _out(x, y, values[np.arange(n), best], "pm1")


def two_moons(num_samples: int = 500, noise: float = 0, generator: Any = None, labels: str = "pm1") -> Arrays:
    """Two interleaving half circles (scikit-learn's ``make_moons``) scaled by 4 and
    centred, so x spans about -6..6: the upper moon is +1, the lower -1. ``noise``
    (0-50) adds Gaussian jitter of standard deviation ``4 * noise / 100``."""
    nz = _check(num_samples, noise, labels)
    rng = numpy_generator(generator)
    h = _half(num_samples)
    t = rng.uniform(0, math.pi, 2 * h)
    upper = np.arange(2 * h) < h
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    x = 4 * (x - 0.5) + rng.standard_normal(2 * h) * 4 * nz
    y = 4 * (y - 0.25) + rng.standard_normal(2 * h) * 4 * nz
    return _out(x, y, np.where(upper, 1.0, -1.0), labels)


def checkerboard(num_samples: int = 500, noise: float = 0, generator: Any = None, labels: str = "pm1",
                 cells: int = 4) -> Arrays:
    """Points ``U(-6, 6)^2`` on a ``cells x cells`` board: +1 on the squares whose
    row + column is even, -1 otherwise, judged (as the playground's XOR) at the
    point moved by ``U(-6, 6) * noise``."""
    nz = _check(num_samples, noise, labels)
    if cells < 1:
        raise ValueError(f"checkerboard: cells must be >= 1; got {cells!r}")
    rng = numpy_generator(generator)
    n, radius = num_samples, 6.0
    x, y = rng.uniform(-radius, radius, n), rng.uniform(-radius, radius, n)
    nx, ny = rng.uniform(-radius, radius, n) * nz, rng.uniform(-radius, radius, n) * nz
    size = 2 * radius / cells
    parity = (np.floor((x + nx + radius) / size) + np.floor((y + ny + radius) / size)) % 2
    return _out(x, y, np.where(parity == 0, 1.0, -1.0), labels)


PLAYGROUND_DATASETS: dict[str, tuple[Callable[..., Arrays], bool]] = {
    "circle": (classify_circle, True),
    "xor": (classify_xor, True),
    "gauss": (classify_two_gauss, True),
    "spiral": (classify_spiral, True),
    "moons": (two_moons, True),
    "checkerboard": (checkerboard, True),
    "reg-plane": (regress_plane, False),
    "reg-gauss": (regress_gaussian, False),
}


def playground_data(dataset: str = "circle", num_samples: int | None = None, noise: float = 0,
                    perc_train: float = 50, generator: Any = None,
                    labels: str = "pm1") -> tuple[Arrays, Arrays]:
    """Generate, shuffle and split as the playground's ``generateData``.

    Args:
        dataset: ``circle``, ``xor``, ``gauss``, ``spiral``, ``moons``, ``checkerboard``,
            ``reg-plane`` or ``reg-gauss``.
        num_samples: default 500 for classification, 1200 for regression (the playground's).
        noise: the playground's noise setting, 0 to 50.
        perc_train: the "ratio of training to test data", in percent (10-90 in the UI).
        generator: seed source (``deepgrad.Generator``, numpy generator or int).
        labels: ``"pm1"`` or ``"01"`` (classification only).

    Returns ``(x_train, y_train), (x_test, y_test)``.
    """
    if dataset not in PLAYGROUND_DATASETS:
        raise ValueError(f"unknown playground dataset {dataset!r}; choose one of {sorted(PLAYGROUND_DATASETS)}")
    if not 0 < perc_train < 100:
        raise ValueError(f"perc_train must be a percentage strictly between 0 and 100; got {perc_train!r}")
    fn, classify = PLAYGROUND_DATASETS[dataset]
    if num_samples is None:
        num_samples = 500 if classify else 1200
    rng = numpy_generator(generator)
    x, y = fn(num_samples, noise, rng, labels) if classify else fn(num_samples, noise, rng)
    perm = rng.permutation(len(x))
    x, y = x[perm], y[perm]
    split = int(math.floor(len(x) * perc_train / 100))
    return (x[:split], y[:split]), (x[split:], y[split:])

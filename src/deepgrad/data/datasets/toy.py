"""Small synthetic regression data for the under- / over-fitting demonstration,
and an array-level train / test split.

The classic demonstration (Bishop, PRML ch. 1): a few noisy samples of
``sin(2 pi x)`` on ``[0, 1]``, fitted with polynomials of increasing degree
(:func:`polynomial_features` builds the design matrix).
"""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Sequence

import numpy as np

from .._rng import numpy_generator

__all__ = ["sine_data", "polynomial_data", "polynomial_features", "train_test_split"]


def sine_data(num_samples: int = 10, noise: float = 0.3, x_range: tuple[float, float] = (0.0, 1.0),
              even: bool = False, generator: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y = sin(2 pi x) + N(0, noise^2)``, both ``(num_samples, 1)`` ``float32``.

    ``x`` is uniform on ``x_range`` (sorted), or evenly spaced with ``even=True``.
    """
    if num_samples < 1:
        raise ValueError(f"sine_data: num_samples must be >= 1; got {num_samples!r}")
    if noise < 0:
        raise ValueError(f"sine_data: noise must be >= 0; got {noise!r}")
    rng = numpy_generator(generator)
    lo, hi = x_range
    x = np.linspace(lo, hi, num_samples) if even else np.sort(rng.uniform(lo, hi, num_samples))
    y = np.sin(2 * math.pi * x) + noise * rng.standard_normal(num_samples)
    return x.astype(np.float32)[:, None], y.astype(np.float32)[:, None]


def polynomial_data(num_samples: int = 20, coefficients: Sequence[float] = (0.5, -1.0, 0.0, 2.0),
                    noise: float = 0.1, x_range: tuple[float, float] = (-1.0, 1.0),
                    generator: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``x ~ U(x_range)`` and ``y = sum_k coefficients[k] x^k + N(0, noise^2)``,
    both ``(num_samples, 1)`` ``float32`` (``coefficients`` in increasing degree)."""
    if num_samples < 1:
        raise ValueError(f"polynomial_data: num_samples must be >= 1; got {num_samples!r}")
    if noise < 0:
        raise ValueError(f"polynomial_data: noise must be >= 0; got {noise!r}")
    rng = numpy_generator(generator)
    x = rng.uniform(x_range[0], x_range[1], num_samples)
    y = np.polynomial.polynomial.polyval(x, np.asarray(coefficients, dtype=np.float64))
    y = y + noise * rng.standard_normal(num_samples)
    return x.astype(np.float32)[:, None], y.astype(np.float32)[:, None]


def polynomial_features(x: Any, degree: int, include_bias: bool = True) -> np.ndarray:
    """``[1, x, x^2, ..., x^degree]`` columns for a 1-D (or ``(n, 1)``) ``x``:
    shape ``(n, degree + 1)`` (``(n, degree)`` without the bias column)."""
    if degree < 0:
        raise ValueError(f"polynomial_features: degree must be >= 0; got {degree!r}")
    arr = np.asarray(getattr(x, "array", x))
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"polynomial_features expects x shaped (n,) or (n, 1); got {arr.shape}")
    powers = np.arange(0 if include_bias else 1, degree + 1)
    return (arr[:, None] ** powers).astype(arr.dtype if arr.dtype.kind == "f" else np.float32)


def train_test_split(*arrays: Any, test_size: float | int = 0.25, shuffle: bool = True,
                     generator: Any = None) -> list[Any]:
    """Split arrays (same first dimension) into train and test parts:
    ``x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2)``.

    ``test_size``: a fraction in ``(0, 1)`` or a count.
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"train_test_split: arrays have different lengths {[len(a) for a in arrays]}")
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: a fractional test_size must be in (0, 1); got {test_size}")
        n_test = int(math.ceil(n * test_size))
    else:
        n_test = int(test_size)
        if not 0 <= n_test <= n:
            raise ValueError(f"train_test_split: test_size {test_size} is not in [0, {n}]")
    order = numpy_generator(generator).permutation(n) if shuffle else np.arange(n)
    test_idx, train_idx = order[:n_test], order[n_test:]
    out: list[Any] = []
    for a in arrays:
        arr = np.asarray(getattr(a, "array", a))
        out += [arr[train_idx], arr[test_idx]]
    return out

"""Keras's utilities: ``to_categorical``, ``normalize``, ``set_random_seed``."""

from __future__ import annotations

from typing import Any

import numpy


def to_categorical(x: Any, num_classes: int | None = None) -> numpy.ndarray:
    """Integer labels (any shape) -> one-hot float32 rows: shape (*x.shape, num_classes)."""
    labels = numpy.asarray(x, dtype=numpy.int64)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), got values from "
                         f"{labels.min()} to {labels.max()}")
    return numpy.eye(num_classes, dtype=numpy.float32)[labels]


def normalize(x: Any, axis: int = -1, order: int = 2) -> numpy.ndarray:
    """``x`` divided by its ``order``-norm along ``axis`` (zeros stay zeros)."""
    x = numpy.asarray(x)
    norm = numpy.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / numpy.where(norm == 0, 1, norm)


def set_random_seed(seed: int) -> None:
    """Seed deepgrad's global generator (initializers, dropout, shuffling) and NumPy's and
    Python's global generators, as Keras's ``set_random_seed``."""
    import random

    from deepgrad.random import manual_seed

    manual_seed(int(seed))
    numpy.random.seed(int(seed) % 2**32)
    random.seed(int(seed))


__all__ = ["to_categorical", "normalize", "set_random_seed"]

"""Keras-style loader for Kuzushiji-MNIST."""

from __future__ import annotations

import os

from deepgrad.data.datasets import KMNIST

from ._common import Split, load_idx_dataset

__all__ = ["load_data"]


def load_data(root: str | os.PathLike[str] | None = None, download: bool = True) -> tuple[Split, Split]:
    """Load Kuzushiji-MNIST as Keras does.

    Returns ``(x_train, y_train), (x_test, y_test)``: images ``(N, 28, 28)`` ``uint8``
    (HW) and labels ``(N,)`` ``uint8`` (60000 training and 10000 test samples).
    Files are read from ``<root>/kmnist`` (see :class:`deepgrad.data.datasets.KMNIST`).
    """
    return load_idx_dataset(KMNIST, root, download)

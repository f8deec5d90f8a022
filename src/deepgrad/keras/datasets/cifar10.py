"""Keras-style loader for CIFAR-10."""

from __future__ import annotations

import os

import numpy as np

from deepgrad.data.datasets import CIFAR10

from ._common import Split

__all__ = ["load_data"]


def load_data(root: str | os.PathLike[str] | None = None, download: bool = True) -> tuple[Split, Split]:
    """Load CIFAR-10 as Keras does (channels last).

    Returns ``(x_train, y_train), (x_test, y_test)``: images ``(N, 32, 32, 3)``
    ``uint8`` (HWC) and labels ``(N, 1)`` ``uint8`` (50000 training, 10000 test).
    """
    out = []
    for train in (True, False):
        ds = CIFAR10(root=root, train=train, download=download)
        out.append((ds.data, ds.targets.astype(np.uint8).reshape(-1, 1)))
    return out[0], out[1]

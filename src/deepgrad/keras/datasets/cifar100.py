"""Keras-style loader for CIFAR-100."""

from __future__ import annotations

import os

import numpy as np

from deepgrad.data.datasets import CIFAR100

from ._common import Split

__all__ = ["load_data"]


def load_data(label_mode: str = "fine", root: str | os.PathLike[str] | None = None,
              download: bool = True) -> tuple[Split, Split]:
    """Load CIFAR-100 as Keras does (channels last).

    ``label_mode``: ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).
    Returns ``(x_train, y_train), (x_test, y_test)``: images ``(N, 32, 32, 3)``
    ``uint8`` (HWC) and labels ``(N, 1)`` ``uint8``.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"`label_mode` must be one of `'fine'`, `'coarse'`; got {label_mode!r}")
    out = []
    for train in (True, False):
        ds = CIFAR100(root=root, train=train, download=download, label_mode=label_mode)
        out.append((ds.data, ds.targets.astype(np.uint8).reshape(-1, 1)))
    return out[0], out[1]

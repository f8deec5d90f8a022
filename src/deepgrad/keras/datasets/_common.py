"""Shared code of the Keras-style loaders."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

Split = tuple[np.ndarray, np.ndarray]


def load_idx_dataset(cls: Any, root: str | os.PathLike[str] | None, download: bool) -> tuple[Split, Split]:
    """``(x_train, y_train), (x_test, y_test)``: ``(N, 28, 28)`` and ``(N,)`` ``uint8`` copies."""
    out = []
    for train in (True, False):
        ds = cls(root=root, train=train, download=download)
        out.append((np.array(ds.data, dtype=np.uint8), ds.targets.astype(np.uint8)))
    return out[0], out[1]

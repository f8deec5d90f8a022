"""Test helpers: turning outputs of either framework into NumPy arrays."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

import deepgrad as dg

HAVE_TORCH = importlib.util.find_spec("torch") is not None
requires_torch = pytest.mark.skipif(
    not HAVE_TORCH,
    reason="PyTorch is not installed, so this cross-check is skipped "
    "(install it with: .venv/bin/pip install torch==2.13.0)",
)


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy array from a deepgrad tensor, a torch tensor or a number."""
    if isinstance(x, dg.Tensor):
        return np.asarray(x.detach().array)
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def flatten_outputs(out: Any) -> list:
    """Outputs as a flat list (tuples and named tuples such as (values, indices) opened up)."""
    if isinstance(out, (tuple, list)):
        result = []
        for o in out:
            result.extend(flatten_outputs(o))
        return result
    return [out]

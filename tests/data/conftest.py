"""Fixtures for the deepgrad.data tests: the shared real datasets (skipped when
absent) and small dataset files written on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_testutils import SHARED, make_mnist


@pytest.fixture(autouse=True)
def _isolated_data_root(tmp_path, monkeypatch):
    """Never let a test read or write the user's ~/.cache/deepgrad."""
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path / "default-root"))


@pytest.fixture
def shared_mnist() -> Path:
    d = SHARED / "mnist"
    if not (d / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST files not found in {d} (the shared data folder beside the repository)")
    return SHARED


@pytest.fixture
def shared_shakespeare() -> Path:
    if not (SHARED / "tinyshakespeare" / "input.txt").is_file():
        pytest.skip(f"Tiny Shakespeare not found in {SHARED / 'tinyshakespeare'}")
    return SHARED


@pytest.fixture
def mnist_root(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "data"
    return root, make_mnist(root)

"""Shared test set-up: float64 by default for gradient checks is NOT set globally;
each test chooses. Reports whether the PyTorch cross-checks will run."""

from __future__ import annotations

import importlib.util

TORCH_MISSING = (
    "PyTorch is not installed, so the cross-checks against it are skipped "
    "(install it with: .venv/bin/pip install torch==2.13.0)"
)


def pytest_report_header(config):
    if importlib.util.find_spec("torch") is None:
        return f"deepgrad: {TORCH_MISSING}"
    import torch

    return f"deepgrad: cross-checking against PyTorch {torch.__version__}"

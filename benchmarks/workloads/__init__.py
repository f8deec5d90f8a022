"""The five training-step workloads of ``benchmarks/bench.py`` (issue 8, section 1).

Each module defines one model three times over -- for deepgrad and PyTorch
(the same code: deepgrad keeps PyTorch's names) and for JAX (a pure function
of a parameter dict) -- plus its data, its optimizer and its analytic FLOP
count. All three frameworks start from the same parameters (``_common.init``,
in PyTorch's layouts), so their first losses agree and the same model is
being timed.
"""

from importlib import import_module
from types import ModuleType

NAMES = ["mlp", "lenet", "convae", "charlstm", "tiny"]


def load(name: str) -> ModuleType:
    """The workload module ``name`` (one of ``NAMES``)."""
    if name not in NAMES:
        raise ValueError(f"unknown workload {name!r}; choose from {NAMES}")
    return import_module(f"workloads.{name}")

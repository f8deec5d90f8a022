"""The differentiable ops, one family per module; importing them attaches Tensor methods.

To add an op family, create a module here with its Functions, its public
functions (``__all__``) and its declared test cases, and list it below.
"""

from __future__ import annotations

from importlib import import_module

MODULES = (
    "arithmetic", "conversion", "unary", "select", "compare", "softmax", "reduction", "extrema",
    "shape", "join", "indexing", "scatter", "sort", "matmul",
)

__all__: list[str] = []
for _name in MODULES:
    _module = import_module(f"deepgrad.ops.{_name}")
    for _public in getattr(_module, "__all__", ()):
        globals()[_public] = getattr(_module, _public)
        __all__.append(_public)

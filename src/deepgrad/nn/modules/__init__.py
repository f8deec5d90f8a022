"""The layers as modules: ``Module``, the containers, and every layer family.

Each family is a module with an ``__all__``; every public name is re-exported
here (and from ``deepgrad.nn``). Families added later (a new public module in
this package, e.g. the recurrent layers) are picked up by name.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module

FAMILIES = ("module", "container", "linear", "flatten", "activation", "dropout", "sparse", "loss",
            "conv", "pooling", "normalization", "vision")

__all__: list[str] = []


def _export(name: str) -> None:
    module = import_module(f"{__name__}.{name}")
    for public in getattr(module, "__all__", ()):
        globals()[public] = getattr(module, public)
        if public not in __all__:
            __all__.append(public)


for _name in FAMILIES:
    _export(_name)
for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name not in FAMILIES:
        _export(_info.name)

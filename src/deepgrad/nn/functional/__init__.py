"""``deepgrad.nn.functional``: the layers as functions (``torch.nn.functional``).

Activations, dropout, linear, embedding and losses; convolution, pooling,
normalization and vision ops; and ``softmax``, ``log_softmax``, ``sigmoid``,
``tanh`` and ``one_hot``, which are the ``deepgrad`` ops themselves. Importing
this package also declares the test cases of its ops (``tests/test_ops.py``
runs them).

Each family is a module with an ``__all__``; every public name is re-exported
here. Families added later (a new public module in this package) are picked
up by name. Some functions share their module's name (``dropout``, ``linear``,
``embedding``): here the name is the function, as in PyTorch.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module

from deepgrad.ops.softmax import log_softmax, softmax
from deepgrad.ops.unary import sigmoid, tanh

FAMILIES = ("activation", "dropout", "embedding", "linear", "loss",
            "conv", "pooling", "normalization", "vision")

__all__: list[str] = ["softmax", "log_softmax", "sigmoid", "tanh"]


def _export(name: str) -> None:
    module = import_module(f"{__name__}.{name}")
    for public in getattr(module, "__all__", ()):
        globals()[public] = getattr(module, public)
        if public not in __all__:
            __all__.append(public)


for _name in FAMILIES:
    _export(_name)
for _info in pkgutil.iter_modules(__path__):  # families written elsewhere (e.g. recurrent)
    if not _info.name.startswith("_") and _info.name not in FAMILIES:
        _export(_info.name)

from deepgrad.ops.indexing import one_hot  # noqa: E402,F401 - the indexing op itself

__all__.append("one_hot")

"""``deepgrad.nn``: modules, layers, losses and initializers with PyTorch's names.

    from deepgrad import nn
    import deepgrad.nn.functional as F

    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""

from __future__ import annotations

from importlib import import_module, util

from deepgrad.nn.parameter import Parameter
from deepgrad.nn import functional, init
from deepgrad.nn import modules
from deepgrad.nn.modules import *  # noqa: F401,F403 - every layer as nn.<Name>

__all__ = ["Parameter", "functional", "init", "modules"] + list(modules.__all__)

if util.find_spec("deepgrad.nn.utils") is not None:  # clip_grad_norm_ and friends
    utils = import_module("deepgrad.nn.utils")
    __all__.append("utils")

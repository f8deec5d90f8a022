"""Optimizers, learning-rate schedules and weight averaging, with PyTorch's names and numbers.

    optimizer = deepgrad.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = deepgrad.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    scheduler.step()

Every optimizer updates the parameter arrays in place, outside autograd, and
keeps its state (``exp_avg`` ...) in PyTorch's ``state_dict`` format.
"""

from deepgrad.optim.optimizer import Optimizer
from deepgrad.optim.sgd import SGD
from deepgrad.optim.adagrad import Adagrad
from deepgrad.optim.rmsprop import RMSprop
from deepgrad.optim.adadelta import Adadelta
from deepgrad.optim.adam import Adam, AdamW
from deepgrad.optim.adamax import Adamax
from deepgrad.optim.nadam import NAdam
from deepgrad.optim.radam import RAdam
from deepgrad.optim.lion import Lion
from deepgrad.optim.lamb import LAMB
from deepgrad.optim import lr_scheduler

__all__ = [
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam",
    "RAdam", "Lion", "LAMB", "lr_scheduler", "swa_utils",
]


def __getattr__(name: str):
    # swa_utils needs deepgrad.nn.Module; imported on first use, so optim never depends on nn's import order.
    if name == "swa_utils":
        import importlib

        return importlib.import_module("deepgrad.optim.swa_utils")
    raise AttributeError(f"module 'deepgrad.optim' has no attribute {name!r}")

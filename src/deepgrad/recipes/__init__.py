"""Recipes: complete, small training programs that ``deepgrad train NAME`` runs.

Each recipe is one short module in this package, written with the public API
only (``deepgrad.keras``, ``deepgrad.data``). It defines:

* ``DESCRIPTION``: one line for ``deepgrad recipes``;
* ``DEFAULTS``: ``epochs``, ``batch_size``, ``lr`` and ``optimizer`` (the
  command's options override them);
* ``TARGET``: ``(metric, minimum)`` the full run must reach, or ``None``;
* ``load_data(cfg) -> Data``: the training and test arrays;
* ``build_model(cfg)``: the Keras model (Sequential or functional);
* ``plot_samples(predict, data, path)``: sample predictions as a PNG;
* ``LOSS`` and ``METRICS``: what ``model.compile`` gets;
* optionally ``DATASET`` (the data set read from the data root; absent when
  the data is generated) and ``learning_rate(cfg, steps_per_epoch)`` (a
  ``keras.optimizers.schedules`` schedule instead of the constant ``lr``).

:func:`train` runs a recipe into a run directory (see :mod:`deepgrad.runs`)
and :func:`evaluate` reloads one. ``python -m deepgrad.recipes.report`` runs
them all and writes ``docs/RESULTS.md``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from deepgrad.recipes.base import Config, Data, load_mnist

__all__ = ["RECIPES", "DEFAULT_RECIPE", "Config", "Data", "load_mnist", "get_recipe", "list_recipes", "train", "evaluate"]

# name -> module in this package, in the order ``deepgrad recipes`` lists them.
RECIPES: dict[str, str] = {
    "xor": "xor",
    "spiral": "spiral",
    "mnist-mlp": "mnist_mlp",
    "lenet5": "lenet5",
    "conv-autoencoder": "conv_autoencoder",
}
DEFAULT_RECIPE = "spiral"


def get_recipe(name: str) -> ModuleType:
    """The recipe module called ``name`` (``deepgrad recipes`` lists the names)."""
    module = RECIPES.get(name)
    if module is None:
        raise ValueError(f"unknown recipe {name!r}; the recipes are: {', '.join(RECIPES)} "
                         "(deepgrad recipes describes them)")
    return importlib.import_module(f"deepgrad.recipes.{module}")


def list_recipes() -> list[tuple[str, str]]:
    """``(name, description)`` of every recipe."""
    return [(name, get_recipe(name).DESCRIPTION) for name in RECIPES]


from deepgrad.recipes._driver import evaluate, train  # noqa: E402  (needs get_recipe)

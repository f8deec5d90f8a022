"""What every recipe shares: its settings (:class:`Config`), its data (:class:`Data`)
and the MNIST loader the image recipes use."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Config", "Data", "load_mnist"]


@dataclass
class Config:
    """The settings of one run; ``deepgrad train``'s options override the recipe's defaults.

    Attributes:
        recipe: the recipe's name (``deepgrad recipes`` lists them).
        epochs: passes over the training data.
        batch_size: samples per gradient step.
        lr: the optimizer's learning rate.
        optimizer: a Keras optimizer's name: ``adam``, ``sgd``, ``rmsprop``, ``adadelta``,
            ``adagrad``, ``adamw``, ``nadam``, ``adamax``, ``lion``.
        seed: seeds the weights' initialization, dropout and the shuffling
            (``keras.utils.set_random_seed``).
        data: the data root (``<data>/mnist/...``); ``None`` means ``$DEEPGRAD_DATA``
            or ``~/.cache/deepgrad``. Generated data sets ignore it.
        limit: use only the first ``limit`` training and test samples (quick checks).
    """

    recipe: str
    epochs: int
    batch_size: int
    lr: float
    optimizer: str
    seed: int = 0
    data: str | None = None
    limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


class Data(NamedTuple):
    """Training and test arrays, ready for the model (float32 inputs)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _limit(x: np.ndarray, limit: int | None) -> np.ndarray:
    return x if limit is None else x[:limit]


def load_mnist(cfg: Config) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as ``(x_train, y_train), (x_test, y_test)``: images ``(N, 28, 28, 1)`` float32
    in ``[0, 1]`` (channels last, as Keras), labels int64; the first ``cfg.limit`` samples
    of each when set."""
    from deepgrad.keras.datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load_data(cfg.data)

    def images(x: np.ndarray) -> np.ndarray:
        return (_limit(x, cfg.limit).astype(np.float32) / 255.0)[..., None]

    def labels(y: np.ndarray) -> np.ndarray:
        return _limit(y, cfg.limit).astype(np.int64)

    return (images(x_train), labels(y_train)), (images(x_test), labels(y_test))

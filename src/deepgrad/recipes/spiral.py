"""spiral: the TensorFlow Playground's two interleaved spirals, learned by an MLP.

The playground's ``classifySpiralData`` (1000 points, noise 10, half for
training and half for testing) is generated on the spot: no download. Each
class is a spiral arm turning 1.75 times around the origin; no straight line,
and no single bend, separates them, so the MLP needs its two hidden layers of
64 ReLU units. The sigmoid output is the probability of class 1.
"""

from __future__ import annotations

import numpy as np

from deepgrad import keras
from deepgrad.data.datasets import playground_data
from deepgrad.keras import layers
from deepgrad.recipes.base import Config, Data
from deepgrad.runs import plot_decision_boundary

DESCRIPTION = "the playground's spiral (generated), 2-64-64-1 ReLU MLP: >= 97% test accuracy in seconds"
DEFAULTS = dict(epochs=100, batch_size=32, lr=0.01, optimizer="adam")
TARGET = ("test_accuracy", 0.97)
LOSS = "binary_crossentropy"
METRICS = ["accuracy"]
SCALE = 6.0  # the playground's points span about -6..6; the model sees them in -1..1


def load_data(cfg: Config) -> Data:
    (x_train, y_train), (x_test, y_test) = playground_data(
        "spiral", num_samples=1000, noise=10, perc_train=50, generator=cfg.seed, labels="01")
    n = cfg.limit
    return Data(x_train[:n] / SCALE, y_train[:n, None].astype(np.float32),
                x_test[:n] / SCALE, y_test[:n, None].astype(np.float32))


def build_model(cfg: Config) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(2,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ], name="spiral_mlp")


def plot_samples(predict, data: Data, path) -> None:
    """The decision boundary over the plane, with the test points."""
    plot_decision_boundary(lambda points: predict(points)[:, 0], data.x_test, data.y_test[:, 0], path,
                           title="spiral: P(class 1) and the test points")

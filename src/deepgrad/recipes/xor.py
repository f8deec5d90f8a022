"""xor: the function a single perceptron can't learn, and one hidden layer can.

The four corners of the unit square, labelled with XOR: no straight line
separates the two classes, so the model needs a hidden layer (here 8 tanh
units) to bend the plane first. Training and testing use the same four
points: there is nothing else to learn from.
"""

from __future__ import annotations

import numpy as np

from deepgrad import keras
from deepgrad.keras import layers
from deepgrad.recipes.base import Config, Data
from deepgrad.runs import plot_decision_boundary

DESCRIPTION = "an MLP (2-8-1, tanh) learns XOR on the four corners: 100% accuracy"
DEFAULTS = dict(epochs=200, batch_size=4, lr=0.05, optimizer="adam")
TARGET = ("test_accuracy", 1.0)
LOSS = "binary_crossentropy"
METRICS = ["accuracy"]

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def load_data(cfg: Config) -> Data:
    return Data(X, Y, X, Y)


def build_model(cfg: Config) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(2,)),
        layers.Dense(8, activation="tanh"),
        layers.Dense(1, activation="sigmoid"),
    ], name="xor_mlp")


def plot_samples(predict, data: Data, path) -> None:
    """The decision boundary over the square, with the four corners."""
    plot_decision_boundary(lambda points: predict(points)[:, 0], data.x_test, data.y_test[:, 0], path,
                           title="XOR: P(class 1) and the four corners")

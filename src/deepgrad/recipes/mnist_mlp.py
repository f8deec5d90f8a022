"""mnist-mlp: the lecture's one-hidden-layer MLP on MNIST, trained the modern way.

The lecture's network is 784 inputs, one hidden layer and 10 softmax outputs
(91.5% on its slide, with sigmoid units and plain SGD). The same shape with
512 ReLU units, dropout and Adam passes 98%: the architecture was never the
limit. Images are flattened to 784 pixels in [0, 1].
"""

from __future__ import annotations

import numpy as np

from deepgrad import keras
from deepgrad.keras import layers
from deepgrad.recipes.base import Config, Data, load_mnist
from deepgrad.runs import plot_image_predictions

DESCRIPTION = "the lecture's one-hidden-layer MLP (784-512-10, ReLU, dropout) on MNIST: >= 98% test accuracy"
DATASET = "mnist"  # read from --data DIR (DIR/mnist), $DEEPGRAD_DATA or ~/.cache/deepgrad
DEFAULTS = dict(epochs=10, batch_size=128, lr=1e-3, optimizer="adam")
TARGET = ("test_accuracy", 0.98)
LOSS = "sparse_categorical_crossentropy"
METRICS = ["accuracy"]


def load_data(cfg: Config) -> Data:
    (x_train, y_train), (x_test, y_test) = load_mnist(cfg)
    return Data(x_train.reshape(-1, 784), y_train, x_test.reshape(-1, 784), y_test)


def build_model(cfg: Config) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(784,)),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ], name="mnist_mlp")


def plot_samples(predict, data: Data, path) -> None:
    """The first 16 test digits and the first 8 mistakes, with the predicted labels."""
    show_predictions(predict, data.x_test, data.y_test, path)


def show_predictions(predict, x, y, path, first: int = 16, mistakes: int = 8) -> None:
    """Shared with lenet5: a grid of test digits titled with the model's predictions."""
    predicted = predict(x).argmax(1)
    wrong = np.flatnonzero(predicted != y)
    pick = np.concatenate([np.arange(min(first, len(x))), wrong[wrong >= first][:mistakes]])
    plot_image_predictions(x[pick].reshape(-1, 28, 28), y[pick], predicted[pick], path,
                           title=f"first {first} test digits, then mistakes (true label in brackets)")

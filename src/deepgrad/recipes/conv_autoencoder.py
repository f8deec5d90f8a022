"""conv-autoencoder: the lecture's convolutional autoencoder on MNIST.

The encoder squeezes each 28x28 digit through three conv + pool stages into
4x4x8 = 128 numbers; the decoder mirrors it with upsampling back to 28x28.
The target is the input itself, and the loss is the binary cross-entropy
between the input's pixels (in [0, 1]) and the sigmoid outputs. The model is
the lecture's program, layer for layer, with Keras's functional API. The
lecture trains 50 epochs with ``optimizer='adadelta'``; in Keras 3 that
means a learning rate of 0.001, with which Adadelta barely moves, so the
recipe uses Adadelta's original rate of 1.0 (Keras 2's default, as when the
lecture was written) and fewer epochs.
"""

from __future__ import annotations

from deepgrad import keras
from deepgrad.keras.layers import Conv2D, Input, MaxPooling2D, UpSampling2D
from deepgrad.recipes.base import Config, Data, load_mnist
from deepgrad.runs import plot_reconstructions

DESCRIPTION = "the lecture's conv autoencoder on MNIST: validation binary cross-entropy and reconstructions"
DATASET = "mnist"  # read from --data DIR (DIR/mnist), $DEEPGRAD_DATA or ~/.cache/deepgrad
DEFAULTS = dict(epochs=5, batch_size=128, lr=1.0, optimizer="adadelta")
TARGET = None  # no threshold: the loss and the reconstructions are the result
LOSS = "binary_crossentropy"
METRICS: list[str] = []


def load_data(cfg: Config) -> Data:
    (x_train, _), (x_test, _) = load_mnist(cfg)  # (N, 28, 28, 1) in [0, 1]; labels unused
    return Data(x_train, x_train, x_test, x_test)


def build_model(cfg: Config) -> keras.Model:
    input_img = Input(shape=(28, 28, 1))
    x = Conv2D(16, (3, 3), activation="relu", padding="same")(input_img)
    x = MaxPooling2D((2, 2), padding="same")(x)
    x = Conv2D(8, (3, 3), activation="relu", padding="same")(x)
    x = MaxPooling2D((2, 2), padding="same")(x)
    x = Conv2D(8, (3, 3), activation="relu", padding="same")(x)
    encoded = MaxPooling2D((2, 2), padding="same")(x)  # (4, 4, 8): 128 numbers per digit

    x = Conv2D(8, (3, 3), activation="relu", padding="same")(encoded)
    x = UpSampling2D((2, 2))(x)
    x = Conv2D(8, (3, 3), activation="relu", padding="same")(x)
    x = UpSampling2D((2, 2))(x)
    x = Conv2D(16, (3, 3), activation="relu")(x)
    x = UpSampling2D((2, 2))(x)
    decoded = Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    return keras.Model(input_img, decoded, name="conv_autoencoder")


def plot_samples(predict, data: Data, path) -> None:
    """Ten test digits (top) and their reconstructions (bottom)."""
    originals = data.x_test[:10]
    plot_reconstructions(originals, predict(originals), path,
                         title="conv autoencoder: test digits and their reconstructions")

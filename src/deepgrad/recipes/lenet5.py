"""lenet5: LeCun's LeNet-5 on MNIST (1998; the slide says about 1% error).

Two convolution + pooling stages learn local features (strokes, then their
combinations), and three dense layers classify them: conv 5x5 (6 maps, padded
to keep 28x28) -> pool -> conv 5x5 (16 maps) -> pool -> 120 -> 84 -> 10. As
usual today, ReLU and max pooling replace the original's scaled tanh and
trainable subsampling. To reach 99% in 3 epochs, the pixels are standardized
(MNIST's mean 0.1307 and standard deviation 0.3081) and the learning rate
follows one cycle: a warmup from lr/25 to lr over the first 30% of the steps,
then a cosine decay to zero.
"""

from __future__ import annotations

from deepgrad import keras
from deepgrad.keras import layers
from deepgrad.recipes.base import Config, Data, load_mnist
from deepgrad.recipes.mnist_mlp import show_predictions

DESCRIPTION = "LeNet-5 (2 conv + 3 dense layers) on MNIST: >= 99.0% test accuracy in 3 epochs"
DATASET = "mnist"  # read from --data DIR (DIR/mnist), $DEEPGRAD_DATA or ~/.cache/deepgrad
DEFAULTS = dict(epochs=3, batch_size=64, lr=5e-3, optimizer="adam")
TARGET = ("test_accuracy", 0.99)
LOSS = "sparse_categorical_crossentropy"
METRICS = ["accuracy"]
MEAN, STD = 0.1307, 0.3081


def load_data(cfg: Config) -> Data:
    (x_train, y_train), (x_test, y_test) = load_mnist(cfg)  # (N, 28, 28, 1) in [0, 1]
    return Data((x_train - MEAN) / STD, y_train, (x_test - MEAN) / STD, y_test)


def build_model(cfg: Config) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(6, 5, padding="same", activation="relu"),   # 28 x 28 x 6
        layers.MaxPooling2D(2),                                     # 14 x 14 x 6
        layers.Conv2D(16, 5, activation="relu"),                    # 10 x 10 x 16
        layers.MaxPooling2D(2),                                     # 5 x 5 x 16
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="lenet5")


def learning_rate(cfg: Config, steps_per_epoch: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """One cycle: linear warmup to ``cfg.lr`` over 30% of the steps, then cosine decay to 0."""
    total = cfg.epochs * steps_per_epoch
    warmup = int(0.3 * total)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.lr / 25, decay_steps=total - warmup,
        warmup_target=cfg.lr, warmup_steps=warmup)


def plot_samples(predict, data: Data, path) -> None:
    """The first 16 test digits and the first 8 mistakes, with the predicted labels."""
    show_predictions(predict, data.x_test * STD + MEAN, data.y_test, path)

"""``deepgrad.keras``: the Keras 3 API (layers, models, training loop, callbacks) on deepgrad.

    from deepgrad.keras.layers import Input, Conv2D, MaxPooling2D, UpSampling2D
    from deepgrad.keras.models import Model
    from deepgrad.keras.datasets import mnist

    inputs = Input(shape=(28, 28, 1))
    ...
    model = Model(inputs, outputs)
    model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    model.fit(x_train, y_train, epochs=5, batch_size=128, validation_split=0.1)

Layers are channels_last, build lazily, use Keras's initializers and names;
weights are deepgrad tensors (a model is an ``nn.Module``); models save to
``.keras`` files holding JSON and safetensors. Submodules: layers, models,
callbacks, optimizers, losses, metrics, activations, initializers,
regularizers, constraints, saving, backend, utils, datasets.
"""

from . import datasets
from deepgrad.keras import (
    activations, backend, callbacks, constraints, initializers, layers, losses, metrics, models,
    optimizers, regularizers, saving, utils,
)
from deepgrad.keras.layers import Input, InputLayer, KerasTensor, Layer
from deepgrad.keras.models import Functional, Model, Sequential
from deepgrad.keras.models.trainer import TrainingInterrupted
from deepgrad.keras.saving import load_model, register_keras_serializable
from deepgrad.keras.utils import set_random_seed, to_categorical

__all__ = ["datasets", "activations", "backend", "callbacks", "constraints", "initializers",
           "layers", "losses", "metrics", "models", "optimizers", "regularizers", "saving", "utils",
           "Input", "InputLayer", "KerasTensor", "Layer", "Model", "Sequential", "Functional",
           "TrainingInterrupted", "load_model", "register_keras_serializable", "set_random_seed",
           "to_categorical"]

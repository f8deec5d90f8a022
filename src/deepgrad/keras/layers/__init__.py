"""``deepgrad.keras.layers``: Keras 3's layers on deepgrad (channels_last by default).

    from deepgrad.keras.layers import Input, Conv2D, MaxPooling2D, Dense
"""

from deepgrad.keras.layers.base import KerasTensor, Layer
from deepgrad.keras.layers.input_layer import Input, InputLayer
from deepgrad.keras.layers.core import (
    Activation, Add, Average, Concatenate, Dense, Dropout, Embedding, Flatten, Lambda, LeakyReLU,
    Maximum, Minimum, Multiply, Permute, ReLU, RepeatVector, Reshape, Softmax, Subtract, add,
    concatenate,
)
from deepgrad.keras.layers.conv import (
    Conv1D, Conv2D, Conv2DTranspose, Convolution1D, Convolution2D, Convolution2DTranspose,
)
from deepgrad.keras.layers.pooling import (
    AveragePooling1D, AveragePooling2D, AvgPool1D, AvgPool2D, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D, GlobalMaxPooling1D,
    GlobalMaxPooling2D, MaxPool1D, MaxPool2D, MaxPooling1D, MaxPooling2D, UpSampling1D,
    UpSampling2D, ZeroPadding2D,
)
from deepgrad.keras.layers.normalization import BatchNormalization, LayerNormalization
from deepgrad.keras.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from deepgrad.keras.layers.attention import MultiHeadAttention

__all__ = [
    "Input", "InputLayer", "KerasTensor", "Layer",
    "Dense", "Activation", "ReLU", "LeakyReLU", "Softmax", "Flatten", "Reshape", "Permute",
    "RepeatVector", "Dropout", "Embedding", "Lambda",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "add",
    "concatenate",
    "Conv1D", "Conv2D", "Conv2DTranspose", "Convolution1D", "Convolution2D", "Convolution2DTranspose",
    "MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
    "UpSampling2D", "UpSampling1D", "ZeroPadding2D", "MaxPool2D", "AvgPool2D", "MaxPool1D",
    "AvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool2D",
    "BatchNormalization", "LayerNormalization",
    "SimpleRNN", "LSTM", "GRU", "Bidirectional", "MultiHeadAttention",
]

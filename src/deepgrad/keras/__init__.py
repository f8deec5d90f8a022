"""Keras-style helpers for deepgrad (``deepgrad.keras.datasets.mnist.load_data()`` ...)."""

from . import datasets

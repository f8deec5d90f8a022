"""Keras-style dataset loaders: ``load_data()`` returns
``(x_train, y_train), (x_test, y_test)`` NumPy arrays shaped as Keras's.

Files come from deepgrad's data root (``root`` argument, ``$DEEPGRAD_DATA`` or
``~/.cache/deepgrad``; see :mod:`deepgrad.data.datasets` for the layout) and are
downloaded when missing, as Keras does.
"""

from . import cifar10, cifar100, fashion_mnist, kmnist, mnist

__all__ = ["mnist", "fashion_mnist", "kmnist", "cifar10", "cifar100"]

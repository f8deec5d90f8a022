"""Datasets: MNIST-family, CIFAR, text (char-level and word2vec), the
TensorFlow Playground generators and toy regression data.

File datasets take ``root`` (default ``$DEEPGRAD_DATA``, else
``~/.cache/deepgrad``) and ``download``; each reads its own sub-directory:

==================  ===================================================================
dataset             files under the data root
==================  ===================================================================
MNIST               ``mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``
FashionMNIST        ``fashion-mnist/`` (same four names)
KMNIST              ``kmnist/`` (same four names)
CIFAR10             ``cifar-10-batches-py/`` or ``cifar-10-python.tar.gz``
CIFAR100            ``cifar-100-python/`` or ``cifar-100-python.tar.gz``
TinyShakespeare     ``tinyshakespeare/input.txt``
==================  ===================================================================
"""

from ._download import CorruptFileError, DatasetNotFoundError, data_root, file_digest
from .cifar import CIFAR10, CIFAR100, RestrictedUnpickler, restricted_loads
from .mnist import KMNIST, MNIST, FashionMNIST, read_idx, write_idx
from .playground import (
    PLAYGROUND_DATASETS,
    checkerboard,
    classify_circle,
    classify_spiral,
    classify_two_gauss,
    classify_xor,
    playground_data,
    regress_gaussian,
    regress_plane,
    two_moons,
)
from .text import CharCorpus, CharVocab, SequenceDataset, TinyShakespeare
from .toy import polynomial_data, polynomial_features, sine_data, train_test_split
from .words import NegativeSampler, Vocab, cbow_pairs, skipgram_pairs, subsample, tokenize

__all__ = [
    "CorruptFileError", "DatasetNotFoundError", "data_root", "file_digest",
    "MNIST", "FashionMNIST", "KMNIST", "read_idx", "write_idx",
    "CIFAR10", "CIFAR100", "RestrictedUnpickler", "restricted_loads",
    "CharVocab", "CharCorpus", "SequenceDataset", "TinyShakespeare",
    "tokenize", "Vocab", "subsample", "skipgram_pairs", "cbow_pairs", "NegativeSampler",
    "classify_circle", "classify_xor", "classify_two_gauss", "classify_spiral",
    "regress_plane", "regress_gaussian", "two_moons", "checkerboard",
    "playground_data", "PLAYGROUND_DATASETS",
    "sine_data", "polynomial_data", "polynomial_features", "train_test_split",
]

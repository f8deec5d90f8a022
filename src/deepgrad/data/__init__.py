"""``deepgrad.data``: datasets, samplers, loaders, splits and augmentation.

PyTorch's ``torch.utils.data`` semantics with batches as deepgrad tensors::

    from deepgrad.data import DataLoader, random_split
    from deepgrad.data.datasets import MNIST
    from deepgrad.data import transforms as T

    train = MNIST(train=True)                       # <root>/mnist/*.gz
    train, val = random_split(train, [0.9, 0.1], generator=dg.Generator().manual_seed(0))
    loader = DataLoader(train, batch_size=128, shuffle=True, num_workers=2)
    augment = T.Compose([T.BatchToTensor(), T.BatchRandomCrop(28, padding=2),
                         T.BatchRandomRotation(10)])
    for images, labels in loader:                   # uint8 (B, 28, 28), int64 (B,)
        x = augment(images)                         # float32 (B, 1, 28, 28)

Submodules: :mod:`.datasets`, :mod:`.transforms`.
"""

from . import datasets, transforms
from .collate import default_collate, default_convert
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .datasets import (
    CIFAR10,
    CIFAR100,
    KMNIST,
    MNIST,
    CorruptFileError,
    DatasetNotFoundError,
    FashionMNIST,
    TinyShakespeare,
    train_test_split,
)
from .loader import DataLoader, WorkerInfo, get_worker_info
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "datasets", "transforms",
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
    "random_split", "train_test_split",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler",
    "DataLoader", "get_worker_info", "WorkerInfo", "default_collate", "default_convert",
    "MNIST", "FashionMNIST", "KMNIST", "CIFAR10", "CIFAR100", "TinyShakespeare",
    "DatasetNotFoundError", "CorruptFileError",
]

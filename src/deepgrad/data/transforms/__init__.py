"""Seeded, composable image transforms (``torchvision.transforms`` names).

:class:`ToTensor` maps HWC (or HW) images to CHW float tensors; the other
per-sample transforms act on CHW/HW images (last two axes H, W); the
``Batch*`` variants act on NCHW/NHW batches with independent per-sample
randomness, fully vectorized. See :mod:`.transforms` and :mod:`.batched`.
"""

from . import functional
from .batched import (
    BatchCenterCrop,
    BatchGaussianNoise,
    BatchNormalize,
    BatchRandomAffine,
    BatchRandomCrop,
    BatchRandomErasing,
    BatchRandomHorizontalFlip,
    BatchRandomResizedCrop,
    BatchRandomRotation,
    BatchRandomVerticalFlip,
    BatchResize,
    BatchToTensor,
)
from .transforms import (
    CenterCrop,
    Compose,
    GaussianNoise,
    Lambda,
    Normalize,
    RandomAffine,
    RandomApply,
    RandomCrop,
    RandomErasing,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
    ToTensor,
)

__all__ = [
    "functional",
    "Compose", "Lambda", "ToTensor", "Normalize", "RandomCrop", "CenterCrop",
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomResizedCrop", "Resize",
    "RandomRotation", "RandomAffine", "GaussianNoise", "RandomErasing", "RandomApply",
    "BatchToTensor", "BatchNormalize", "BatchRandomCrop", "BatchCenterCrop",
    "BatchRandomHorizontalFlip", "BatchRandomVerticalFlip", "BatchRandomResizedCrop",
    "BatchResize", "BatchRandomRotation", "BatchRandomAffine", "BatchGaussianNoise",
    "BatchRandomErasing",
]

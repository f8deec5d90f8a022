"""Batched transforms: a whole **NCHW** (or NHW) batch per call, every sample with
its own random parameters, in one vectorized pass (no Python loop over samples).

Use them on the batches a :class:`~deepgrad.data.DataLoader` yields, e.g.::

    augment = transforms.Compose([
        transforms.BatchRandomCrop(28, padding=2),
        transforms.BatchRandomHorizontalFlip(),
        transforms.BatchRandomRotation(10),
    ])
    for x, y in loader:
        x = augment(x)

They accept NumPy arrays or deepgrad tensors and return the same kind.
"""

from __future__ import annotations

from typing import Any

from .._tensor import array_module, to_tensor, unwrap
from .transforms import (
    CenterCrop,
    GaussianNoise,
    Normalize,
    RandomAffine,
    RandomCrop,
    RandomErasing,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
    _to_float,
)

__all__ = [
    "BatchToTensor", "BatchNormalize", "BatchRandomCrop", "BatchCenterCrop",
    "BatchRandomHorizontalFlip", "BatchRandomVerticalFlip", "BatchRandomResizedCrop",
    "BatchResize", "BatchRandomRotation", "BatchRandomAffine", "BatchGaussianNoise",
    "BatchRandomErasing",
]


class BatchToTensor:
    """NHWC (or NHW) image batch, array or tensor (as a :class:`DataLoader` yields
    them from MNIST or CIFAR) -> NCHW ``float32`` tensor; ``uint8`` scaled to ``[0, 1]``."""

    def __call__(self, pics: Any) -> Any:
        arr, _ = unwrap(pics)
        xp = array_module(arr)
        if arr.ndim == 3:
            arr = arr[:, None]
        elif arr.ndim == 4:
            arr = xp.moveaxis(arr, -1, 1)
        else:
            raise ValueError(
                f"BatchToTensor expects a batch (N, H, W, C) or (N, H, W); got shape {tuple(arr.shape)}"
            )
        return to_tensor(_to_float(arr, xp))

    def __repr__(self) -> str:
        return "BatchToTensor()"


class BatchNormalize(Normalize):
    """:class:`Normalize` on an NCHW batch (NHW: one channel)."""

    batched = True


class BatchRandomCrop(RandomCrop):
    """:class:`RandomCrop` on an NCHW/NHW batch, an independent window per sample."""

    batched = True


class BatchCenterCrop(CenterCrop):
    """:class:`CenterCrop` on an NCHW/NHW batch."""

    batched = True


class BatchRandomHorizontalFlip(RandomHorizontalFlip):
    """:class:`RandomHorizontalFlip` on an NCHW/NHW batch, each sample flipped with probability ``p``."""

    batched = True


class BatchRandomVerticalFlip(RandomVerticalFlip):
    """:class:`RandomVerticalFlip` on an NCHW/NHW batch, each sample flipped with probability ``p``."""

    batched = True


class BatchResize(Resize):
    """:class:`Resize` on an NCHW/NHW batch."""

    batched = True


class BatchRandomResizedCrop(RandomResizedCrop):
    """:class:`RandomResizedCrop` on an NCHW/NHW batch, a box per sample, one gather in all."""

    batched = True


class BatchRandomAffine(RandomAffine):
    """:class:`RandomAffine` on an NCHW/NHW batch: per-sample matrices, one grid sample."""

    batched = True


class BatchRandomRotation(RandomRotation):
    """:class:`RandomRotation` on an NCHW/NHW batch: per-sample angles, one grid sample."""

    batched = True


class BatchGaussianNoise(GaussianNoise):
    """:class:`GaussianNoise` on a float batch."""

    batched = True


class BatchRandomErasing(RandomErasing):
    """:class:`RandomErasing` on an NCHW batch, each sample erased with probability ``p``."""

    batched = True

"""Dataset classes with PyTorch's semantics (``torch.utils.data``).

A map-style :class:`Dataset` implements ``__getitem__(i)`` and ``__len__``.
Datasets that can fetch a whole batch at once with fancy indexing also
implement ``__getitems__(indices)`` (as in PyTorch) returning the list of
samples, and may implement ``_fetch_collated(indices)`` returning the already
collated batch as NumPy arrays; :class:`~deepgrad.data.DataLoader` uses the
latter when the default ``collate_fn`` is in effect, which makes iterating over
array-backed datasets cost one gather per batch instead of one Python call per
sample.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Generic, TypeVar
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from ._rng import numpy_generator
from ._tensor import is_tensor, to_tensor

T_co = TypeVar("T_co", covariant=True)

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "ChainDataset",
    "random_split",
]


class Dataset(Generic[T_co]):
    """An abstract map-style dataset: subclasses define ``__getitem__`` and (usually) ``__len__``."""

    def __getitem__(self, index: int) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """An abstract stream-style dataset: subclasses define ``__iter__``.

    With ``num_workers > 0`` the :class:`DataLoader` iterates the stream in a
    single background thread (batches stay in stream order).
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __getitem__(self, index: int) -> T_co:
        raise TypeError(f"{type(self).__name__} is an IterableDataset; iterate it instead of indexing")

    def __add__(self, other: Any) -> ChainDataset:
        return ChainDataset([self, other])


def _array_of(x: Any) -> Any:
    """The indexable backing array of a tensor or array-like."""
    if is_tensor(x):
        return x.array
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__array__") or isinstance(x, (list, tuple)):
        return np.asarray(x)
    return x


class TensorDataset(Dataset[tuple]):
    """Wraps tensors or arrays sharing their first dimension; sample ``i`` is
    ``tuple(t[i] for t in tensors)``.

    Indexing keeps each input's kind: a tensor gives a tensor row, a NumPy
    array an array row.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor or array")
        sizes = [len(_array_of(t)) for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(
                f"TensorDataset: all tensors must have the same first dimension; got sizes {sizes}"
            )
        self.tensors = tensors
        self._arrays = [_array_of(t) for t in tensors]
        self._is_tensor = [is_tensor(t) for t in tensors]

    def __getitem__(self, index: int) -> tuple:
        return tuple(
            to_tensor(a[index]) if wrap else a[index] for a, wrap in zip(self._arrays, self._is_tensor)
        )

    def __getitems__(self, indices: Sequence[int]) -> list[tuple]:
        return [self[i] for i in indices]

    def _fetch_collated(self, indices: Any) -> tuple:
        idx = np.asarray(indices, dtype=np.int64)
        return tuple(a[idx] for a in self._arrays)

    def __len__(self) -> int:
        return len(self._arrays[0])


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: int | list[int]) -> T_co:
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]  # type: ignore[return-value]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: Sequence[int]) -> list[T_co]:
        mapped = [self.indices[i] for i in indices]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """The concatenation of several map-style datasets."""

    def __init__(self, datasets: Iterable[Dataset[T_co]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset; got an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not accept IterableDataset; use ChainDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> T_co:
        n = len(self)
        if index < 0:
            if -index > n:
                raise IndexError(f"index {index} is out of range for ConcatDataset of length {n}")
            index += n
        if index >= n:
            raise IndexError(f"index {index} is out of range for ConcatDataset of length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Chains several iterable datasets one after the other."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def random_split(
    dataset: Dataset[T_co], lengths: Sequence[int | float], generator: Any = None
) -> list[Subset[T_co]]:
    """Randomly split ``dataset`` into non-overlapping :class:`Subset` objects.

    ``lengths`` are either counts summing to ``len(dataset)`` or fractions
    summing to 1 (floor of each fraction, then the remainder handed out one at
    a time round-robin, as in PyTorch). ``generator`` (a ``deepgrad.Generator``,
    numpy generator or int seed) makes the split reproducible.
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if any(x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative; got {lengths}")
    if math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1:
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x for x in lengths):
        raise ValueError(
            f"random_split: lengths must be integer counts or fractions summing to 1; got {lengths}"
        )
    lengths = [int(x) for x in lengths]
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: the lengths {lengths} sum to {sum(lengths)}, but the dataset has {n} "
            f"samples; give counts summing to {n} or fractions summing to 1"
        )
    perm = numpy_generator(generator).permutation(n).tolist()
    out: list[Subset[T_co]] = []
    offset = 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset : offset + length]))
        offset += length
    return out

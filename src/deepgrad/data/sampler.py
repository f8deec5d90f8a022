"""Samplers: the order in which a :class:`DataLoader` visits dataset indices.

Same semantics as ``torch.utils.data``. Random samplers take a ``generator``
(a ``deepgrad.Generator``, a ``numpy.random.Generator`` or an int seed); with
none, each pass draws a fresh seed from deepgrad's default generator, so
``deepgrad.manual_seed`` makes shuffling reproducible.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar
from collections.abc import Iterable, Iterator, Sequence, Sized

import numpy as np

from ._rng import draw_seed, numpy_generator, stream

T_co = TypeVar("T_co", covariant=True)

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]


class Sampler(Generic[T_co]):
    """Base class: subclasses define ``__iter__`` (and usually ``__len__``)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


def _pass_generator(generator: Any) -> np.random.Generator:
    """The generator for one pass: the user's own, or one freshly seeded from the default."""
    if generator is None:
        return np.random.default_rng(draw_seed(None))
    return numpy_generator(generator)


class SequentialSampler(Sampler[int]):
    """Yields ``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Yields a random permutation of the indices, or with ``replacement=True``
    ``num_samples`` indices drawn uniformly with replacement."""

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Any = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = stream(generator)
        if num_samples is not None and (not isinstance(num_samples, (int, np.integer)) or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples must be a positive int; got {num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = _pass_generator(self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        k = self.num_samples
        reps = [rng.permutation(n) for _ in range(-(-k // n))] if n else [np.empty(0, np.int64)]
        return iter(np.concatenate(reps)[:k].tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """Yields the given ``indices`` in a random order (no replacement)."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = stream(generator)

    def __iter__(self) -> Iterator[int]:
        rng = _pass_generator(self.generator)
        for i in rng.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """Yields ``num_samples`` indices in ``[0, len(weights))`` with probabilities
    proportional to ``weights`` (with or without replacement)."""

    def __init__(
        self,
        weights: Sequence[float] | Any,
        num_samples: int,
        replacement: bool = True,
        generator: Any = None,
    ) -> None:
        if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples must be a positive int; got {num_samples!r}")
        w = np.asarray(getattr(weights, "array", weights), dtype=np.float64).reshape(-1)
        if w.ndim != 1 or w.size == 0:
            raise ValueError("WeightedRandomSampler: weights must be a non-empty 1-D sequence")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                "WeightedRandomSampler: weights must be finite, non-negative and not all zero"
            )
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                f"from {np.count_nonzero(w)} non-zero weights; use replacement=True or fewer samples"
            )
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = bool(replacement)
        self.generator = stream(generator)

    def __iter__(self) -> Iterator[int]:
        rng = _pass_generator(self.generator)
        p = self.weights / self.weights.sum()
        out = rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p)
        return iter(out.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of ``sampler`` into lists of ``batch_size``
    (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size must be a positive int; got {batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last must be a bool; got {drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

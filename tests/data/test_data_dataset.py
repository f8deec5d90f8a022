"""Dataset classes, random_split and samplers."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    random_split,
)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_tensor_dataset_indexing_keeps_kinds():
    x = dg.from_numpy(np.arange(12, dtype=np.float32).reshape(6, 2))
    y = np.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    a, b = ds[2]
    assert isinstance(a, dg.Tensor) and a.shape == (2,)
    assert np.array_equal(a.numpy(), [4.0, 5.0]) and b == 2
    xs, ys = ds._fetch_collated([5, 0])
    assert np.array_equal(xs, [[10, 11], [0, 1]]) and np.array_equal(ys, [5, 0])


def test_tensor_dataset_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match=r"same first dimension.*\[3, 4\]"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_subset_and_concat():
    ds = Squares(5)
    sub = Subset(ds, [4, 1])
    assert len(sub) == 2 and sub[0] == 16 and sub[1] == 1
    assert sub.__getitems__([1, 0]) == [1, 16]
    cat = ds + Squares(3)
    assert isinstance(cat, ConcatDataset)
    assert len(cat) == 8
    assert [cat[i] for i in range(8)] == [0, 1, 4, 9, 16, 0, 1, 4]
    assert cat[-1] == 4
    with pytest.raises(IndexError, match="out of range"):
        cat[8]
    with pytest.raises(TypeError, match="ChainDataset"):
        ConcatDataset([Stream(2)])


def test_chain_dataset():
    chain = Stream(2) + Stream(3)
    assert isinstance(chain, ChainDataset)
    assert list(chain) == [0, 1, 0, 1, 2]
    assert len(chain) == 5


def test_random_split_counts_and_fractions_are_seeded_partitions():
    ds = Squares(10)
    a, b = random_split(ds, [7, 3], generator=dg.Generator().manual_seed(1))
    assert len(a) == 7 and len(b) == 3
    assert sorted(list(a.indices) + list(b.indices)) == list(range(10))
    a2, _ = random_split(ds, [7, 3], generator=dg.Generator().manual_seed(1))
    assert list(a.indices) == list(a2.indices)
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=dg.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [5, 3, 2]
    odd = random_split(Squares(11), [0.5, 0.5], generator=3)
    assert [len(p) for p in odd] == [6, 5]


def test_random_split_default_generator_follows_manual_seed():
    dg.manual_seed(5)
    a = random_split(Squares(20), [10, 10])[0].indices
    dg.manual_seed(5)
    b = random_split(Squares(20), [10, 10])[0].indices
    assert list(a) == list(b)


def test_random_split_errors_name_the_values():
    with pytest.raises(ValueError, match=r"sum to 9.*10 samples"):
        random_split(Squares(10), [5, 4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(Squares(10), [11, -1])


def test_sequential_and_random_sampler():
    ds = Squares(6)
    assert list(SequentialSampler(ds)) == list(range(6))
    g = dg.Generator().manual_seed(0)
    first = list(RandomSampler(ds, generator=g))
    assert sorted(first) == list(range(6))
    g2 = dg.Generator().manual_seed(0)
    assert list(RandomSampler(ds, generator=g2)) == first
    rep = list(RandomSampler(ds, replacement=True, num_samples=50, generator=1))
    assert len(rep) == 50 and set(rep) <= set(range(6))
    more = list(RandomSampler(ds, num_samples=9, generator=2))
    assert len(more) == 9 and sorted(more[:6]) == list(range(6))
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(ds, num_samples=0)


def test_subset_random_sampler():
    s = SubsetRandomSampler([3, 7, 9], generator=0)
    assert sorted(s) == [3, 7, 9] and len(s) == 3


def test_weighted_random_sampler_follows_weights():
    s = WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=4000, generator=0)
    counts = np.bincount(list(s), minlength=3)
    assert counts[0] == 0
    assert abs(counts[2] / counts[1] - 3.0) < 0.35
    no_rep = list(WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False, generator=0))
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1, 0], 2, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1, -1], 2)


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3
    assert len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size must be a positive int; got 0"):
        BatchSampler(range(3), 0, False)

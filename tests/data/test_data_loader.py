"""DataLoader: batching, collation, shuffling, workers and determinism."""

from __future__ import annotations

import collections
import threading

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    default_collate,
    get_worker_info,
)
from deepgrad.data import transforms as T


class Images(Dataset):
    """Per-sample dataset with an optional random transform (exercises the slow path)."""

    def __init__(self, n=37, transform=None):
        rng = np.random.default_rng(0)
        self.x = rng.random((n, 1, 8, 8), dtype=np.float32)
        self.transform = transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        img = self.x[i]
        if self.transform is not None:
            img = self.transform(img)
        return {"image": img, "label": i % 3, "name": f"s{i}"}


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield np.full(2, i, dtype=np.int64), float(i)

    def __len__(self):
        return self.n


def _np(batch):
    if isinstance(batch, dict):
        return {k: _np(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [_np(v) for v in batch]
    if isinstance(batch, dg.Tensor):
        return batch.numpy()
    return batch


def test_batches_are_tensors_and_cover_the_dataset():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    xb, yb = batches[0]
    assert isinstance(xb, dg.Tensor) and xb.dtype == dg.float32 and xb.shape == (4, 2)
    assert yb.dtype == dg.int64
    assert np.array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert len(DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)) == 2


def test_default_collate_structures():
    Point = collections.namedtuple("Point", "x y")
    batch = default_collate([
        {"a": np.zeros((2, 2), np.float32), "b": 1, "c": 0.5, "d": "s", "e": (True, Point(1, 2))},
        {"a": np.ones((2, 2), np.float32), "b": 2, "c": 1.5, "d": "t", "e": (False, Point(3, 4))},
    ])
    assert batch["a"].shape == (2, 2, 2) and batch["a"].dtype == dg.float32
    assert batch["b"].dtype == dg.int64 and np.array_equal(batch["b"].numpy(), [1, 2])
    assert batch["c"].dtype == dg.float64
    assert batch["d"] == ["s", "t"]
    flags, point = batch["e"]
    assert flags.dtype == dg.bool and isinstance(point, Point)
    assert np.array_equal(point.x.numpy(), [1, 3])
    stacked = default_collate([dg.tensor([1.0, 2.0]), dg.tensor([3.0, 4.0])])
    assert stacked.shape == (2, 2)
    with pytest.raises(TypeError, match="cannot batch samples of type object"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="same length"):
        default_collate([(1, 2), (1,)])


def test_shuffle_is_seeded_by_the_generator():
    ds = TensorDataset(np.arange(50))

    def order(seed):
        loader = DataLoader(ds, batch_size=7, shuffle=True, generator=dg.Generator().manual_seed(seed))
        return np.concatenate([b[0].numpy() for b in loader])

    a, b, c = order(0), order(0), order(1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert sorted(a.tolist()) == list(range(50))
    dg.manual_seed(3)
    d = np.concatenate([b[0].numpy() for b in DataLoader(ds, batch_size=7, shuffle=True)])
    dg.manual_seed(3)
    e = np.concatenate([b[0].numpy() for b in DataLoader(ds, batch_size=7, shuffle=True)])
    assert np.array_equal(d, e)


def test_epochs_reshuffle():
    loader = DataLoader(TensorDataset(np.arange(30)), batch_size=30, shuffle=True, generator=dg.Generator().manual_seed(0))
    first, second = (next(iter(loader))[0].numpy() for _ in range(2))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("fast", [True, False])
def test_same_batches_whatever_num_workers(fast):
    aug = T.Compose([T.RandomCrop(8, padding=2), T.RandomHorizontalFlip(), T.GaussianNoise(sigma=0.05)])
    ds = TensorDataset(np.random.default_rng(1).random((37, 1, 8, 8), dtype=np.float32)) if fast else Images(transform=aug)

    def run(workers):
        loader = DataLoader(ds, batch_size=5, shuffle=True, num_workers=workers,
                            generator=dg.Generator().manual_seed(42))
        return [_np(b) for b in loader]

    ref = run(0)
    for workers in (1, 3):
        got = run(workers)
        assert len(got) == len(ref) == 8
        for r, g in zip(ref, got):
            if fast:
                assert np.array_equal(r[0], g[0])
            else:
                assert np.array_equal(r["image"], g["image"])
                assert np.array_equal(r["label"], g["label"]) and r["name"] == g["name"]


def test_workers_run_in_background_threads_in_order():
    seen = set()

    class Slow(Dataset):
        def __len__(self):
            return 24

        def __getitem__(self, i):
            seen.add(threading.current_thread().name)
            info = get_worker_info()
            assert info is not None and info.num_workers == 2
            return i

    inits = []
    loader = DataLoader(Slow(), batch_size=4, num_workers=2, worker_init_fn=inits.append, prefetch_factor=1)
    out = np.concatenate([b.numpy() for b in loader])
    assert np.array_equal(out, np.arange(24))
    assert all(name.startswith("deepgrad-data") for name in seen)
    assert sorted(inits) == [0, 1]
    assert get_worker_info() is None


def test_worker_errors_propagate():
    class Broken(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            if i == 5:
                raise KeyError("sample 5 is broken")
            return i

    with pytest.raises(KeyError, match="sample 5"):
        list(DataLoader(Broken(), batch_size=2, num_workers=2))


def test_subset_fast_path_matches_slow_path():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    sub = Subset(TensorDataset(x), [3, 1, 4, 15, 9, 2])
    fast = [b[0].numpy() for b in DataLoader(sub, batch_size=4)]
    slow = [b[0].numpy() for b in DataLoader(sub, batch_size=4, collate_fn=lambda s: default_collate(s))]
    for a, b in zip(fast, slow):
        assert np.array_equal(a, b)
    assert np.array_equal(fast[0][:, 0], [6, 2, 8, 30])


def test_no_batching_and_custom_collate():
    ds = TensorDataset(np.arange(4.0))
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 4 and isinstance(items[0][0], dg.Tensor)
    sums = list(DataLoader(ds, batch_size=2, collate_fn=lambda s: sum(float(v[0]) for v in s)))
    assert sums == [1.0, 5.0]


def test_iterable_dataset_batches_and_workers():
    for workers in (0, 2):
        loader = DataLoader(Stream(7), batch_size=3, num_workers=workers)
        batches = list(loader)
        assert len(batches) == 3 and len(loader) == 3
        assert np.array_equal(batches[0][0].numpy(), [[0, 0], [1, 1], [2, 2]])
        assert np.array_equal(batches[2][1].numpy(), [6.0])
    assert len(list(DataLoader(Stream(7), batch_size=3, drop_last=True))) == 2


class ShardedStream(IterableDataset):
    """Splits its items between workers the way PyTorch's documentation shows."""

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, 10, step))


@pytest.mark.parametrize("workers", [0, 1, 2, 4])
def test_an_iterable_dataset_that_shards_by_worker_info_loses_nothing(workers):
    got = [int(v) for b in DataLoader(ShardedStream(), batch_size=3, num_workers=workers) for v in b.numpy()]
    assert got == list(range(10))


class NoisySamples(Dataset):
    """Draws with deepgrad's own random functions (not deepgrad.data's) in __getitem__."""

    def __len__(self):
        return 64

    def __getitem__(self, i):
        return dg.randn(2) + i


def test_deepgrad_random_draws_in_getitem_are_the_same_whatever_num_workers():
    runs = []
    for workers in (0, 2, 4):
        dg.manual_seed(1)
        runs.append(np.concatenate([b.numpy() for b in DataLoader(NoisySamples(), batch_size=4,
                                                                   num_workers=workers)]))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])
    dg.manual_seed(2)
    assert not np.array_equal(np.concatenate([b.numpy() for b in DataLoader(NoisySamples(), batch_size=4)]),
                              runs[0])  # the loader's seed still comes from deepgrad.manual_seed


def test_batch_sampler_argument():
    ds = TensorDataset(np.arange(6))
    loader = DataLoader(ds, batch_sampler=[[5, 0], [2, 3, 1]])
    got = [b[0].numpy().tolist() for b in loader]
    assert got == [[5, 0], [2, 3, 1]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size must be an int >= 1; got 0"),
        ({"num_workers": -1}, "num_workers must be an int >= 0; got -1"),
        ({"shuffle": True, "sampler": [0, 1]}, "mutually exclusive"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler is mutually exclusive"),
        ({"batch_size": None, "drop_last": True}, "incompatible with drop_last"),
        ({"prefetch_factor": 2}, "prefetch_factor only applies"),
    ],
)
def test_argument_errors_are_clear(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(TensorDataset(np.arange(4)), **kwargs)


def test_iterable_dataset_rejects_shuffle():
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(3), shuffle=True)

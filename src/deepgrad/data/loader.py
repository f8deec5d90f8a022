"""``DataLoader``: mini-batches of deepgrad tensors from a dataset.

PyTorch's semantics, with one difference in how workers run: ``num_workers > 0``
starts that many background *threads* (NumPy releases the GIL in its copies,
decompression and array math) that prefetch upcoming batches while the
training step runs. Batches are always yielded in sampler order.

Reproducibility: at the start of each epoch the loader draws a base seed from
its ``generator`` (or deepgrad's default one); batch ``k`` is fetched inside a
context where transforms without an explicit generator draw from a generator
seeded by ``(base seed, k)``. Shuffling is decided in the main thread. So the
same seed gives the same batches whatever ``num_workers`` is.
"""

from __future__ import annotations

import collections
import itertools
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from ._rng import batch_generator, draw_seed, stream
from .collate import default_collate, default_convert, to_tensors
from .dataset import Dataset, IterableDataset, Subset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

T_co = TypeVar("T_co", covariant=True)

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]


@dataclass(frozen=True)
class WorkerInfo:
    """What :func:`get_worker_info` returns inside a loader worker thread."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_local = threading.local()


def get_worker_info() -> WorkerInfo | None:
    """Inside a :class:`DataLoader` worker thread, its :class:`WorkerInfo`; else ``None``."""
    return getattr(_worker_local, "info", None)


def _fast_fetcher(dataset: Any) -> Callable[[Any], Any] | None:
    """A function fetching a collated batch of NumPy arrays by fancy indexing, if the
    dataset offers one (``_fetch_collated``), looking through :class:`Subset`."""
    if isinstance(dataset, Subset):
        inner = _fast_fetcher(dataset.dataset)
        if inner is None:
            return None
        base = np.asarray(dataset.indices, dtype=np.int64)
        return lambda indices: inner(base[np.asarray(indices, dtype=np.int64)])
    return getattr(dataset, "_fetch_collated", None)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"DataLoader: {name} must be an int >= {minimum}; got {value!r}")
    return int(value)


class DataLoader(Generic[T_co]):
    """Iterate over ``dataset`` in mini-batches of deepgrad tensors.

    Args:
        dataset: a map-style :class:`Dataset` (``__getitem__``/``__len__``) or an
            :class:`IterableDataset`.
        batch_size: samples per batch; ``None`` disables batching (each sample is
            converted with :func:`default_convert`).
        shuffle: reshuffle the indices every epoch (uses a :class:`RandomSampler`
            with ``generator``).
        sampler: an iterable of indices (exclusive with ``shuffle``).
        batch_sampler: an iterable of index lists (exclusive with ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: background threads prefetching batches (0: fetch in the
            calling thread). Order and content do not depend on it.
        collate_fn: turns a list of samples into a batch (default
            :func:`default_collate`).
        pin_memory: accepted for compatibility; has no effect.
        drop_last: drop the last incomplete batch.
        timeout: seconds to wait for a worker's batch (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker thread.
        prefetch_factor: batches queued per worker (default 2 when workers are used).
        persistent_workers: accepted for compatibility (threads are cheap to restart).
        generator: a ``deepgrad.Generator`` (or numpy generator / int seed) for
            shuffling and for the per-batch transform seeds.
    """

    def __init__(
        self,
        dataset: Dataset[T_co] | Iterable[T_co],
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable[int] | None = None,
        batch_sampler: Sampler | Iterable[Sequence[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        generator: Any = None,
    ) -> None:
        self.num_workers = _check_int("num_workers", num_workers, 0)
        if prefetch_factor is not None:
            if self.num_workers == 0:
                raise ValueError(
                    "DataLoader: prefetch_factor only applies with num_workers > 0; "
                    "leave it as None or set num_workers"
                )
            _check_int("prefetch_factor", prefetch_factor, 1)
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be >= 0; got {timeout!r}")
        self.dataset = dataset
        self.prefetch_factor = 2 if prefetch_factor is None else int(prefetch_factor)
        self.pin_memory = pin_memory
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.persistent_workers = persistent_workers
        self.generator = generator = stream(generator)
        self._iterable = isinstance(dataset, IterableDataset) or (
            not hasattr(dataset, "__getitem__") and hasattr(dataset, "__iter__")
        )

        if self._iterable:
            if shuffle:
                raise ValueError("DataLoader: shuffle=True is not supported for an IterableDataset; "
                                 "shuffle inside the dataset's __iter__ instead")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: sampler and batch_sampler are not supported for an "
                                 "IterableDataset; it decides its own order")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle are mutually exclusive; "
                             "use a RandomSampler as the sampler, or drop the sampler")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler is mutually exclusive with batch_size, "
                                 "shuffle, sampler and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None (no batching) is incompatible with "
                                 "drop_last=True")
        else:
            batch_size = _check_int("batch_size", batch_size, 1)

        if not self._iterable:
            if sampler is None:
                sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)  # type: ignore[arg-type]
            if batch_size is not None and batch_sampler is None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    # ------------------------------------------------------------------ length
    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)  # type: ignore[arg-type]
        return len(self.sampler)  # type: ignore[arg-type]

    # --------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[Any]:
        seed = draw_seed(self.generator)
        if self._iterable:
            batches = self._iterable_batches(seed)
            if self.num_workers == 0:
                return batches
            return self._threaded_stream(batches, seed)
        if self._auto_collation:
            keys: Iterator[Any] = iter(self.batch_sampler)  # type: ignore[arg-type]
        else:
            keys = iter(self.sampler)  # type: ignore[arg-type]
        jobs = enumerate(keys)
        fast = _fast_fetcher(self.dataset) if self._auto_collation and self.collate_fn is default_collate else None
        if self.num_workers == 0:
            return (self._fetch(k, key, seed, fast) for k, key in jobs)
        return self._threaded_map(jobs, seed, fast)

    def _fetch(self, k: int, key: Any, seed: int, fast: Callable[[Any], Any] | None = None) -> Any:
        with batch_generator(seed, k):
            if not self._auto_collation:
                return self.collate_fn(self.dataset[key])  # type: ignore[index]
            if fast is not None:
                out = fast(key)
                if out is not NotImplemented:
                    return to_tensors(list(out) if isinstance(out, tuple) else out)
            getitems = getattr(self.dataset, "__getitems__", None)
            samples = getitems(key) if getitems is not None else [self.dataset[i] for i in key]  # type: ignore[index]
            return self.collate_fn(samples)

    def _init_worker(self, counter: Iterator[int], seed: int, num_workers: int | None = None) -> None:
        wid = next(counter)
        workers = self.num_workers if num_workers is None else num_workers
        _worker_local.info = WorkerInfo(wid, workers, seed, self.dataset)
        if self.worker_init_fn is not None:
            self.worker_init_fn(wid)

    def _threaded_map(self, jobs: Iterator[tuple[int, Any]], seed: int,
                      fast: Callable[[Any], Any] | None) -> Iterator[Any]:
        """Fetch batches on a thread pool, ``num_workers * prefetch_factor`` ahead, in order."""
        counter = itertools.count()
        lock = threading.Lock()

        def init() -> None:
            with lock:
                self._init_worker(counter, seed)

        pool = ThreadPoolExecutor(self.num_workers, thread_name_prefix="deepgrad-data", initializer=init)
        pending: collections.deque[Future] = collections.deque()
        depth = self.num_workers * self.prefetch_factor
        timeout = self.timeout or None
        try:
            for k, key in jobs:
                pending.append(pool.submit(self._fetch, k, key, seed, fast))
                if len(pending) >= depth:
                    yield self._result(pending.popleft(), timeout)
            while pending:
                yield self._result(pending.popleft(), timeout)
        finally:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _result(future: Future, timeout: float | None) -> Any:
        try:
            return future.result(timeout=timeout)
        except TimeoutError as exc:
            raise RuntimeError(f"DataLoader: a worker took longer than timeout={timeout} s "
                               "to fetch a batch") from exc

    def _iterable_batches(self, seed: int) -> Iterator[Any]:
        it = iter(self.dataset)  # type: ignore[arg-type]
        for k in itertools.count():
            with batch_generator(seed, k):
                if self.batch_size is None:
                    try:
                        item = next(it)
                    except StopIteration:
                        return
                    batch = self.collate_fn(item)
                else:
                    items = list(itertools.islice(it, self.batch_size))
                    if not items or (self.drop_last and len(items) < self.batch_size):
                        return
                    batch = self.collate_fn(items)
            yield batch

    def _threaded_stream(self, batches: Iterator[Any], seed: int) -> Iterator[Any]:
        """Run an iterable dataset's batching in one background thread (stream order)."""
        q: queue.Queue = queue.Queue(maxsize=self.num_workers * self.prefetch_factor)
        stop = threading.Event()
        done = object()

        def produce() -> None:
            try:
                # One thread reads the whole stream: a dataset that shards itself by
                # get_worker_info() must see one worker, or it would drop the other shards.
                self._init_worker(iter([0]), seed, num_workers=1)
                for b in batches:
                    while not stop.is_set():
                        try:
                            q.put(("ok", b), timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(("ok", done))
            except BaseException as exc:
                q.put(("err", exc))

        thread = threading.Thread(target=produce, name="deepgrad-data-stream", daemon=True)
        thread.start()
        timeout = self.timeout or None
        try:
            while True:
                try:
                    kind, value = q.get(timeout=timeout)
                except queue.Empty as exc:
                    raise RuntimeError(f"DataLoader: the worker took longer than timeout={timeout} s "
                                       "to produce a batch") from exc
                if kind == "err":
                    raise value
                if value is done:
                    return
                yield value
        finally:
            stop.set()
            thread.join(timeout=5)

"""What ``fit`` / ``evaluate`` / ``predict`` iterate over: in-memory arrays, or an iterable of
batches (a deepgrad DataLoader, a generator, a ``keras.utils.PyDataset``-like sequence).

Arrays are converted once (to backend arrays, float64 to float32), then each
batch is one slice (or one fancy-index gather when shuffling) per array.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from deepgrad.backend import xp
from deepgrad.keras import backend as K
from deepgrad.keras.layers.tree import flatten, pack_like
from deepgrad.tensor import Tensor


def _is_array(x: Any) -> bool:
    return isinstance(x, Tensor) or hasattr(x, "__array__") or hasattr(x, "__array_interface__")


def _to_backend(x: Any) -> Any:
    array = x.detach().array if isinstance(x, Tensor) else xp.asarray(x)
    if array.dtype == xp.float64 and K.floatx() != "float64":
        array = array.astype(K.floatx())
    if array.dtype.kind == "b":
        array = array.astype(K.floatx())
    return array


def is_array_data(x: Any) -> bool:
    """Whether ``x`` is an array or a (nested) list/tuple/dict of arrays."""
    if x is None:
        return False
    leaves = flatten(x)
    return bool(leaves) and all(_is_array(a) for a in leaves)


class ArrayData:
    """x, y and sample weights held as arrays; batches by slicing along the first axis."""

    def __init__(self, x: Any, y: Any = None, sample_weight: Any = None, batch_size: int = 32,
                 who: str = "fit") -> None:
        if batch_size is None:
            batch_size = 32
        if int(batch_size) < 1:
            raise ValueError(f"{who}: batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.x_struct, self.y_struct = x, y
        self.x = [_to_backend(a) for a in flatten(x)]
        self.y = None if y is None else [_to_backend(a) if not _is_int(a) else _int_backend(a)
                                         for a in flatten(y)]
        self.sw = None if sample_weight is None else _to_backend(sample_weight)
        sizes = {("x", i): a.shape[0] for i, a in enumerate(self.x)}
        if self.y is not None:
            sizes.update({("y", i): a.shape[0] for i, a in enumerate(self.y)})
        if self.sw is not None:
            sizes[("sample_weight", 0)] = self.sw.shape[0]
        if len(set(sizes.values())) > 1:
            detail = ", ".join(f"{k[0]}[{k[1]}]: {v}" for k, v in sizes.items())
            raise ValueError(f"{who}: the arrays have different numbers of samples ({detail}); "
                             "x, y and sample_weight need one row per sample")
        self.n = next(iter(sizes.values())) if sizes else 0
        if self.n == 0:
            raise ValueError(f"{who}: got no samples (empty arrays)")

    @property
    def steps(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def _pack(self, arrays: list, struct: Any) -> Any:
        tensors = [Tensor(a) for a in arrays]
        if not isinstance(struct, (list, tuple, dict)):
            return tensors[0]
        return pack_like(struct, tensors)

    def batch(self, order: Any, step: int) -> tuple[Any, Any, Any]:
        start = step * self.batch_size
        stop = min(start + self.batch_size, self.n)
        if order is None:
            index: Any = slice(start, stop)
        else:
            index = order[start:stop]
        x = self._pack([a[index] for a in self.x], self.x_struct)
        y = None if self.y is None else self._pack([a[index] for a in self.y], self.y_struct)
        sw = None if self.sw is None else Tensor(self.sw[index])
        return x, y, sw

    def split(self, fraction: float) -> tuple[ArrayData, ArrayData]:
        """(first part, the LAST ``fraction`` of the samples), as Keras's validation_split."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fit: validation_split must be in (0, 1), got {fraction}")
        cut = int(self.n * (1.0 - fraction))
        if cut <= 0 or cut >= self.n:
            raise ValueError(f"fit: validation_split={fraction} of {self.n} samples leaves an empty "
                             "training or validation set")
        return self._subset(slice(0, cut)), self._subset(slice(cut, self.n))

    def _subset(self, index: slice) -> ArrayData:
        out = object.__new__(ArrayData)
        out.batch_size, out.x_struct, out.y_struct = self.batch_size, self.x_struct, self.y_struct
        out.x = [a[index] for a in self.x]
        out.y = None if self.y is None else [a[index] for a in self.y]
        out.sw = None if self.sw is None else self.sw[index]
        out.n = out.x[0].shape[0]
        return out

    def sample(self) -> tuple[Any, Any]:
        """A first batch (for building and resolving shapes)."""
        x, y, _ = self.batch(None, 0)
        return x, y


def _is_int(a: Any) -> bool:
    array = a.array if isinstance(a, Tensor) else xp.asarray(a)
    return array.dtype.kind in "iu"


def _int_backend(a: Any) -> Any:
    return a.detach().array if isinstance(a, Tensor) else xp.asarray(a)


class IterableData:
    """Batches from an iterable: each item is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""

    def __init__(self, source: Any, steps: int | None = None, who: str = "fit") -> None:
        self.source = source
        self._steps = steps
        self.batch_size = getattr(source, "batch_size", None)
        try:
            self.n = len(source.dataset) if hasattr(source, "dataset") else None
        except TypeError:
            self.n = None
        self.who = who

    @property
    def steps(self) -> int | None:
        if self._steps is not None:
            return self._steps
        try:
            return len(self.source)
        except TypeError:
            return None

    @property
    def generator(self) -> Any:
        """The source's own random generator (a DataLoader's), for checkpoints."""
        return getattr(self.source, "generator", None)

    def __iter__(self) -> Iterator[tuple[Any, Any, Any]]:
        peeked = self.__dict__.pop("_peeked", None)
        if peeked is not None:  # the batch sample() took from a one-shot iterator comes first
            yield _unpack(peeked)
        for item in self.source:
            yield _unpack(item)

    def sample(self) -> tuple[Any, Any]:
        """A first batch (to build the model). A one-shot iterator keeps it for the first pass."""
        iterator = iter(self.source)
        try:
            item = next(iterator)
        except StopIteration:
            raise ValueError(f"{self.who}: the data yielded no batches") from None
        if iterator is self.source:
            self._peeked = item
        x, y, _ = _unpack(item)
        return x, y


def _unpack(item: Any) -> tuple[Any, Any, Any]:
    if isinstance(item, dict) and "x" in item:
        return _tensors(item["x"]), _tensors(item.get("y")), _tensors(item.get("sample_weight"))
    if isinstance(item, (list, tuple)):
        if len(item) == 1:
            return _tensors(item[0]), None, None
        if len(item) == 2:
            return _tensors(item[0]), _tensors(item[1]), None
        if len(item) == 3:
            return _tensors(item[0]), _tensors(item[1]), _tensors(item[2])
    return _tensors(item), None, None


def _tensors(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, Tensor):
        return x if x.array.dtype != xp.float64 or K.floatx() == "float64" else Tensor(_to_backend(x))
    if isinstance(x, (list, tuple)) and x and not _is_array(x[0]) and not isinstance(x[0], (list, tuple, dict)):
        return Tensor(_to_backend(x))
    if isinstance(x, (list, tuple)):
        return type(x)(_tensors(v) for v in x)
    if isinstance(x, dict):
        return {k: _tensors(v) for k, v in x.items()}
    array = xp.asarray(x)
    return Tensor(array if array.dtype.kind in "iu" else _to_backend(array))


def make_data(x: Any, y: Any = None, sample_weight: Any = None, batch_size: int | None = 32,
              steps: int | None = None, who: str = "fit") -> ArrayData | IterableData:
    """ArrayData for arrays, IterableData for anything iterable that yields batches."""
    if is_array_data(x):
        if y is not None and not is_array_data(y):
            raise ValueError(f"{who}: y must be an array (or a list/dict of arrays) when x is, got "
                             f"{type(y).__name__}")
        return ArrayData(x, y, sample_weight, batch_size or 32, who)
    if x is None:
        raise ValueError(f"{who}: x is required")
    if y is not None:
        raise ValueError(f"{who}: when x is a dataset or generator of batches, y must be None "
                         "(the batches carry the targets)")
    if not hasattr(x, "__iter__"):
        raise TypeError(f"{who}: x must be arrays or an iterable of (x, y) batches, got "
                        f"{type(x).__name__}")
    return IterableData(x, steps, who)

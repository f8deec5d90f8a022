"""Collation: turning a list of samples into a batch of deepgrad tensors.

Mirrors ``torch.utils.data.default_collate``: arrays and tensors are stacked
along a new first axis; Python ints become an ``int64`` tensor, floats a
``float64`` tensor and bools a ``bool`` tensor; strings and bytes stay a list;
mappings, namedtuples and sequences are collated field by field (tuples and
lists come back as lists). Stacking happens on NumPy arrays, and the result is
wrapped with ``deepgrad.from_numpy`` (no copy).
"""

from __future__ import annotations

import collections.abc
from typing import Any
from collections.abc import Sequence

import numpy as np

from ._tensor import is_tensor, to_tensor

__all__ = ["default_collate", "default_convert", "collate_numpy", "to_tensors"]

_STRINGS = (str, bytes)


def _err(elem: Any) -> TypeError:
    return TypeError(
        f"default_collate: cannot batch samples of type {type(elem).__name__}; samples must hold "
        "NumPy arrays, deepgrad tensors, numbers, strings, or dicts/tuples/lists of these. "
        "Pass a custom collate_fn to DataLoader for other types."
    )


def collate_numpy(batch: Sequence[Any]) -> Any:
    """Like :func:`default_collate` but leaves the leaves as NumPy (or backend) arrays."""
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if is_tensor(elem):
        arrays = [b.array for b in batch]
        mod = np if isinstance(arrays[0], np.ndarray) else _xp()
        return mod.stack(arrays)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUS":
            raise TypeError(
                f"default_collate: cannot batch NumPy arrays of dtype {elem.dtype}; "
                "convert them to numbers or pass a custom collate_fn"
            )
        return np.stack(batch)
    if isinstance(elem, np.generic):
        return np.array(batch)
    if isinstance(elem, bool):
        return np.array(batch, dtype=np.bool_)
    if isinstance(elem, int):
        return np.array(batch, dtype=np.int64)
    if isinstance(elem, float):
        return np.array(batch, dtype=np.float64)
    if isinstance(elem, _STRINGS):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        try:
            return type(elem)({k: collate_numpy([d[k] for d in batch]) for k in elem})
        except TypeError:
            return {k: collate_numpy([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(collate_numpy(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError(
                "default_collate: each sample's sequence must have the same length; got lengths "
                f"{sorted({len(b) for b in batch})}"
            )
        return [collate_numpy(list(s)) for s in zip(*batch)]
    raise _err(elem)


def _xp() -> Any:
    from deepgrad.backend import xp

    return xp


def to_tensors(obj: Any) -> Any:
    """Wrap every array leaf of a (nested) structure as a ``deepgrad.Tensor``."""
    if isinstance(obj, np.ndarray):
        return to_tensor(obj)
    if is_tensor(obj):
        return obj
    if isinstance(obj, _STRINGS) or obj is None:
        return obj
    if isinstance(obj, collections.abc.Mapping):
        try:
            return type(obj)({k: to_tensors(v) for k, v in obj.items()})
        except TypeError:
            return {k: to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_tensors(v) for v in obj))
    if isinstance(obj, tuple):
        return tuple(to_tensors(v) for v in obj)
    if isinstance(obj, list):
        return [to_tensors(v) for v in obj]
    if hasattr(obj, "__array__") and hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return to_tensor(obj)  # backend (e.g. CuPy) array
    return obj


def default_collate(batch: Sequence[Any]) -> Any:
    """Collate a list of samples into a batch whose arrays are ``deepgrad.Tensor`` objects."""
    return to_tensors(collate_numpy(batch))


def default_convert(data: Any) -> Any:
    """Convert one sample (no batching): NumPy arrays become tensors, the rest is kept.

    This is what :class:`DataLoader` applies when ``batch_size=None``.
    """
    if isinstance(data, np.ndarray) and data.dtype.kind in "OUS":
        return data
    return to_tensors(data)

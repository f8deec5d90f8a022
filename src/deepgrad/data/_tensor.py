"""The thin seam between host-side data code (NumPy) and deepgrad tensors."""

from __future__ import annotations

from typing import Any

import numpy as np


def tensor_type() -> type | None:
    """``deepgrad.Tensor``, or ``None`` when the core is not importable."""
    try:
        import deepgrad

        return deepgrad.Tensor
    except (ImportError, AttributeError):
        return None


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a ``deepgrad.Tensor``."""
    cls = tensor_type()
    return cls is not None and isinstance(x, cls)


def to_tensor(array: Any) -> Any:
    """Wrap an array as a ``deepgrad.Tensor`` without copying where possible.

    NumPy arrays go through ``deepgrad.from_numpy`` (shares memory, keeps the
    dtype); backend arrays (e.g. CuPy) through ``deepgrad.as_tensor``.
    """
    import deepgrad as dg

    if isinstance(array, np.ndarray):
        if not array.flags.writeable or not (array.flags.c_contiguous or array.flags.f_contiguous):
            array = np.array(array)
        return dg.from_numpy(array)
    return dg.as_tensor(array)


def unwrap(x: Any) -> tuple[Any, bool]:
    """``(array, was_tensor)``: the backing array of a tensor, or ``x`` as an array."""
    if is_tensor(x):
        return x.array, True
    if isinstance(x, np.ndarray):
        return x, False
    arr_mod = _backend_xp()
    if arr_mod is not None and arr_mod is not np and isinstance(x, arr_mod.ndarray):
        return x, False
    return np.asarray(x), False


def rewrap(array: Any, was_tensor: bool) -> Any:
    """The inverse of :func:`unwrap`."""
    return to_tensor(array) if was_tensor else array


def _backend_xp() -> Any:
    try:
        from deepgrad.backend import xp

        return xp
    except ImportError:
        return None


def array_module(array: Any) -> Any:
    """NumPy for NumPy arrays, else deepgrad's backend module (e.g. CuPy)."""
    if isinstance(array, np.ndarray):
        return np
    xp = _backend_xp()
    return xp if xp is not None else np

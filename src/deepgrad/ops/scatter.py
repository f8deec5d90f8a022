"""Index tensors: gather, scatter, scatter_add, index_select and index_add (and in-place forms).

These ops only check their arguments and build NumPy keys; the three Functions
of :mod:`deepgrad.ops.indexing` do the work and the gradients: ``GetItem``
(gather, index_select), ``IndexPut`` (scatter, scatter_add, index_add) and
``PutIntoZeros``, their backward.
"""

from __future__ import annotations

from typing import Any

from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare, tensor_method
from deepgrad.ops._util import normalize_dim
from deepgrad.ops.indexing import (
    ARRAY,
    GetItem,
    IndexPut,
    _as_values,
    _dtype_name,
    _int,
    _np_write,
    _recording,
    add_at,
)
from deepgrad.tensor import Tensor, value_of


def _index_array(op: str, index: Any) -> Any:
    array = index.array if isinstance(index, Tensor) else xp.asarray(index)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: index must be an integer tensor (int64), got {_dtype_name(array)}; "
            "convert it with .long()"
        )
    return array


def _check_range(op: str, index: Any, size: int, dim: int) -> None:
    """PyTorch's gather/scatter/index_select take indices in [0, size), not negative ones."""
    if index.size == 0:
        return
    low, high = int(index.min()), int(index.max())
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}")


def _along_key(index: Any, dim: int) -> tuple:
    """The key that picks ``x[..., index[i, j, k], ...]`` at (i, j, k), as take_along_axis."""
    ndim = index.ndim
    key = []
    for d, n in enumerate(index.shape):
        if d == dim:
            key.append(index)
        else:
            key.append(xp.arange(n).reshape((1,) * d + (n,) + (1,) * (ndim - d - 1)))
    return tuple(key)


def _gather_key(op: str, input: Tensor, dim: int, index: Any) -> tuple[tuple, tuple]:
    """Check a gather/scatter index against the input; the key and the index's shape."""
    index = _index_array(op, index)
    ndim = max(input.ndim, 1)
    d = normalize_dim(dim, input.ndim, op)
    if max(index.ndim, 1) != ndim:
        raise RuntimeError(
            f"{op}: index has {index.ndim} dimensions (shape {tuple(index.shape)}) but the input "
            f"has {input.ndim} (shape {tuple(input.shape)}); they must have the same number"
        )
    shape = input.shape or (1,)
    index = index.reshape(index.shape or (1,))
    for k in range(ndim):
        if k != d and index.shape[k] > shape[k]:
            raise RuntimeError(
                f"{op}: index of shape {tuple(index.shape)} is larger than the input of shape "
                f"{tuple(input.shape)} in dimension {k}; apart from dim={dim}, each index size "
                "must be at most the input's"
            )
    _check_range(op, index, shape[d], dim)
    return _along_key(index, d), index.shape


@tensor_method()
def gather(input: Tensor, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for dim=1 (and alike for other dims)."""
    key, _ = _gather_key("gather", input, dim, index)
    if input.ndim == 0:
        return GetItem.apply(input.reshape(1), key, ARRAY).reshape(())
    return GetItem.apply(input, key, ARRAY)


def _scatter_args(op: str, input: Tensor, dim: int, index: Any, src: Any) -> tuple[tuple, Any]:
    key, index_shape = _gather_key(op, input, dim, index)
    if isinstance(src, (bool, int, float)):
        return key, src
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}: src must be a tensor or value a number, got {type(src).__name__}")
    src_shape = src.shape or (1,)
    if len(src_shape) != len(index_shape) or any(i > s for i, s in zip(index_shape, src_shape)):
        raise RuntimeError(
            f"{op}: src of shape {tuple(src.shape)} is smaller than the index of shape "
            f"{index_shape} in some dimension; src must be at least as large as index"
        )
    src = _as_values(src.reshape(src_shape), input)
    if src_shape != index_shape:
        src = src[tuple(slice(0, n) for n in index_shape)]
    return key, src


def _scatter(op: str, input: Tensor, dim: int, index: Any, src: Any, accumulate: bool) -> Tensor:
    key, src = _scatter_args(op, input, dim, index, src)
    if input.ndim == 0:
        return IndexPut.apply(input.reshape(1), key, ARRAY, src, accumulate).reshape(())
    return IndexPut.apply(input, key, ARRAY, src, accumulate)


def _reduce_flag(op: str, reduce: Any) -> bool:
    if reduce is None:
        return False
    if reduce == "add":
        return True
    raise NotImplementedError(
        f"{op}: reduce={reduce!r} is not supported; use reduce='add' (or scatter_add)"
    )


@tensor_method()
def scatter(input: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``src[i][j][k]`` written at ``[i][index[i][j][k]][k]`` (dim=1).

    ``src`` may be a tensor (at least as large as index) or a number (``value``).
    With repeated indices the last write wins (PyTorch leaves it undefined).
    """
    accumulate = _reduce_flag("scatter", reduce)
    return _scatter("scatter", input, dim, index, value if src is None else src, accumulate)


@tensor_method()
def scatter_add(input: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """Like scatter, but values at repeated indices add up (and add to ``input``)."""
    return _scatter("scatter_add", input, dim, index, src, True)


def _inplace_scatter(op: str, self: Tensor, dim: int, index: Any, src: Any,
                     accumulate: bool) -> Tensor:
    if _recording(self, src):
        return self._replace_inplace(_scatter(op, self, dim, index, src, accumulate), op)
    key, src = _scatter_args(op, self, dim, index, src)
    target = self.array if self.ndim else self.array.reshape(1)
    if accumulate:
        add_at(target, key, ARRAY, value_of(src))
    else:
        target[key] = value_of(src)
    return self._bump_version()


@tensor_method()
def scatter_(self: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None,
             reduce: str | None = None) -> Tensor:
    """In-place ``scatter``."""
    accumulate = _reduce_flag("scatter_", reduce)
    return _inplace_scatter("scatter_", self, dim, index, value if src is None else src, accumulate)


@tensor_method()
def scatter_add_(self: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """In-place ``scatter_add``."""
    return _inplace_scatter("scatter_add_", self, dim, index, src, True)


def _select_key(op: str, input: Tensor, dim: int, index: Any) -> tuple[tuple, int]:
    index = _index_array(op, index)
    if index.ndim > 1:
        raise IndexError(
            f"{op}: index must be a vector (1-d), got shape {tuple(index.shape)}; flatten it first"
        )
    if input.ndim == 0:
        raise IndexError(f"{op}: can't index a zero-dimensional tensor along a dimension")
    d = normalize_dim(dim, input.ndim, op)
    index = index.reshape(-1)
    _check_range(op, index, input.shape[d], dim)
    return (slice(None),) * d + (index,), d


@tensor_method()
def index_select(input: Tensor, dim: int, index: Any) -> Tensor:
    """The entries ``index`` (a 1-d integer tensor) along ``dim``."""
    key, _ = _select_key("index_select", input, dim, index)
    return GetItem.apply(input, key, ARRAY)


def _index_add_args(op: str, input: Tensor, dim: int, index: Any, source: Any,
                    alpha: Any) -> tuple[tuple, Tensor]:
    key, d = _select_key(op, input, dim, index)
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}: source must be a tensor, got {type(source).__name__}")
    expected = input.shape[:d] + (key[d].shape[0],) + input.shape[d + 1:]
    if source.shape != expected:
        raise RuntimeError(
            f"{op}: source has shape {tuple(source.shape)}, expected {expected} (the input's "
            f"shape {tuple(input.shape)} with dimension {dim} of the index's length "
            f"{key[d].shape[0]})"
        )
    source = _as_values(source, input)
    if alpha != 1:
        source = source * alpha
    return key, source


@tensor_method()
def index_add(input: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """``input`` with ``alpha * source[..., i, ...]`` added at ``[..., index[i], ...]``."""
    key, source = _index_add_args("index_add", input, dim, index, source, alpha)
    return IndexPut.apply(input, key, ARRAY, source, True)


@tensor_method()
def index_add_(self: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """In-place ``index_add``."""
    if _recording(self, source):
        return self._replace_inplace(index_add(self, dim, index, source, alpha=alpha), "index_add_")
    key, source = _index_add_args("index_add_", self, dim, index, source, alpha)
    add_at(self.array, key, ARRAY, value_of(source))
    return self._bump_version()


declare(
    OpCase("gather", lambda x, i: x.gather(1, i), [(3, 4), _int((3, 5), 0, 4)],
           ref=lambda x, i: xp.take_along_axis(x, i, 1)),
    OpCase("gather", lambda x, i: x.gather(0, i), [(3, 4), _int((2, 3), 0, 3)],
           ref=lambda x, i: xp.take_along_axis(x[:, :3], i, 0), label="dim0,smaller"),
    OpCase("scatter", lambda x, i, s: x.scatter(1, i, s), [(3, 4), _int((3, 1), 0, 4),
           (3, 1)], ref=lambda x, i, s: _np_write(x, _along_key(i, 1), s)),
    OpCase("scatter", lambda x, i, s: x.scatter(0, i, s), [(3, 4), _int((1, 4), 0, 3),
           (1, 4)], ref=lambda x, i, s: _np_write(x, _along_key(i, 0), s), label="dim0"),
    OpCase("scatter", lambda x, i: x.scatter(1, i, 2.5), [(3, 4), _int((3, 2), 0, 4)],
           ref=lambda x, i: _np_write(x, _along_key(i, 1), 2.5), label="value"),
    OpCase("scatter_add", lambda x, i, s: x.scatter_add(1, i, s),
           [(3, 4), _int((3, 6), 0, 4), (3, 6)],
           ref=lambda x, i, s: _np_write(x, _along_key(i, 1), s, True)),
    OpCase("scatter_add", lambda x, i, s: x.scatter_add(0, i, s),
           [(3, 4), _int((5, 2), 0, 3), (5, 3)],
           ref=lambda x, i, s: _np_write(x, _along_key(i, 0), s[:, :2], True), label="dim0,smaller",
           torch=False),  # PyTorch's own backward fails when src is larger than index
    OpCase("index_select", lambda x, i: x.index_select(0, i), [(4, 3), _int((5,), 0, 4)],
           ref=lambda x, i: x[i]),
    OpCase("index_select", lambda x, i: x.index_select(-1, i), [(2, 4, 3), _int((2,), 0, 3)],
           ref=lambda x, i: x[..., i], label="dim=-1"),
    OpCase("index_add", lambda x, i, s: x.index_add(0, i, s),
           [(4, 3), _int((6,), 0, 4), (6, 3)], ref=lambda x, i, s: _np_write(x, i, s, True)),
    OpCase("index_add", lambda x, i, s: x.index_add(1, i, s, alpha=2),
           [(3, 4), _int((3,), 0, 4), (3, 3)],
           ref=lambda x, i, s: _np_write(x, (slice(None), i), 2 * s, True), label="dim1,alpha"),
)

__all__ = ["gather", "scatter", "scatter_add", "index_select", "index_add"]

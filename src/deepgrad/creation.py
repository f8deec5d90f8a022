"""Making tensors: from data, filled with constants, ranges and random draws.

Signatures follow PyTorch: sizes as ``zeros(2, 3)`` or ``zeros((2, 3))``,
``dtype=`` and ``requires_grad=`` keywords. Floats default to float32 (see
``deepgrad.set_default_dtype``), Python integers to int64.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy

from deepgrad import dtypes
from deepgrad.backend import ndarray, xp
from deepgrad.random import Generator, rng
from deepgrad.tensor import Tensor


def _size(size: tuple, op: str) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, bool) or not isinstance(s, (int, numpy.integer)) or s < 0:
            raise ValueError(f"{op}: the size must be non-negative integers, got {size}")
    return tuple(int(s) for s in size)


def _finish(array: Any, dtype: Any, requires_grad: bool) -> Tensor:
    if dtype is not None:
        array = array.astype(dtypes.to_dtype(dtype).np, copy=False)
    out = Tensor(array)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _float(dtype: Any) -> Any:
    return (dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)).np


def _infer_array(data: Any, dtype: Any = None) -> Any:
    """A backend array for Python data, with PyTorch's dtype inference (or ``dtype``)."""
    if isinstance(data, Tensor):
        return data.array
    if isinstance(data, (ndarray, numpy.ndarray, numpy.generic)):
        return xp.asarray(data)
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flatten(data)):
        data = [_to_nested(d) for d in data]
    try:
        if dtype is not None:  # convert straight to the requested dtype: no float32 detour
            return xp.asarray(numpy.asarray(data, dtype=dtypes.to_dtype(dtype).np))
        array = numpy.asarray(data)
    except ValueError as error:  # ragged nesting, or text where numbers belong
        raise ValueError(
            f"tensor(): can't make a tensor from this {type(data).__name__}: {str(error).rstrip('.')}. Nested lists "
            "must be rectangular (every row the same length) and hold numbers or booleans"
        ) from None
    if array.dtype.kind == "f":
        array = array.astype(dtypes.get_default_dtype().np)
    elif array.dtype.kind in "iu":
        array = array.astype(numpy.int64)
    elif array.dtype.kind not in "b":
        raise TypeError(
            f"tensor(): can't make a tensor from {type(data).__name__} data of dtype {array.dtype}; "
            "pass numbers, nested lists of numbers, or a NumPy array"
        )
    return xp.asarray(array)


def _flatten(data: Any):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flatten(d)
        else:
            yield d


def _to_nested(d: Any) -> Any:
    if isinstance(d, Tensor):
        return d.tolist()
    if isinstance(d, (list, tuple)):
        return [_to_nested(x) for x in d]
    return d


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, scalars, arrays or tensors)."""
    array = _infer_array(data, dtype)
    array = array.astype(dtypes.to_dtype(dtype).np if dtype is not None else array.dtype, copy=True)
    return _finish(array, None, requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with an array or tensor when it can."""
    if isinstance(data, Tensor) and (dtype is None or dtypes.to_dtype(dtype) is data.dtype):
        return data
    return _finish(_infer_array(data), dtype, False)


def from_numpy(array: Any) -> Tensor:
    """A tensor sharing memory with a NumPy array, keeping its dtype."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.from_numpy_dtype(array.dtype)  # refuse unsupported dtypes with a clear message
    return Tensor(xp.asarray(array))


def from_dlpack(obj: Any) -> Tensor:
    """A tensor sharing memory with any object that speaks DLPack."""
    return Tensor(xp.from_dlpack(obj))


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(xp.zeros(_size(size, "zeros"), dtype=_float(dtype)), None, requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(xp.ones(_size(size, "ones"), dtype=_float(dtype)), None, requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(xp.empty(_size(size, "empty"), dtype=_float(dtype)), None, requires_grad)


def full(size: Sequence[int], fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not isinstance(fill_value, (bool, int, float, numpy.number, numpy.bool_)):
        raise TypeError(f"full: fill_value must be a number or a boolean, got {type(fill_value).__name__} "
                        f"{fill_value!r}")
    if dtype is None:
        dtype = dtypes.result_type(fill_value)
    return _finish(xp.full(_size((size,), "full"), fill_value, dtype=dtypes.to_dtype(dtype).np), None, requires_grad)


def _like_dtype(input: Tensor, dtype: Any) -> Any:
    return input.array.dtype if dtype is None else dtypes.to_dtype(dtype).np


def zeros_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(xp.zeros(input.shape, dtype=_like_dtype(input, dtype)), None, requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(xp.ones(input.shape, dtype=_like_dtype(input, dtype)), None, requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(xp.empty(input.shape, dtype=_like_dtype(input, dtype)), None, requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(xp.full(input.shape, fill_value, dtype=_like_dtype(input, dtype)), None, requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` up to (not including) ``end``; int64 unless a bound is a float."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        dtype = dtypes.result_type(start, end, step)
    d = dtypes.to_dtype(dtype)
    if d.is_floating_point:
        # Count the values in float64 as PyTorch does, then compute them.
        count = int(numpy.ceil((float(end) - float(start)) / float(step)))
        array = (xp.arange(max(count, 0), dtype=xp.float64) * step + start).astype(d.np)
    else:
        array = xp.arange(start, end, step, dtype=d.np)
    return _finish(array, None, requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    return _finish(xp.linspace(start, end, steps, dtype=xp.float64).astype(_float(dtype)), None,
                   requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    _size((n,) if m is None else (n, m), "eye")
    return _finish(xp.eye(n, m, dtype=_float(dtype)), None, requires_grad)


# --- random -------------------------------------------------------------------
def _host(array: Any) -> Any:
    return xp.asarray(array)


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    array = rng(generator).random(_size(size, "rand"), dtype=numpy.float64).astype(_float(dtype))
    return _finish(_host(array), None, requires_grad)


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    array = rng(generator).standard_normal(_size(size, "randn")).astype(_float(dtype))
    return _finish(_host(array), None, requires_grad)


def rand_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None) -> Tensor:
    return rand(input.shape, generator=generator, dtype=dtype or input.dtype)


def randn_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None) -> Tensor:
    return randn(input.shape, generator=generator, dtype=dtype or input.dtype)


def randint(*args: Any, size: Sequence[int] | None = None, generator: Generator | None = None,
            dtype: Any = None) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high)."""
    if size is None:
        *bounds, size = args
    else:
        bounds = list(args)
    if len(bounds) == 1:
        low, high = 0, bounds[0]
    elif len(bounds) == 2:
        low, high = bounds
    else:
        raise TypeError("randint(high, size) or randint(low, high, size)")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    array = rng(generator).integers(low, high, size=_size((size,), "randint"), dtype=numpy.int64)
    return _finish(_host(array), dtype, False)


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None) -> Tensor:
    _size((n,), "randperm")
    return _finish(_host(rng(generator).permutation(n).astype(numpy.int64)), dtype, False)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Sequence[int] | None = None, *,
           generator: Generator | None = None, dtype: Any = None) -> Tensor:
    """Normal draws; ``mean`` and ``std`` may be tensors (broadcast) or numbers with ``size``."""
    m = mean.array if isinstance(mean, Tensor) else mean
    s = std.array if isinstance(std, Tensor) else std
    if isinstance(s, (int, float)) and s < 0:
        raise ValueError(f"normal: std must be non-negative, got {s}")
    shape = numpy.broadcast_shapes(numpy.shape(m), numpy.shape(s)) if size is None else _size((size,), "normal")
    z = rng(generator).standard_normal(shape)
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    out_dtype = ref.array.dtype if ref is not None and dtype is None else _float(dtype)
    return _finish(_host((z * s + m).astype(out_dtype)), None, False)


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability ``input`` (or ``p``), else 0, in the dtype of ``input``."""
    probs = input.array if p is None else p
    low, high = xp.min(probs, initial=0.0), xp.max(probs, initial=1.0)
    if not (0.0 <= low and high <= 1.0):  # NaN fails too
        raise ValueError(f"bernoulli: the probabilities must be in [0, 1], got values from {float(low)} "
                         f"to {float(high)}")
    draws = rng(generator).random(input.shape) < probs
    return Tensor(_host(draws.astype(input.array.dtype)))

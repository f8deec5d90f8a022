"""Data types and PyTorch's type-promotion rules.

A ``deepgrad.dtype`` names one backend dtype (``deepgrad.float32.np`` is
``numpy.float32``). Promotion follows PyTorch, not NumPy: a Python scalar never
widens a tensor of its own category (``float32 tensor * 2.5`` stays float32), and
an integer tensor mixed with a Python float becomes the default float dtype.
"""

from __future__ import annotations

from typing import Any

from deepgrad.backend import xp

# Python's own number types, saved before PyTorch's aliases below shadow the names.
_py_float, _py_int, _py_bool = float, int, bool

# Categories order the kinds of number: a higher category wins in promotion.
BOOL, INT, FLOAT = 0, 1, 2


class dtype:
    """A tensor element type, e.g. ``deepgrad.float32``."""

    __slots__ = ("name", "np", "category", "itemsize", "_attribute")

    def __init__(self, name: str, category: int, attribute: str | None = None) -> None:
        self.name = name
        self._attribute = attribute or name  # its name in this module (bool is bool_)
        self.np = xp.dtype(name)
        self.category = category
        self.itemsize = self.np.itemsize

    @property
    def is_floating_point(self) -> bool:
        return self.category == FLOAT

    def __repr__(self) -> str:
        return f"deepgrad.{self.name}"

    def __reduce__(self) -> str:
        return self._attribute  # pickles as the module-level singleton


float16 = dtype("float16", FLOAT)
float32 = dtype("float32", FLOAT)
float64 = dtype("float64", FLOAT)
uint8 = dtype("uint8", INT)
int8 = dtype("int8", INT)
int16 = dtype("int16", INT)
int32 = dtype("int32", INT)
int64 = dtype("int64", INT)
bool_ = dtype("bool", BOOL, "bool_")

half, float, double = float16, float32, float64  # noqa: A001 - PyTorch's aliases
short, int, long = int16, int32, int64  # noqa: A001

ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NUMPY = {d.np: d for d in ALL}

_default_float = float32


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the dtype of new float tensors (float32, or float64 for gradient checks)."""
    global _default_float
    if d not in (float16, float32, float64):
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype: Any) -> dtype:
    """The deepgrad dtype of a backend dtype; a clear error for unsupported ones."""
    found = _BY_NUMPY.get(np_dtype)
    if found is None:
        found = _BY_NUMPY.get(xp.dtype(np_dtype))
    if found is None:
        supported = ", ".join(d.name for d in ALL)
        raise TypeError(f"deepgrad does not support arrays of dtype {np_dtype}; supported: {supported}")
    return found


def to_dtype(d: Any) -> dtype:
    """Accept a deepgrad dtype, a NumPy dtype or type, or a name like 'float32'."""
    if isinstance(d, dtype):
        return d
    if d is _py_float:
        return _default_float
    if d is _py_int:
        return int64
    if d is _py_bool:
        return bool_
    return from_numpy_dtype(xp.dtype(d))


def scalar_category(value: Any) -> int:
    if isinstance(value, _py_bool):
        return BOOL
    if isinstance(value, _py_int):
        return INT
    return FLOAT


def _promote_pair(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.category == FLOAT:
        return a if a.itemsize >= b.itemsize else b
    # Integers: a mix of unsigned and signed of the same width widens, as in PyTorch.
    if a is uint8 or b is uint8:
        other = b if a is uint8 else a
        return int16 if other is int8 else other
    return a if a.itemsize >= b.itemsize else b


def result_type(*operands: Any) -> dtype:
    """The dtype PyTorch gives an op on these operands (tensors and Python scalars).

    Three tiers, as in PyTorch: tensors with dimensions, zero-dimensional tensors,
    then Python scalars. A lower tier only matters when its category is higher.
    """
    dims: dtype | None = None
    zero_dim: dtype | None = None
    scalar_cat = -1
    for op in operands:
        d = getattr(op, "dtype", None)
        if isinstance(d, dtype):
            if op.ndim:
                dims = d if dims is None else _promote_pair(dims, d)
            else:
                zero_dim = d if zero_dim is None else _promote_pair(zero_dim, d)
        else:
            scalar_cat = max(scalar_cat, scalar_category(op))
    result = dims
    if zero_dim is not None and (result is None or zero_dim.category > result.category):
        result = zero_dim
    if result is None or scalar_cat > result.category:
        if scalar_cat == FLOAT:
            return _default_float
        if scalar_cat == INT:
            return int64
        if scalar_cat == BOOL:
            return bool_
    return result

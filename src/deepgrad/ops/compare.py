"""Comparisons, logical and bitwise ops, and float classification: no gradients.

Each returns a bool tensor (bitwise ops on integers return integers) outside
the graph. Operands are promoted to a common dtype first, as PyTorch does, so
``int_tensor == 2.5`` compares in float32 like PyTorch and not in float64 like
NumPy.
"""

from __future__ import annotations

from typing import Any, Callable

from deepgrad import dtypes
from deepgrad.backend import ndarray, xp
from deepgrad.ops._registry import Arg, OpCase, declare, tensor_method
from deepgrad.ops._util import as_operand
from deepgrad.tensor import Tensor


def _values(a: Any, b: Any) -> tuple[Any, Any, dtypes.dtype]:
    """Both operands as arrays/numbers in the dtype PyTorch computes their op in."""
    a, b = as_operand(a), as_operand(b)
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.array.dtype == b.array.dtype:
        return a.array, b.array, a.dtype
    target = dtypes.result_type(a, b)
    return _in(a, target), _in(b, target), target


def _in(x: Any, target: dtypes.dtype) -> Any:
    if isinstance(x, Tensor):
        return x.array if x.array.dtype == target.np else x.array.astype(target.np)
    return x


def _result(array: Any) -> Tensor:
    return Tensor(array if type(array) is ndarray else xp.asarray(array))


def _comparison(name: str, ufunc: Callable, symbol: str) -> Callable:
    def compare(input: Any, other: Any) -> Tensor:
        a, b, _ = _values(input, other)
        return _result(ufunc(a, b))

    compare.__name__ = name
    compare.__qualname__ = name
    compare.__doc__ = f"``input {symbol} other`` elementwise, broadcasting; a bool tensor."
    compare.__annotations__ = {"input": Any, "other": Any, "return": Tensor}
    return compare


eq = tensor_method()(_comparison("eq", xp.equal, "=="))
ne = tensor_method()(_comparison("ne", xp.not_equal, "!="))
lt = tensor_method()(_comparison("lt", xp.less, "<"))
le = tensor_method()(_comparison("le", xp.less_equal, "<="))
gt = tensor_method()(_comparison("gt", xp.greater, ">"))
ge = tensor_method()(_comparison("ge", xp.greater_equal, ">="))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
for _alias, _fn in (("greater", gt), ("greater_equal", ge), ("less", lt), ("less_equal", le),
                    ("not_equal", ne)):
    setattr(Tensor, _alias, _fn)


def _operator(fn: Callable) -> Callable:
    """The ``==``-style operator: unknown operand types are left to Python (NotImplemented)."""

    def method(self: Tensor, other: Any) -> Any:
        if other is None or isinstance(other, (str, bytes, dict, set)):
            return NotImplemented
        return fn(self, other)

    method.__name__ = fn.__name__
    return method


Tensor.__eq__ = _operator(eq)
Tensor.__ne__ = _operator(ne)
Tensor.__lt__ = _operator(lt)
Tensor.__le__ = _operator(le)
Tensor.__gt__ = _operator(gt)
Tensor.__ge__ = _operator(ge)
Tensor.__hash__ = object.__hash__  # defining __eq__ must not make tensors unhashable


# --- logical -------------------------------------------------------------------------
@tensor_method()
def logical_and(input: Any, other: Any) -> Tensor:
    """True where both are nonzero; any dtypes, a bool tensor."""
    return _result(xp.logical_and(_array(input), _array(other)))


@tensor_method()
def logical_or(input: Any, other: Any) -> Tensor:
    """True where either is nonzero; any dtypes, a bool tensor."""
    return _result(xp.logical_or(_array(input), _array(other)))


@tensor_method()
def logical_xor(input: Any, other: Any) -> Tensor:
    """True where exactly one is nonzero; any dtypes, a bool tensor."""
    return _result(xp.logical_xor(_array(input), _array(other)))


@tensor_method()
def logical_not(input: Tensor) -> Tensor:
    """True where ``input`` is zero; a bool tensor."""
    return _result(xp.logical_not(_array(input)))


def _array(x: Any) -> Any:
    x = as_operand(x)
    return x.array if isinstance(x, Tensor) else x


# --- bitwise (integers and booleans) -----------------------------------------------------
def _integral(op: str, *dts: dtypes.dtype) -> None:
    for d in dts:
        if d.is_floating_point:
            raise TypeError(
                f"{op}: only implemented for integer and bool tensors, got {d}; for a truth "
                "value use logical_and/logical_or/logical_xor/logical_not, or convert with .long()"
            )


def _bitwise(name: str, ufunc: Callable, symbol: str) -> Callable:
    def bitwise(input: Any, other: Any) -> Tensor:
        a, b, target = _values(input, other)
        _integral(f"{name} ({symbol})", target)
        return _result(ufunc(a, b))

    bitwise.__name__ = bitwise.__qualname__ = name
    bitwise.__doc__ = f"``input {symbol} other`` bit by bit (logical for bool tensors)."
    bitwise.__annotations__ = {"input": Any, "other": Any, "return": Tensor}
    return bitwise


bitwise_and = tensor_method()(_bitwise("bitwise_and", xp.bitwise_and, "&"))
bitwise_or = tensor_method()(_bitwise("bitwise_or", xp.bitwise_or, "|"))
bitwise_xor = tensor_method()(_bitwise("bitwise_xor", xp.bitwise_xor, "^"))


@tensor_method()
def bitwise_not(input: Tensor) -> Tensor:
    """``~input``: bit flip of integers, logical not of bools."""
    _integral("bitwise_not (~)", input.dtype)
    return _result(xp.invert(input.array))


def _reflected(fn: Callable) -> Callable:
    return lambda self, other: fn(other, self)


Tensor.__and__, Tensor.__rand__ = bitwise_and, _reflected(bitwise_and)
Tensor.__or__, Tensor.__ror__ = bitwise_or, _reflected(bitwise_or)
Tensor.__xor__, Tensor.__rxor__ = bitwise_xor, _reflected(bitwise_xor)
Tensor.__invert__ = bitwise_not


# --- classification and whole-tensor tests -----------------------------------------------
@tensor_method()
def isnan(input: Tensor) -> Tensor:
    """True where the element is nan."""
    return _result(xp.isnan(input.array))


@tensor_method()
def isinf(input: Tensor) -> Tensor:
    """True where the element is +inf or -inf."""
    return _result(xp.isinf(input.array))


@tensor_method()
def isfinite(input: Tensor) -> Tensor:
    """True where the element is neither inf nor nan."""
    return _result(xp.isfinite(input.array))


@tensor_method()
def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and the same elements."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    a, b, _ = _values(input, other)
    return bool(xp.all(a == b))


def _same_dtype(op: str, input: Tensor, other: Any) -> tuple[Any, Any]:
    other = as_operand(other)
    if isinstance(other, Tensor) and other.array.dtype != input.array.dtype:
        raise RuntimeError(
            f"{op}: expected both tensors to have the same dtype, got {input.dtype} and "
            f"{other.dtype}; convert one first, e.g. b.to(a.dtype)"
        )
    return input.array, other.array if isinstance(other, Tensor) else other


@tensor_method()
def isclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (PyTorch's and NumPy's test)."""
    a, b = _same_dtype("isclose", input, other)
    return _result(xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


@tensor_method()
def allclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True if ``isclose`` holds for every element."""
    a, b = _same_dtype("allclose", input, other)
    return bool(xp.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


# --- declared test cases ---------------------------------------------------------
def _int(*shape: int) -> Arg:
    return Arg(shape, 0, 3, "int")


def _bool(*shape: int) -> Arg:
    return Arg(shape, kind="bool")


_NO_GRAD = dict(grad=False)
_NAN, _INF = float("nan"), float("inf")
for _name, _op in (("eq", "__eq__"), ("ne", "__ne__"), ("lt", "__lt__"), ("le", "__le__"),
                   ("gt", "__gt__"), ("ge", "__ge__")):
    _ref = getattr(xp.ndarray, _op)
    declare(
        OpCase(_name, lambda a, b, _n=_name: getattr(a, _n)(b), [(3, 4), (4,)],
               ref=lambda a, b, _o=_op: getattr(a, _o)(b), **_NO_GRAD),
        OpCase(_name, lambda a, b, _o=_op: getattr(a, _o)(b), [_int(2, 3), _int(3)],
               ref=lambda a, b, _o=_op: getattr(a, _o)(b), label="operator,int", **_NO_GRAD),
        OpCase(_name, lambda a, b, _o=_op: getattr(a, _o)(b), [(2, 3), _int(2, 1)],
               ref=lambda a, b, _o=_op: getattr(a, _o)(b), label="float-int", **_NO_GRAD),
        OpCase(_name, lambda a, _o=_op: getattr(a, _o)(1), [_int(5)],
               ref=lambda a, _o=_op: getattr(a, _o)(1), label="scalar", **_NO_GRAD),
        OpCase(_name, lambda a, b, _o=_op: getattr(a, _o)(b), [(), (3,)],
               ref=lambda a, b, _o=_op: getattr(a, _o)(b), label="0d", **_NO_GRAD),
    )

declare(
    OpCase("eq", lambda a: a == a * 1, [_int(4)],
           ref=lambda a: a == a, label="all-true", **_NO_GRAD),
    OpCase("logical_and", lambda a, b: a.logical_and(b), [_bool(3, 4), _int(4)],
           ref=xp.logical_and, **_NO_GRAD),
    OpCase("logical_or", lambda a, b: a.logical_or(b), [(3,), _bool(2, 3)],
           ref=xp.logical_or, **_NO_GRAD),
    OpCase("logical_xor", lambda a, b: a.logical_xor(b), [_int(4), _bool(4)],
           ref=xp.logical_xor, **_NO_GRAD),
    OpCase("logical_not", lambda a: a.logical_not(), [_int(2, 3)], ref=xp.logical_not, **_NO_GRAD),
    OpCase("bitwise_and", lambda a, b: a & b, [_bool(3, 4), _bool(4)], ref=lambda a, b: a & b,
           **_NO_GRAD),
    OpCase("bitwise_and", lambda a, b: a & b, [_int(3), _int(2, 3)], ref=lambda a, b: a & b,
           label="int", **_NO_GRAD),
    OpCase("bitwise_or", lambda a, b: a | b, [_bool(3), _bool(2, 3)], ref=lambda a, b: a | b,
           **_NO_GRAD),
    OpCase("bitwise_or", lambda a: True | a, [_bool(3)], ref=lambda a: True | a,
           label="reflected", **_NO_GRAD),
    OpCase("bitwise_xor", lambda a, b: a ^ b, [_int(5), _int(5)], ref=lambda a, b: a ^ b,
           **_NO_GRAD),
    OpCase("bitwise_not", lambda a: ~a, [_bool(2, 2)], ref=lambda a: ~a, **_NO_GRAD),
    OpCase("bitwise_not", lambda a: ~a, [_int(4)], ref=lambda a: ~a, label="int", **_NO_GRAD),
    OpCase("isnan", lambda a: a.where(a > 0, _NAN).isnan(), [(3, 4)],
           ref=lambda a: xp.isnan(xp.where(a > 0, a, _NAN)), **_NO_GRAD),
    OpCase("isinf", lambda a: a.where(a > 0, -_INF).isinf(), [(3, 4)],
           ref=lambda a: xp.isinf(xp.where(a > 0, a, -_INF)), **_NO_GRAD),
    OpCase("isinf", lambda a: a.isinf(), [_int(3)], ref=xp.isinf, label="int", **_NO_GRAD),
    OpCase("isfinite", lambda a: a.where(a > 1, _INF).where(a > -1, _NAN).isfinite(), [(3, 4)],
           ref=lambda a: xp.isfinite(xp.where(a > -1, xp.where(a > 1, a, _INF), _NAN)),
           **_NO_GRAD),
    OpCase("isclose", lambda a, b: a.isclose(a + b * 1e-5), [(3, 4), (3, 4)],
           ref=lambda a, b: xp.isclose(a, a + b * 1e-5), **_NO_GRAD),
)

__all__ = [
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
    "not_equal", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite", "equal", "isclose",
    "allclose",
]

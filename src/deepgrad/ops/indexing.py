"""Indexing: ``x[key]``, ``x[key] = v``, index_put, masked_fill, masked_select, nonzero ...

Three Functions carry every indexing op, each the other's backward (the index
tensor ops gather, scatter, index_select and index_add, in
:mod:`deepgrad.ops.scatter`, build keys for them):

- ``GetItem(x, key)``: ``x.array[key]`` for a NumPy key (basic slicing, integer
  arrays, boolean masks). ``gather`` and ``index_select`` build such keys.
- ``PutIntoZeros(g, key, shape)``: zeros of ``shape`` with ``g`` added at ``key``
  (repeated indices add up): the backward of ``GetItem``, and ``GetItem`` is its.
- ``IndexPut(x, key, values, accumulate)``: ``x`` with ``values`` written at
  ``key`` (``__setitem__``, ``scatter``) or added (``index_add``, ``scatter_add``).

Adding at repeated indices uses ``xp.bincount`` on linear indices when the
integer arrays index the leading dimensions (the common case: embeddings,
gather), which is several times faster than ``xp.add.at``, the general path.
"""

from __future__ import annotations

import operator
import sys
from typing import Any

from deepgrad import dtypes
from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.ops._registry import Arg, OpCase, declare, tensor_method
from deepgrad.ops._util import shape_of
from deepgrad.tensor import Tensor, value_of

BASIC, MASK, ARRAY = 0, 1, 2  # what a key holds: slices/ints only, boolean masks, integer arrays


# --- keys ----------------------------------------------------------------------------
def prepare_key(key: Any, op: str = "__getitem__") -> tuple[tuple, int]:
    """A NumPy index tuple for a PyTorch-style key, and its kind (BASIC, MASK or ARRAY).

    Tensors become arrays (0-d integer tensors plain ints, as in PyTorch), lists
    become index arrays; negative and zero slice steps are refused. A basic key
    ends with ``...`` so that NumPy always returns a view, never a scalar.
    """
    items = key if type(key) is tuple else (key,)
    out = []
    kind = BASIC
    has_ellipsis = False
    for item in items:
        if item is None or isinstance(item, slice):
            if item is not None and item.step is not None and operator.index(item.step) <= 0:
                raise ValueError(
                    f"{op}: step must be greater than zero, got {item.step} (PyTorch has no "
                    "negative steps either); to reverse a dimension use .flip(dim)"
                )
            out.append(item)
        elif item is Ellipsis:
            has_ellipsis = True
            out.append(item)
        elif isinstance(item, bool):
            kind = max(kind, MASK)
            out.append(item)
        elif isinstance(item, int):
            out.append(item)
        else:
            item, item_kind = _index_item(item, op)
            kind = max(kind, item_kind)
            out.append(item)
    if kind == BASIC and not has_ellipsis:
        out.append(Ellipsis)
    return tuple(out), kind


def _index_item(item: Any, op: str) -> tuple[Any, int]:
    """One tensor, array, list or NumPy scalar of a key, as an int or an index array."""
    array = item.array if isinstance(item, Tensor) else xp.asarray(item)
    kind = array.dtype.kind
    if kind == "f" and array.size == 0 and not isinstance(item, Tensor):
        array, kind = array.astype(xp.int64), "i"  # an empty list
    if kind == "b":
        return array, MASK
    if kind == "u" and array.dtype.itemsize == 1 and isinstance(item, Tensor):
        return array.astype(bool), MASK  # PyTorch's legacy uint8 masks
    if kind not in "iu":
        raise IndexError(
            f"{op}: tensors used as indices must be integer (long) or bool tensors, got "
            f"{_dtype_name(array)}; convert with .long() or .bool()"
        )
    if array.ndim == 0:
        return int(array), BASIC
    return array, ARRAY


def _dtype_name(array: Any) -> str:
    try:
        return str(dtypes.from_numpy_dtype(array.dtype))
    except TypeError:
        return str(array.dtype)


def _describe(key: tuple) -> str:
    parts = []
    for k in key:
        if hasattr(k, "shape"):
            parts.append(f"{'mask' if k.dtype.kind == 'b' else 'index'} of shape {tuple(k.shape)}")
        elif isinstance(k, slice):
            parts.append(":".join("" if v is None else str(v) for v in (k.start, k.stop, k.step)))
        else:
            parts.append("..." if k is Ellipsis else repr(k))
    return "[" + ", ".join(parts) + "]"


def _leading_arrays(key: tuple) -> int:
    """How many integer arrays lead the key, when nothing but full slices or ``...`` follows
    (0 otherwise): the case where linear indices and bincount can replace ``add.at``."""
    k = 0
    while k < len(key) and hasattr(key[k], "dtype"):
        if key[k].dtype.kind == "b":
            return 0
        k += 1
    for rest in key[k:]:
        if rest is not Ellipsis and not (isinstance(rest, slice) and rest == slice(None)):
            return 0
    return k


def add_at(out: Any, key: tuple, kind: int, values: Any) -> Any:
    """``out[key] += values`` in place, adding up repeated indices (``xp.add.at``)."""
    if kind != ARRAY:
        out[key] += values
        return out
    k = _leading_arrays(key)
    if not k or out.dtype.kind != "f" or out.size == 0:
        xp.add.at(out, key, values)
        return out
    linear = None
    for a, n in zip(key[:k], out.shape[:k]):
        if a.dtype.kind == "i":
            a = xp.where(a < 0, a + n, a)  # negative indices count from the end
        linear = a if linear is None else linear * n + a  # broadcasts the index arrays
    trailing = 1
    for n in out.shape[k:]:
        trailing *= n
    full = linear.shape + out.shape[k:]
    weights = values if getattr(values, "shape", None) == full else xp.broadcast_to(values, full)
    weights = weights.reshape(-1)
    linear = linear.reshape(-1)
    if trailing != 1:
        linear = (linear[:, None] * trailing + xp.arange(trailing)).reshape(-1)
    summed = xp.bincount(linear, weights=weights, minlength=out.size).reshape(out.shape)
    out += summed.astype(out.dtype, copy=False)
    return out


# --- the three Functions -----------------------------------------------------------------
class GetItem(Function):
    @staticmethod
    def forward(ctx, x, key, kind):
        ctx.key, ctx.kind, ctx.in_shape = key, kind, x.shape
        try:
            return x.array[key]
        except IndexError as error:
            raise IndexError(
                f"__getitem__: {str(error).replace('axis', 'dimension')} (indexing a tensor of "
                f"shape {tuple(x.shape)} with {_describe(key)})"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return PutIntoZeros.apply(grad, ctx.key, ctx.kind, ctx.in_shape), None, None


class PutIntoZeros(Function):
    @staticmethod
    def forward(ctx, values, key, kind, shape):
        ctx.key, ctx.kind = key, kind
        out = xp.zeros(shape, dtype=values.array.dtype)
        if kind == ARRAY:
            return add_at(out, key, kind, values.array)
        out[key] = values.array
        return out

    @staticmethod
    def backward(ctx, grad):
        return GetItem.apply(grad, ctx.key, ctx.kind), None, None, None


class IndexPut(Function):
    @staticmethod
    def forward(ctx, x, key, kind, values, accumulate):
        ctx.key, ctx.kind, ctx.accumulate = key, kind, accumulate
        ctx.values_shape = shape_of(values)
        out = x.array.copy()
        v = value_of(values)
        try:
            if accumulate:
                return add_at(out, key, kind, v)
            out[key] = v
        except ValueError as error:
            raise ValueError(
                f"index put: can't write values of shape {tuple(shape_of(values))} into the "
                f"indexed part of a tensor of shape {tuple(x.shape)} ({error})"
            ) from None
        return out

    @staticmethod
    def backward(ctx, grad):
        need_x, _, _, need_values, _ = ctx.needs_input_grad
        grad_x = grad_values = None
        if need_x:
            grad_x = grad if ctx.accumulate else IndexPut.apply(grad, ctx.key, ctx.kind, 0.0, False)
        if need_values:
            grad_values = GetItem.apply(grad, ctx.key, ctx.kind).sum_to_size(ctx.values_shape)
        return grad_x, None, None, grad_values, None


def _recording(*tensors: Any) -> bool:
    return is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def _as_values(value: Any, like: Tensor) -> Any:
    """A value to write into ``like``: a number as it is, anything else a tensor of its dtype."""
    if isinstance(value, (bool, int, float)):
        return value
    if not isinstance(value, Tensor):
        from deepgrad.creation import as_tensor

        value = as_tensor(value)
    return value if value.array.dtype == like.array.dtype else value.to(like.dtype)


# --- x[key] and x[key] = value -------------------------------------------------------------
def __getitem__(self: Tensor, key: Any) -> Tensor:
    """Basic slicing (steps > 0, None, ..., negative indices) gives a view; integer-array and
    boolean-mask indexing (tensors, lists, arrays) a copy, as in PyTorch and NumPy."""
    key, kind = prepare_key(key)
    return GetItem.apply(self, key, kind)


def __setitem__(self: Tensor, key: Any, value: Any) -> None:
    """Write ``value`` (a number or a tensor broadcast to the indexed shape) at ``key``.

    Gradients flow to ``value`` at the indexed positions and to the old values
    of this tensor everywhere else; the version counter is bumped.
    """
    key, kind = prepare_key(key, "__setitem__")
    value = _as_values(value, self)
    if _recording(self, value):
        self._replace_inplace(IndexPut.apply(self, key, kind, value, False), "__setitem__")
        return
    try:
        self.array[key] = value_of(value)
    except (IndexError, ValueError) as error:
        raise type(error)(
            f"__setitem__: {str(error).replace('axis', 'dimension')} (a value of shape "
            f"{tuple(shape_of(value))} into a tensor of shape {tuple(self.shape)} at "
            f"{_describe(key)})"
        ) from None
    self._bump_version()


Tensor.__getitem__ = __getitem__
Tensor.__setitem__ = __setitem__


@tensor_method()
def index_put(input: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``values`` written (or added) at ``input[indices]``."""
    key, kind = prepare_key(tuple(indices), "index_put")
    return IndexPut.apply(input, key, kind, _as_values(values, input), bool(accumulate))


@tensor_method()
def index_put_(self: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """In-place ``index_put``."""
    key, kind = prepare_key(tuple(indices), "index_put_")
    values = _as_values(values, self)
    if _recording(self, values):
        return self._replace_inplace(index_put(self, indices, values, accumulate), "index_put_")
    if accumulate:
        add_at(self.array, key, kind, value_of(values))
    else:
        self.array[key] = value_of(values)
    return self._bump_version()


# --- masks -----------------------------------------------------------------------------------
class MaskedFill(Function):
    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.mask, ctx.in_shape = mask, x.shape
        return xp.where(mask, xp.asarray(value_of(value), dtype=x.array.dtype), x.array)

    @staticmethod
    def backward(ctx, grad):
        need_x, _, need_value = ctx.needs_input_grad
        grad_x = MaskedFill.apply(grad, ctx.mask, 0.0).sum_to_size(ctx.in_shape) if need_x else None
        grad_value = MaskedFill.apply(grad, ~ctx.mask, 0.0).sum() if need_value else None
        return grad_x, None, grad_value


def _mask_args(op: str, input: Tensor, mask: Any, value: Any) -> tuple[Any, Any, tuple]:
    if not isinstance(mask, Tensor) or mask.array.dtype.kind != "b":
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(
            f"{op}: expected a boolean mask tensor, got {got}; use mask.bool() or (mask != 0)"
        )
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(
                f"{op}: only supports a 0-dimensional value tensor, got one of shape "
                f"{tuple(value.shape)}; use where(mask, value, input) to fill from a tensor"
            )
        value = _as_values(value, input)
    elif getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()  # a NumPy scalar
    elif not isinstance(value, (bool, int, float)):
        raise TypeError(f"{op}: value must be a number or a 0-d tensor, got {type(value).__name__}")
    try:
        shape = xp.broadcast_shapes(input.shape, mask.shape)
    except ValueError:
        raise RuntimeError(
            f"{op}: the mask of shape {tuple(mask.shape)} can't be broadcast with the input of "
            f"shape {tuple(input.shape)}"
        ) from None
    return mask.array, value, shape


@tensor_method()
def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``input`` with ``value`` (a number or a 0-d tensor) where the boolean ``mask`` is True."""
    mask, value, _ = _mask_args("masked_fill", input, mask, value)
    return MaskedFill.apply(input, mask, value)


@tensor_method()
def masked_fill_(self: Tensor, mask: Tensor, value: Any) -> Tensor:
    """In-place ``masked_fill``; the mask must broadcast to this tensor's shape."""
    mask_array, value, shape = _mask_args("masked_fill_", self, mask, value)
    if shape != self.shape:
        raise RuntimeError(
            f"masked_fill_: the mask of shape {tuple(mask.shape)} doesn't broadcast to the "
            f"tensor's shape {tuple(self.shape)}"
        )
    if _recording(self, value):
        return self._replace_inplace(MaskedFill.apply(self, mask_array, value), "masked_fill_")
    xp.copyto(self.array, xp.asarray(value_of(value), dtype=self.array.dtype), where=mask_array)
    return self._bump_version()


@tensor_method()
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements where ``mask`` is True (both broadcast), as a 1-d tensor."""
    mask_array, _, shape = _mask_args("masked_select", input, mask, 0)
    if mask_array.shape != shape:
        mask_array = xp.broadcast_to(mask_array, shape)
    if input.shape != shape:
        input = input.expand(shape)
    return GetItem.apply(input, (mask_array,), MASK)


@tensor_method()
def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one 1-d tensor per dim."""
    array = input.array
    if as_tuple:
        indices = xp.nonzero(xp.atleast_1d(array))
        return tuple(Tensor(i.astype(xp.int64, copy=False)) for i in indices)
    return Tensor(xp.argwhere(array).astype(xp.int64, copy=False))


@tensor_method()
def argwhere(input: Tensor) -> Tensor:
    """``nonzero(input)``: an (n, ndim) int64 tensor of the non-zero elements' indices."""
    return nonzero(input)


# --- one-hot -------------------------------------------------------------------------------
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor of shape ``tensor.shape + (num_classes,)`` with a 1 at each class index.

    ``num_classes=-1`` takes the largest class in ``tensor`` plus one.
    """
    array = tensor.array
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"one_hot: expected an integer tensor of class indices, got {tensor.dtype}; "
            "use .long()"
        )
    if num_classes == -1:
        if array.size == 0:
            raise RuntimeError("one_hot: can't infer the number of classes from an empty tensor; "
                               "pass num_classes")
        num_classes = int(array.max()) + 1
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {low}")
        if high >= num_classes:
            raise RuntimeError(
                f"one_hot: class value {high} is out of range for num_classes={num_classes}"
            )
    return Tensor((array[..., None] == xp.arange(num_classes)).astype(xp.int64))


def _setitem(key: Any) -> Any:
    """A declared case: ``x[key] = v`` on a copy (a number when no v is given)."""

    def fn(x: Any, v: Any = 2.5) -> Any:
        y = x.clone()
        y[key] = v
        return y

    return fn


def _setitem_mask(x: Any, m: Any, v: Any) -> Any:
    y = x.clone()
    y[m] = v
    return y


def _np_write(x: Any, key: Any, v: Any, add: bool = False) -> Any:
    """The NumPy reference of the writing ops: x[key] = v (or += with repeats) on a copy."""
    x = x.copy()
    if add:
        xp.add.at(x, key, v)
    else:
        x[key] = v
    return x


def _int(shape: tuple, low: int, high: int) -> Arg:
    """An integer index input in [low, high)."""
    return Arg(shape, low, high, kind="int")


def _mask(shape: tuple) -> Arg:
    return Arg(shape, kind="bool")


declare(
    OpCase("getitem", lambda x: x[1], [(3, 4)], ref=lambda x: x[1], label="int"),
    OpCase("getitem", lambda x: x[-1, 2], [(3, 4)], ref=lambda x: x[-1, 2], label="0d-result"),
    OpCase("getitem", lambda x: x[:, 1:3], [(3, 4)], ref=lambda x: x[:, 1:3], label="slice"),
    OpCase("getitem", lambda x: x[::2, 1::2], [(5, 4)], ref=lambda x: x[::2, 1::2],
           label="steps"),
    OpCase("getitem", lambda x: x[None, ..., -1], [(2, 3, 4)], ref=lambda x: x[None, ..., -1],
           label="None,ellipsis"),
    OpCase("getitem", lambda x: x[[0, 2, 2, -1]], [(4, 3)], ref=lambda x: x[[0, 2, 2, -1]],
           label="list-repeated"),
    OpCase("getitem", lambda x, i: x[i], [(4, 3), _int((2, 5), 0, 4)],
           ref=lambda x, i: x[i], label="int-tensor-2d"),
    OpCase("getitem", lambda x, i: x[i], [(6,), _int((8,), -6, 6)],
           ref=lambda x, i: x[i], label="1d-negative"),
    OpCase("getitem", lambda x, i: x[1:, i], [(3, 4, 2), _int((5,), 0, 4)],
           ref=lambda x, i: x[1:, i], label="mixed"),
    OpCase("getitem", lambda x, i, j: x[i, :, j], [(3, 4, 2), _int((5,), 0, 3),
           _int((5,), 0, 2)], ref=lambda x, i, j: x[i, :, j], label="separated"),
    OpCase("getitem", lambda x, m: x[m], [(3, 4), _mask((3, 4))],
           ref=lambda x, m: x[m], label="mask"),
    OpCase("getitem", lambda x, m: x[m, 1:], [(5, 3), _mask((5,))],
           ref=lambda x, m: x[m, 1:], label="mask-mixed"),
    OpCase("setitem", _setitem((slice(1, 3), 0)), [(3, 4), (2,)],
           ref=lambda x, v: _np_write(x, (slice(1, 3), 0), v), label="slice"),
    OpCase("setitem", _setitem(([2, 0],)), [(3, 4), (4,)],
           ref=lambda x, v: _np_write(x, [2, 0], v), label="index-broadcast"),
    OpCase("setitem", _setitem_mask, [(3, 4), _mask((3, 4)), ()],
           ref=lambda x, m, v: _np_write(x, m, v), label="mask,0d-value"),
    OpCase("setitem", _setitem((Ellipsis, 1)), [(2, 3)],
           ref=lambda x: _np_write(x, (Ellipsis, 1), 2.5), label="number"),
    OpCase("masked_fill", lambda x, m: x.masked_fill(m, 1.5), [(3, 4), _mask((3, 4))],
           ref=lambda x, m: xp.where(m, 1.5, x)),
    OpCase("masked_fill", lambda x, m, v: x.masked_fill(m, v), [(3, 4), _mask((4,)), ()],
           ref=lambda x, m, v: xp.where(m, v, x), label="broadcast,tensor-value"),
    OpCase("masked_select", lambda x, m: x.masked_select(m), [(3, 4), _mask((4,))],
           ref=lambda x, m: xp.broadcast_to(x, (3, 4))[xp.broadcast_to(m, (3, 4))]),
    OpCase("nonzero", lambda m: m.nonzero(), [_mask((3, 4))], ref=xp.argwhere,
           grad=False),
    OpCase("nonzero", lambda m: m.nonzero(as_tuple=True), [_mask((3, 4))],
           ref=xp.nonzero, grad=False, label="as_tuple"),
    OpCase("one_hot", lambda i: one_hot(i, 5), [_int((2, 3), 0, 5)],
           ref=lambda i: (i[..., None] == xp.arange(5)).astype(xp.int64), grad=False,
           torch_fn=lambda i: sys.modules["torch"].nn.functional.one_hot(i, 5)),
)

__all__ = ["index_put", "masked_fill", "masked_select", "nonzero", "argwhere", "one_hot"]

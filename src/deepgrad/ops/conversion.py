"""Changing dtype (differentiably), copying, and the dtype shorthands."""

from __future__ import annotations

from typing import Any

from deepgrad import dtypes
from deepgrad.autograd.function import Function
from deepgrad.ops._registry import OpCase, declare, tensor_method
from deepgrad.tensor import Tensor


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.input_dtype = x.dtype
        return x.array.astype(dtype.np)

    @staticmethod
    def backward(ctx, grad):
        return grad.to(ctx.input_dtype), None


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x.array.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


@tensor_method()
def to(self: Tensor, *args: Any, dtype: Any = None, copy: bool = False, **kwargs: Any) -> Tensor:
    """``x.to(dtype)``, ``x.to(other_tensor)`` or ``x.to('cpu')``; a no-op when nothing changes."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
            continue  # one device per backend: the backend decides where arrays live
        else:
            dtype = a
    if dtype is None:
        return self.clone() if copy else self
    target = dtypes.to_dtype(dtype)
    if target.np == self.array.dtype:
        return self.clone() if copy else self
    return Cast.apply(self, target)


@tensor_method()
def type_as(self: Tensor, other: Tensor) -> Tensor:
    return to(self, other.dtype)


@tensor_method()
def clone(input: Tensor) -> Tensor:
    """A copy with its own storage; gradients flow back to ``input``."""
    return Clone.apply(input)


def _shorthand(dtype: dtypes.dtype):
    def convert(self: Tensor) -> Tensor:
        return to(self, dtype)

    convert.__doc__ = f"``x.to({dtype})``"
    return convert


for _name, _dtype in [("float", dtypes.float32), ("double", dtypes.float64), ("half", dtypes.float16),
                      ("long", dtypes.int64), ("int", dtypes.int32), ("short", dtypes.int16),
                      ("bool", dtypes.bool_), ("byte", dtypes.uint8)]:
    setattr(Tensor, _name, _shorthand(_dtype))

declare(
    OpCase("to", lambda x: x.to(dtypes.float32).to(dtypes.float64) if not _is_torch(x)
           else x.float().double(), [(3, 4)], ref=lambda x: x.astype("float32").astype("float64"),
           atol=1e-6, label="float32-roundtrip", grad=False),
    OpCase("clone", lambda x: x.clone(), [(3, 4)], ref=lambda x: x.copy()),
)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


__all__ = ["clone"]

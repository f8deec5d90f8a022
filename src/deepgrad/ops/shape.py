"""Shape ops that never copy data: reshape, view, expand.

Each returns a view when NumPy can make one; backward maps the gradient back
to the input's shape.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare, tensor_method
from deepgrad.tensor import Tensor


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape, copy):
        ctx.in_shape = x.shape
        try:
            return xp.reshape(x.array, shape, copy=copy)
        except ValueError as error:
            verb = "view" if copy is False else "reshape"
            hint = " (the tensor is not contiguous: use .reshape() or .contiguous().view())" \
                if copy is False and "copy" in str(error) else ""
            raise RuntimeError(
                f"{verb}: shape {tuple(shape)} is invalid for a tensor of shape "
                f"{tuple(x.shape)} ({x.array.size} elements){hint}"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None, None


@tensor_method()
def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one entry may be -1); a view when possible."""
    shape = _shape_arg(shape)
    if shape == input.shape:
        return input
    return Reshape.apply(input, shape, None)


@tensor_method()
def view(input: Tensor, *shape: Any) -> Tensor:
    """Like reshape, but always a view: fails instead of copying a non-contiguous tensor."""
    shape = _shape_arg(shape)
    if len(shape) == 1 and not isinstance(shape[0], int):  # view(dtype) reinterprets bits
        raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
    return Reshape.apply(input, shape, False)


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        try:
            return xp.broadcast_to(x.array, shape)
        except ValueError:
            raise RuntimeError(
                f"expand: a tensor of shape {tuple(x.shape)} can't be expanded to {tuple(shape)}: "
                "each dimension must match or be 1, and new dimensions go in front"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.sum_to_size(ctx.in_shape), None


@tensor_method()
def expand(input: Tensor, *sizes: Any) -> Tensor:
    """A broadcast view to ``sizes`` (-1 keeps a dimension); no memory is copied."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the number of "
            f"dimensions ({input.ndim})"
        )
    shape = tuple(input.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    if shape == input.shape:
        return input
    return Expand.apply(input, shape)


@tensor_method()
def broadcast_to(input: Tensor, shape: Any) -> Tensor:
    return expand(input, tuple(shape))


@tensor_method()
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other.shape)


declare(
    OpCase("reshape", lambda x: x.reshape(4, -1), [(2, 3, 4)], ref=lambda x: x.reshape(4, -1)),
    OpCase("view", lambda x: x.view(6, 4), [(2, 3, 4)], ref=lambda x: x.reshape(6, 4)),
    OpCase("expand", lambda x: x.expand(2, 3, -1), [(3, 1)], ref=lambda x: xp.broadcast_to(x, (2, 3, 1))),
    OpCase("expand", lambda x: x.expand(3, 4), [(3, 1)], ref=lambda x: xp.broadcast_to(x, (3, 4)),
           label="1->4"),
    OpCase("broadcast_to", lambda x: x.broadcast_to((2, 4)), [(4,)],
           ref=lambda x: xp.broadcast_to(x, (2, 4))),
)

__all__ = ["reshape", "view", "expand", "broadcast_to", "expand_as"]

"""Elementwise functions of one tensor: exp, log, tanh, relu, ...

Each saves what its derivative needs: ``exp`` its output, ``log`` its input.
"""

from __future__ import annotations

from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare, tensor_method
from deepgrad.tensor import Tensor


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp.exp(x.array)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


@tensor_method()
def exp(input: Tensor) -> Tensor:
    return Exp.apply(_float(input))


def _float(x: Tensor) -> Tensor:
    """Integer tensors become the default float dtype first, as in PyTorch's exp, log, ..."""
    return x if x.array.dtype.kind == "f" else x.float()


declare(
    OpCase("exp", lambda x: x.exp(), [(3, 4)], ref=xp.exp),
    OpCase("exp", lambda x: x.exp(), [()], ref=xp.exp, label="0d"),
)

__all__ = ["exp"]

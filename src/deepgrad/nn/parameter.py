"""``Parameter``: a tensor that a ``Module`` registers as one of its weights.

Assigning a ``Parameter`` to a module attribute (``self.weight = Parameter(...)``)
registers it: it shows up in ``parameters()``, ``state_dict()`` and the
optimizer. Otherwise it is an ordinary leaf tensor that requires grad.
"""

from __future__ import annotations

from typing import Any

from deepgrad.backend import xp
from deepgrad.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor registered as a module weight (``torch.nn.Parameter``).

    ``Parameter(data)`` shares ``data``'s storage (a tensor, or anything
    ``deepgrad.tensor`` accepts, which is copied); ``requires_grad`` defaults to True.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            array = xp.empty((0,), dtype=_default_float())
        elif isinstance(data, Tensor):
            if data.grad_fn is not None:
                data = data.detach()
            array = data.array
        else:
            from deepgrad.creation import tensor

            array = tensor(data).array
        super().__init__(array)
        if requires_grad:
            if array.dtype.kind != "f":
                raise RuntimeError(
                    f"Parameter: only floating point tensors can require gradients, this one has "
                    f"dtype {self.dtype}; pass requires_grad=False or convert it with .float()"
                )
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(Tensor(self.array.copy()), self.requires_grad)
        memo[id(self)] = result
        if self.grad is not None:
            result.grad = Tensor(self.grad.array.copy())
        return result

    def __reduce_ex__(self, protocol: Any) -> tuple:
        from deepgrad.backend import to_host

        return (_rebuild_parameter, (to_host(self.array), self.requires_grad))


def _rebuild_parameter(array: Any, requires_grad: bool) -> Parameter:
    return Parameter(Tensor(xp.asarray(array)), requires_grad)


def _default_float() -> Any:
    from deepgrad import dtypes

    return dtypes.get_default_dtype().np


def is_parameter(obj: Any) -> bool:
    return isinstance(obj, Parameter)


__all__ = ["Parameter"]

"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch's ``torch.nn.utils``).

Both work in place on ``p.grad`` between ``loss.backward()`` and
``optimizer.step()``, on the backend arrays, outside autograd:

    loss.backward()
    clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
"""

from __future__ import annotations

import types
import warnings
from typing import Any, Iterable, Union

from deepgrad import dtypes
from deepgrad.backend import xp
from deepgrad.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]

TensorOrTensors = Union[Tensor, Iterable[Tensor]]


def _tensor_list(tensors: TensorOrTensors, op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        return [tensors]
    is_generator = isinstance(tensors, types.GeneratorType)
    tensors = list(tensors)
    if is_generator and not tensors:
        warnings.warn(f"{op}: `parameters` is an empty generator, no gradient clipping will occur.",
                      stacklevel=3)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors (e.g. model.parameters()), got a {type(t).__name__}")
    return tensors


def _norm(a: Any, p: float) -> Any:
    """The p-norm of a whole array as a 0-d array in its dtype (one or two backend calls)."""
    if p == 2.0:
        flat = a.reshape(-1)
        return xp.sqrt(xp.dot(flat, flat))
    if p == float("inf"):
        return xp.abs(a).max() if a.size else xp.zeros((), a.dtype)
    if p == float("-inf"):
        return xp.abs(a).min() if a.size else xp.asarray(float("inf"), a.dtype)
    if p == 0.0:
        return xp.asarray(xp.count_nonzero(a), dtype=a.dtype)
    if p == 1.0:
        return xp.abs(a).sum()
    return (xp.abs(a) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors: TensorOrTensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together, as if concatenated into one vector.

    ``norm_type`` may be ``float('inf')`` (the largest absolute value). Returns
    a 0-d tensor (0.0 when there are no tensors).
    """
    tensors = _tensor_list(tensors, "get_total_norm")
    p = float(norm_type)
    if not tensors:
        return Tensor(xp.zeros((), dtype=dtypes.get_default_dtype().np))
    dtype = xp.result_type(*[t.array.dtype for t in tensors])
    norms = xp.stack([_norm(t.array, p).astype(dtype, copy=False) for t in tensors])
    total = _norm(norms, p)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite "
            "norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor(xp.asarray(total, dtype=dtype))


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the gradients by ``max_norm / (total_norm + 1e-6)`` when that is below 1."""
    grads = [p.grad for p in _tensor_list(parameters, "clip_grads_with_norm_") if p.grad is not None]
    if not grads:
        return
    total = total_norm.array if isinstance(total_norm, Tensor) else xp.asarray(total_norm)
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)  # in the norm's dtype, as PyTorch
    if coef == 1.0:  # multiplying by 1 changes nothing; NaN still goes through, as in PyTorch
        return
    for g in grads:
        g.array *= coef
        g._version[0] += 1


def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients in place so that their total norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if concatenated into one
    vector; if it exceeds ``max_norm`` every gradient is multiplied by
    ``max_norm / (total_norm + 1e-6)``.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` to clip.
        max_norm: the largest allowed norm.
        norm_type: the p of the p-norm (default 2; ``float('inf')`` for the max norm).
        error_if_nonfinite: raise if the total norm is NaN or infinite.
        foreach: accepted for PyTorch compatibility; ignored.

    Returns:
        The total norm before clipping (a 0-d tensor).
    """
    parameters = _tensor_list(parameters, "clip_grad_norm_")
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_`."""
    warnings.warn("`deepgrad.nn.utils.clip_grad_norm` is deprecated in favor of "
                  "`deepgrad.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    for p in _tensor_list(parameters, "clip_grad_value_"):
        if p.grad is not None:
            g = p.grad.array
            xp.clip(g, -clip_value, clip_value, out=g)
            p.grad._version[0] += 1

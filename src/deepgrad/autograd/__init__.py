"""Reverse-mode automatic differentiation: ``backward``, ``grad`` and custom ``Function``s."""

from __future__ import annotations

from typing import Any, Sequence

from deepgrad.autograd.engine import run_backward
from deepgrad.autograd.function import Context, Function
from deepgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from deepgrad.autograd.gradcheck import gradcheck, gradgradcheck
from deepgrad.backend import xp
from deepgrad.tensor import Tensor


def _as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _root_grads(outputs: list, grad_outputs: Any) -> list:
    given = _as_list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if len(given) != len(outputs):
        raise ValueError(
            f"grad_outputs has {len(given)} entries but there are {len(outputs)} outputs"
        )
    grads = []
    for out, g in zip(outputs, given):
        if g is None:
            if out.array.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs, but the "
                    f"output has shape {tuple(out.shape)}. Reduce it first (e.g. loss.sum() or "
                    "loss.mean()), or pass gradient= a tensor of that shape."
                )
            g = Tensor(xp.ones(out.array.shape, dtype=out.array.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor(xp.asarray(g, dtype=out.array.dtype))
        if g.shape != out.shape:
            raise RuntimeError(
                f"backward: the gradient has shape {tuple(g.shape)} but the output has shape "
                f"{tuple(out.shape)}; they must match"
            )
        grads.append(g)
    return grads


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Sequence[Any] | None = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves."""
    outputs = _as_list(tensors)
    grads = _root_grads(outputs, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        targets = _as_list(inputs)
        found = run_backward(outputs, grads, retain_graph, create_graph, targets)
        for t, g in zip(targets, found):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    run_backward(outputs, grads, retain_graph, create_graph)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated."""
    outs = _as_list(outputs)
    targets = _as_list(inputs)
    for i, t in enumerate(targets):
        if not t.requires_grad:
            raise RuntimeError(
                f"autograd.grad: input {i} (shape {tuple(t.shape)}) does not require grad"
            )
    if retain_graph is None:
        retain_graph = create_graph
    found = run_backward(outs, _root_grads(outs, grad_outputs), retain_graph, create_graph, targets)
    for i, g in enumerate(found):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"autograd.grad: input {i} (shape {tuple(targets[i].shape)}) was not used to "
                "compute the outputs; pass allow_unused=True if that is expected"
            )
    return tuple(found)


__all__ = [
    "Context", "Function", "backward", "grad", "gradcheck", "gradgradcheck",
    "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled",
]

"""Dense layers: ``linear`` (one fused op, ``x @ W.T + b``), ``bilinear``, distances and
``normalize``.

``linear`` is a single ``Function``: forward is one BLAS product (over all
leading dimensions at once) plus the bias; backward is two products and a sum,
written with tensor ops so it is differentiable again.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare
from deepgrad.tensor import Tensor


def torch_functional(name: str, **fixed: Any) -> Any:
    """For declared cases: ``torch.nn.functional.<name>(*args, **fixed)``, imported when called."""

    def call(*args: Any, **kwargs: Any) -> Any:
        import torch

        return getattr(torch.nn.functional, name)(*args, **fixed, **kwargs)

    return call


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        a, w = x.array, weight.array
        out_features = w.shape[0]
        if a.ndim > 2 and a.flags.c_contiguous:
            y = (a.reshape(-1, a.shape[-1]) @ w.T).reshape(a.shape[:-1] + (out_features,))
        else:
            y = xp.matmul(a, w.T)
        if bias is not None:
            y += bias.array
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        out_features, in_features = weight.shape
        if not is_grad_enabled():  # no graph of the backward pass: arrays will do
            return _array_backward(grad.array, x.array, weight.array, need_x, need_w, need_b)
        grad_x = grad_w = grad_b = None
        if need_x:
            grad_x = grad.matmul(weight)
        if need_w or need_b:
            grad2 = grad if grad.ndim == 2 else grad.reshape(-1, out_features)
            if need_w:
                x2 = x if x.ndim == 2 else x.reshape(-1, in_features)
                grad_w = grad2.t().matmul(x2)
            if need_b:
                grad_b = grad2.sum(0)
        return grad_x, grad_w, grad_b


def _array_backward(g: Any, x: Any, w: Any, need_x: bool, need_w: bool, need_b: bool) -> tuple:
    """Linear's backward on arrays: the same products as the tensor-op version, none of
    its per-op bookkeeping (a third of a small network's step)."""
    g2 = g.reshape(-1, g.shape[-1])
    grad_x = Tensor(xp.matmul(g, w)) if need_x else None
    grad_w = Tensor(xp.matmul(g2.T, x.reshape(-1, x.shape[-1]))) if need_w else None
    grad_b = Tensor(xp.sum(g2, axis=0)) if need_b else None
    return grad_x, grad_w, grad_b


def _check_linear(input: Any, weight: Any, bias: Any) -> None:
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(
            f"linear: expected tensors for input and weight, got {type(input).__name__} and "
            f"{type(weight).__name__}"
        )
    if weight.ndim != 2:
        raise RuntimeError(
            f"linear: weight must be 2-d (out_features, in_features), got shape {tuple(weight.shape)}"
        )
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        got = input.shape[-1] if input.ndim else "none (a 0-d tensor)"
        raise RuntimeError(
            f"linear: input of shape {tuple(input.shape)} has last dimension {got}, but the "
            f"weight of shape {tuple(weight.shape)} expects {weight.shape[1]} features"
        )
    if input.array.dtype != weight.array.dtype:
        raise RuntimeError(
            f"linear: input has dtype {input.dtype} but weight has dtype {weight.dtype}; convert "
            "one of them (model.double() / model.float(), or x.to(weight.dtype))"
        )
    if bias is not None:
        if bias.shape != (weight.shape[0],):
            raise RuntimeError(
                f"linear: bias must have shape ({weight.shape[0]},) to match weight "
                f"{tuple(weight.shape)}, got {tuple(bias.shape)}"
            )
        if bias.array.dtype != weight.array.dtype:
            raise RuntimeError(
                f"linear: bias has dtype {bias.dtype} but weight has dtype {weight.dtype}"
            )


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` as one op.

    Shape:
        input (..., in_features), weight (out_features, in_features),
        bias (out_features,) -> output (..., out_features)
    """
    _check_linear(input, weight, bias)
    return Linear.apply(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o]``, with one matrix product.

    Shape:
        input1 (..., in1), input2 (..., in2), weight (out, in1, in2), bias (out,)
        -> output (..., out)
    """
    if weight.ndim != 3:
        raise RuntimeError(
            f"bilinear: weight must be 3-d (out, in1, in2), got shape {tuple(weight.shape)}"
        )
    out, in1, in2 = weight.shape
    if input1.ndim == 0 or input1.shape[-1] != in1 or input2.ndim == 0 or input2.shape[-1] != in2 \
            or input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            f"bilinear: inputs of shapes {tuple(input1.shape)} and {tuple(input2.shape)} don't fit "
            f"weight {tuple(weight.shape)}: expected (..., {in1}) and (..., {in2}) with the same "
            "leading dimensions"
        )
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (N, in1) @ (in1, out * in2) -> (N, out, in2), then contract in2 with x2.
    w = weight.permute(1, 0, 2).reshape(in1, out * in2)
    y = (x1.matmul(w).reshape(-1, out, in2) * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out,))


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dimension (as ``torch.pairwise_distance``).

    Shape:
        x1 (..., D), x2 broadcastable to it -> (...)
    """
    diff = (x1 - x2) + eps
    if p == 2:
        return (diff * diff).sum(-1, keepdim=keepdim).sqrt()
    if p == 1:
        return diff.abs().sum(-1, keepdim=keepdim)
    return (diff.abs() ** p).sum(-1, keepdim=keepdim) ** (1.0 / p)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1 . x2 / max(||x1|| * ||x2||, eps)`` along ``dim`` (as ``torch.cosine_similarity``).

    Shape:
        x1, x2 broadcastable, reduced over ``dim``
    """
    dot = (x1 * x2).sum(dim)
    n1 = (x1 * x1).sum(dim).sqrt().clamp(min=eps)
    n2 = (x2 * x2).sum(dim).sqrt().clamp(min=eps)
    return dot / (n1 * n2)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim`` (as ``torch.nn.functional.normalize``).

    Shape:
        any -> same
    """
    if p == 2:
        norm = (input * input).sum(dim, keepdim=True).sqrt()
    elif p == 1:
        norm = input.abs().sum(dim, keepdim=True)
    else:
        norm = (input.abs() ** p).sum(dim, keepdim=True) ** (1.0 / p)
    return input / norm.clamp(min=eps)


declare(
    OpCase("normalize", lambda x: normalize(x), [(3, 4)],
           ref=lambda x: x / xp.sqrt((x * x).sum(1, keepdims=True)), torch_fn=torch_functional("normalize")),
    OpCase("normalize", lambda x: normalize(x, p=1, dim=0), [(3, 4)], label="p1,dim0",
           ref=lambda x: x / xp.abs(x).sum(0, keepdims=True),
           torch_fn=torch_functional("normalize", p=1, dim=0)),
    OpCase("linear", lambda x, w, b: linear(x, w, b), [(4, 3), (5, 3), (5,)],
           ref=lambda x, w, b: x @ w.T + b,
           torch_fn=torch_functional("linear")),
    OpCase("linear", lambda x, w: linear(x, w), [(2, 3, 4), (2, 4)], ref=lambda x, w: x @ w.T,
           torch_fn=torch_functional("linear"), label="3d,nobias"),
    OpCase("linear", lambda x, w, b: linear(x, w, b), [(3,), (2, 3), (2,)],
           ref=lambda x, w, b: x @ w.T + b, label="1d",
           torch_fn=torch_functional("linear")),
    OpCase("bilinear", lambda a, b, w, c: bilinear(a, b, w, c), [(3, 2), (3, 4), (2, 2, 4), (2,)],
           ref=lambda a, b, w, c: xp.einsum("ni,oij,nj->no", a, w, b) + c,
           torch_fn=torch_functional("bilinear")),
    OpCase("pairwise_distance", lambda a, b: pairwise_distance(a, b), [(3, 4), (3, 4)],
           ref=lambda a, b: xp.sqrt(((a - b + 1e-6) ** 2).sum(-1)),
           torch_fn=torch_functional("pairwise_distance")),
    OpCase("pairwise_distance", lambda a, b: pairwise_distance(a, b, p=3, keepdim=True),
           [(3, 4), (3, 4)], label="p3",
           torch_fn=torch_functional("pairwise_distance", p=3, keepdim=True)),
    OpCase("cosine_similarity", lambda a, b: cosine_similarity(a, b), [(3, 4), (3, 4)],
           ref=lambda a, b: (a * b).sum(1) / xp.sqrt((a * a).sum(1) * (b * b).sum(1)),
           torch_fn=torch_functional("cosine_similarity")),
)

__all__ = ["linear", "bilinear", "pairwise_distance", "cosine_similarity", "normalize"]

"""Embedding lookup: rows of a weight matrix picked by integer indices.

The lookup is one ``take``; its backward adds each output gradient into the
row it came from (``EmbeddingBackward``, one unbuffered ``add.at``), leaving the
``padding_idx`` row at zero. The two ops are each other's adjoints, so double
backward works.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import no_grad
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare
from deepgrad.tensor import Tensor


def _scatter_rows(grad: Any, indices: Any, num_rows: int, padding_idx: int | None,
                  scale_grad_by_freq: bool) -> Any:
    """The (num_rows, D) sum of the rows of ``grad`` (..., D) into ``indices`` (...)."""
    dim = grad.shape[-1]
    flat_idx = indices.reshape(-1)
    flat_grad = grad.reshape(-1, dim)
    if scale_grad_by_freq:
        counts = xp.bincount(flat_idx, minlength=num_rows)
        flat_grad = flat_grad / counts[flat_idx][:, None].astype(grad.dtype)
    out = xp.zeros((num_rows, dim), dtype=grad.dtype)
    xp.add.at(out, flat_idx, flat_grad)
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


class EmbeddingLookup(Function):
    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.indices = indices
        ctx.num_rows = weight.shape[0]
        ctx.options = (padding_idx, scale_grad_by_freq)
        return xp.take(weight.array, indices, axis=0)

    @staticmethod
    def backward(ctx, grad):
        return EmbeddingBackward.apply(grad, ctx.indices, ctx.num_rows, *ctx.options), None, None, None


class EmbeddingBackward(Function):
    @staticmethod
    def forward(ctx, grad, indices, num_rows, padding_idx, scale_grad_by_freq):
        ctx.indices = indices
        ctx.options = (padding_idx, scale_grad_by_freq)
        return _scatter_rows(grad.array, indices, num_rows, padding_idx, scale_grad_by_freq)

    @staticmethod
    def backward(ctx, grad):
        padding_idx, scale_grad_by_freq = ctx.options
        g = grad
        if padding_idx is not None or scale_grad_by_freq:
            rows = xp.ones(grad.shape[0], dtype=grad.array.dtype)
            if padding_idx is not None:
                rows[padding_idx] = 0
            g = grad * Tensor(rows[:, None])
        out = EmbeddingLookup.apply(g, ctx.indices, None, False)
        if scale_grad_by_freq:
            counts = xp.bincount(ctx.indices.reshape(-1), minlength=grad.shape[0])
            out = out / Tensor(counts[ctx.indices][..., None].astype(grad.array.dtype))
        return out, None, None, None, None


def _renorm_(weight: Tensor, indices: Any, max_norm: float, norm_type: float) -> None:
    """Scale the looked-up rows whose norm exceeds ``max_norm`` down to it, in place."""
    rows = xp.unique(indices.reshape(-1))
    w = weight.array[rows]
    if norm_type == float("inf"):
        norms = xp.abs(w).max(axis=1)
    else:
        norms = (xp.abs(w) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    over = norms > max_norm
    if over.any():
        scale = max_norm / (norms[over] + 1e-7)
        weight.array[rows[over]] = w[over] * scale[:, None].astype(w.dtype)
        weight._bump_version()


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``.

    ``padding_idx``'s row gets no gradient. With ``max_norm``, looked-up rows
    whose ``norm_type``-norm exceeds it are rescaled in place first (as PyTorch).
    ``sparse`` gradients are not supported (dense ones are produced).

    Shape:
        input (*) int64, weight (num_embeddings, embedding_dim) -> (*, embedding_dim)
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"embedding: expected an integer Tensor of indices, got {type(input).__name__}")
    if input.array.dtype.kind not in "iu":
        raise TypeError(
            f"embedding: indices must be an integer tensor (int64 or int32), got {input.dtype} of "
            f"shape {tuple(input.shape)}; convert them with .long()"
        )
    if weight.ndim != 2:
        raise RuntimeError(
            f"embedding: weight must be 2-d (num_embeddings, embedding_dim), got {tuple(weight.shape)}"
        )
    num = weight.shape[0]
    indices = input.array
    if indices.size:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= num:
            bad = low if low < 0 else high
            raise IndexError(
                f"embedding: index {bad} is out of range for a table of {num} embeddings "
                f"(valid: 0..{num - 1}); check the vocabulary size (num_embeddings)"
            )
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings {num}")
        padding_idx %= num
    if max_norm is not None:
        with no_grad():
            _renorm_(weight, indices, max_norm, norm_type)
    return EmbeddingLookup.apply(weight, indices, padding_idx, scale_grad_by_freq)


def _lookup_case(padding_idx: Any = None, freq: bool = False) -> Any:
    idx = Tensor(xp.asarray([[0, 2, 1], [2, 2, 4]]))

    def fn(w: Any) -> Any:
        if isinstance(w, Tensor):
            return embedding(idx, w, padding_idx=padding_idx, scale_grad_by_freq=freq)
        import torch

        return torch.nn.functional.embedding(torch.as_tensor(idx.array), w, padding_idx=padding_idx,
                                             scale_grad_by_freq=freq)

    return fn


declare(
    OpCase("embedding", _lookup_case(), [(5, 3)],
           ref=lambda w: w[xp.asarray([[0, 2, 1], [2, 2, 4]])]),
    OpCase("embedding", _lookup_case(padding_idx=2), [(5, 3)], label="padding_idx", grad=False),
    OpCase("embedding", _lookup_case(freq=True), [(5, 3)], label="scale_grad_by_freq", grad=False),
)

__all__ = ["embedding"]

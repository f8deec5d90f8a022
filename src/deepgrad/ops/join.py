"""Joining and splitting: cat, stack, split, chunk, unbind.

``cat`` and ``split`` are each other's backward, and so are ``stack`` and
``unbind``: the gradient of a join is split back into the pieces, the gradient
of a split (one per output; the engine fills in zeros for unused outputs) is
joined. ``split``, ``chunk`` and ``unbind`` return views of the input, as in
PyTorch; ``cat`` and ``stack`` copy.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

from deepgrad import dtypes
from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.ops._registry import Arg, OpCase, declare, tensor_method
from deepgrad.ops._util import normalize_dim
from deepgrad.tensor import Tensor


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        ctx.dim = dim
        ctx.sizes = tuple(t.shape[dim] for t in tensors)
        return xp.concatenate([t.array for t in tensors], axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return (None, *Split.apply(grad, ctx.sizes, ctx.dim))


class Split(Function):
    @staticmethod
    def forward(ctx, x, sizes, dim):
        ctx.dim = dim
        lead = (slice(None),) * dim
        pieces = []
        start = 0
        for size in sizes:
            pieces.append(x.array[lead + (slice(start, start + size), Ellipsis)])
            start += size
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):
        return Cat.apply(ctx.dim, *grads), None, None


class Stack(Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        ctx.dim = dim
        return xp.stack([t.array for t in tensors], axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return (None, *Unbind.apply(grad, ctx.dim))


class Unbind(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        lead = (slice(None),) * dim
        return tuple(x.array[lead + (i, Ellipsis)] for i in range(x.shape[dim]))

    @staticmethod
    def backward(ctx, *grads):
        return Stack.apply(ctx.dim, *grads), None


def _tensor_list(op: str, tensors: Any) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(
            f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}; "
            f"write {op}([a, b], dim) rather than {op}(a, b)"
        )
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: element {i} of the list is a {type(t).__name__}, not a Tensor")
    return list(tensors)


def _promoted(tensors: list[Tensor]) -> list[Tensor]:
    """The tensors in their common dtype (PyTorch's promotion), cast where needed."""
    first = tensors[0].array.dtype
    if all(t.array.dtype == first for t in tensors):
        return tensors
    target = tensors[0].dtype
    for t in tensors[1:]:
        target = dtypes._promote_pair(target, t.dtype)
    return [t if t.array.dtype == target.np else t.to(target) for t in tensors]


def _shapes(tensors: list[Tensor]) -> str:
    return ", ".join(str(tuple(t.shape)) for t in tensors)


@tensor_method()
def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension ``dim``; dtypes are promoted as in PyTorch.

    All shapes must match except in ``dim``. 1-d empty tensors (shape (0,)) are
    skipped, as in PyTorch.
    """
    tensors = _tensor_list("cat", tensors)
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(
                f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated; "
                "use stack, or unsqueeze it first"
            )
    if any(t.ndim != 1 or t.shape[0] != 0 for t in tensors):
        kept = [t for t in tensors if t.ndim != 1 or t.shape[0] != 0]
        if len(kept) != len(tensors) and kept and kept[0].ndim != 1:
            tensors = kept
    reference = tensors[0]
    d = normalize_dim(dim, reference.ndim, "cat")
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != reference.ndim or any(
            a != b for k, (a, b) in enumerate(zip(t.shape, reference.shape)) if k != d
        ):
            raise RuntimeError(
                f"cat: sizes of tensors must match except in dimension {dim}: tensor {i} has "
                f"shape {tuple(t.shape)}, tensor 0 has shape {tuple(reference.shape)} "
                f"(all shapes: {_shapes(tensors)})"
            )
    return Cat.apply(d, *_promoted(tensors))


concat = concatenate = cat


@tensor_method()
def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of equal shape along a new dimension ``dim``."""
    tensors = _tensor_list("stack", tensors)
    shape = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != shape:
            raise RuntimeError(
                f"stack: expects each tensor to be equal size, but got {tuple(shape)} at entry 0 "
                f"and {tuple(t.shape)} at entry {i}"
            )
    rank = len(shape) + 1
    if not -rank <= dim < rank:
        raise IndexError(
            f"stack: dimension {dim} is out of range for stacking tensors of shape "
            f"{tuple(shape)} (expected a value in [{-rank}, {rank - 1}])"
        )
    return Stack.apply(dim % rank, *_promoted(tensors))


@tensor_method()
def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Views of consecutive pieces along ``dim``: of equal size (the last may be smaller)
    when given an int, of the given sizes when given a list."""
    d = normalize_dim(dim, tensor.ndim, "split")
    if tensor.ndim == 0:
        raise RuntimeError("split: can't split a zero-dimensional tensor")
    size = tensor.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = tuple(int(s) for s in split_size_or_sections)
        if any(s < 0 for s in sizes) or sum(sizes) != size:
            raise RuntimeError(
                f"split: split sizes {sizes} must be non-negative and sum to the size {size} of "
                f"dimension {dim} (tensor of shape {tuple(tensor.shape)})"
            )
    else:
        step = int(split_size_or_sections)
        if step < 0 or (step == 0 and size != 0):
            raise RuntimeError(
                f"split: split_size must be a positive integer, got {split_size_or_sections} "
                f"(dimension {dim} has size {size})"
            )
        if size == 0:
            sizes = (0,)
        else:
            sizes = (step,) * (size // step) + ((size % step,) if size % step else ())
    return Split.apply(tensor, sizes, d)


@tensor_method()
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` views of (nearly) equal size along ``dim``; may give fewer."""
    if int(chunks) <= 0:
        raise RuntimeError(f"chunk: chunks must be a positive integer, got {chunks}")
    d = normalize_dim(dim, input.ndim, "chunk")
    if input.ndim == 0:
        raise RuntimeError("chunk: can't chunk a zero-dimensional tensor")
    size = input.shape[d]
    if size == 0:
        return split(input, [0] * int(chunks), d)
    return split(input, -(-size // int(chunks)), d)


@tensor_method()
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim`` as a tuple of views (each without that dimension)."""
    if input.ndim == 0:
        raise IndexError("unbind: can't unbind a zero-dimensional tensor")
    d = normalize_dim(dim, input.ndim, "unbind")
    if input.shape[d] == 0:
        return ()
    return Unbind.apply(input, d)


def _cat_ref(*arrays: Any, axis: int = 0) -> Any:
    return xp.concatenate(arrays, axis=axis)


def _ns(t: Any) -> Any:
    """The library a tensor belongs to (deepgrad, or torch in the cross-checks), so a declared
    case can call ``cat`` as a function; looked up, never imported."""
    return sys.modules[type(t).__module__.partition(".")[0]]


declare(
    OpCase("cat", lambda a, b: _ns(a).cat([a, b]), [(2, 3), (4, 3)],
           ref=lambda a, b: _cat_ref(a, b)),
    OpCase("cat", lambda a, b, c: _ns(a).cat([a, b, c], dim=-1), [(2, 3), (2, 1), (2, 2)],
           ref=lambda a, b, c: _cat_ref(a, b, c, axis=-1), label="dim=-1"),
    OpCase("cat", lambda a, b: _ns(a).cat((a, b), 1).exp(), [(2, 3, 2), (2, 0, 2)],
           ref=lambda a, b: xp.exp(_cat_ref(a, b, axis=1)), label="empty-piece"),
    OpCase("cat", lambda a, i: _ns(a).cat([a, i]), [(2, 3), Arg((1, 3), 0, 5, kind="int")],
           ref=lambda a, i: _cat_ref(a, i), label="int-promoted"),
    OpCase("concat", lambda a, b: _ns(a).concat([a, b], dim=1), [(2, 3), (2, 2)],
           ref=lambda a, b: _cat_ref(a, b, axis=1)),
    OpCase("stack", lambda a, b: _ns(a).stack([a, b]), [(2, 3), (2, 3)],
           ref=lambda a, b: xp.stack([a, b])),
    OpCase("stack", lambda a, b, c: _ns(a).stack([a, b, c], dim=-1), [(2, 3), (2, 3), (2, 3)],
           ref=lambda a, b, c: xp.stack([a, b, c], axis=-1), label="dim=-1"),
    OpCase("stack", lambda a, b: _ns(a).stack([a, b], -1), [(), ()],
           ref=lambda a, b: xp.stack([a, b]), label="0d"),
    OpCase("split", lambda x: x.split(2), [(5, 3)], ref=lambda x: (x[:2], x[2:4], x[4:])),
    OpCase("split", lambda x: x.split([1, 3], dim=-1), [(2, 4)],
           ref=lambda x: (x[:, :1], x[:, 1:]), label="sections"),
    OpCase("split", lambda x: x.split(2, 1)[1], [(2, 5)], ref=lambda x: x[:, 2:4],
           label="one-output-used"),
    OpCase("chunk", lambda x: x.chunk(3, 1), [(2, 7)],
           ref=lambda x: (x[:, :3], x[:, 3:6], x[:, 6:])),
    OpCase("unbind", lambda x: x.unbind(1), [(2, 3)],
           ref=lambda x: tuple(x[:, i] for i in range(3))),
    OpCase("unbind", lambda x: x.unbind()[0] * 2, [(3,)], ref=lambda x: x[0] * 2, label="0d-out"),
)


__all__ = ["cat", "concat", "concatenate", "stack", "split", "chunk", "unbind"]

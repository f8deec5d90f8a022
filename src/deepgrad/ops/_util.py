"""Small helpers shared by op files: dimension arguments and operand shapes."""

from __future__ import annotations

from typing import Any

from deepgrad.tensor import Tensor


def shape_of(x: Any) -> tuple[int, ...]:
    return x.array.shape if isinstance(x, Tensor) else ()


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dimension index in [0, ndim), accepting negative ones as PyTorch does."""
    rank = max(ndim, 1)  # a 0-d tensor accepts dim 0 and -1
    if not -rank <= dim < rank:
        raise IndexError(
            f"{op}: dimension {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected a value in [{-rank}, {rank - 1}])"
        )
    return dim % rank if ndim else 0


def normalize_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """``dim`` as a sorted tuple of dimension indices, or None for all dimensions."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if ndim == 0:
        for d in dims:
            normalize_dim(d, 0, op)
        return ()
    out = tuple(sorted({normalize_dim(d, ndim, op) for d in dims}))
    if len(out) != len(dims):
        raise ValueError(f"{op}: dimension {dim} appears more than once")
    return out


def as_operand(x: Any) -> Any:
    """Tensors and Python numbers pass through; arrays and lists become tensors."""
    if isinstance(x, (Tensor, bool, int, float)):
        return x
    if hasattr(x, "dtype") and getattr(x, "ndim", None) == 0 and not hasattr(x, "__len__"):
        return x.item()  # a NumPy scalar behaves as a Python number
    from deepgrad.creation import as_tensor

    return as_tensor(x)

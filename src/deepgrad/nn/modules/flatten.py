"""Flatten and Unflatten: reshape a range of dimensions, as layers."""

from __future__ import annotations

import math
from typing import Sequence

from deepgrad.nn.modules.module import Module
from deepgrad.tensor import Tensor


class Flatten(Module):
    """Flattens dimensions ``start_dim`` to ``end_dim`` into one (``torch.nn.Flatten``).

    Shape:
        (N, C, H, W) -> (N, C * H * W) with the defaults start_dim=1, end_dim=-1
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        rank = max(input.ndim, 1)
        for d in (self.start_dim, self.end_dim):
            if not -rank <= d < rank:
                raise self._input_error(
                    input.shape, f"dimension {d} is out of range for a {input.ndim}-d input",
                    "check start_dim/end_dim (a batch of one sample still needs its batch "
                    "dimension: x.unsqueeze(0))")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension ``dim`` into ``unflattened_size`` (``torch.nn.Unflatten``).

    Shape:
        (N, C * H * W) -> (N, C, H, W) with dim=1, unflattened_size=(C, H, W)
    """

    def __init__(self, dim: int | str, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if isinstance(dim, str):
            raise TypeError("Unflatten: named dimensions are not supported; pass an int dim")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(s, int) for s in unflattened_size):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}"
            )
        if sum(1 for s in unflattened_size if s == -1) > 1 or any(s < -1 for s in unflattened_size):
            raise ValueError(f"Unflatten: invalid unflattened_size {tuple(unflattened_size)}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        rank = input.ndim
        if not -rank <= self.dim < max(rank, 1):
            raise self._input_error(input.shape, f"dimension {self.dim} is out of range")
        size = input.shape[self.dim]
        known = math.prod(s for s in self.unflattened_size if s != -1)
        if -1 in self.unflattened_size:
            fits = known > 0 and size % known == 0
        else:
            fits = known == size
        if not fits:
            raise self._input_error(
                input.shape, f"dimension {self.dim} has size {size}, which can't be split into "
                f"{tuple(self.unflattened_size)}")
        return input.unflatten(self.dim, tuple(self.unflattened_size))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


__all__ = ["Flatten", "Unflatten"]

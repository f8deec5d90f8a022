"""Dropout layers: active in training mode, the identity in evaluation mode."""

from __future__ import annotations

from deepgrad.nn import functional as F
from deepgrad.nn.modules.module import Module
from deepgrad.tensor import Tensor


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(
                f"{type(self).__name__}: dropout probability has to be between 0 and 1, but got {p!r}"
            )
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each entry with probability ``p`` in training, scaling the rest by 1/(1-p).

    Shape:
        any -> same
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) inputs with probability ``p`` in training.

    Shape:
        (N, C, L) or (C, L) -> same
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (2, 3):
            raise self._input_error(input.shape, "expected a 2-d (C, L) or 3-d (N, C, L) input")
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) inputs with probability ``p`` in training.

    Shape:
        (N, C, H, W) -> same (a 3-d input is taken as (N, C, L), with PyTorch's warning)
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise self._input_error(input.shape, "expected a 4-d input (N, C, H, W)")
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) inputs with probability ``p`` in training.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> same
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (4, 5):
            raise self._input_error(input.shape, "expected a 4-d or 5-d input (N, C, D, H, W)")
        return F.dropout3d(input, self.p, self.training, self.inplace)


__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]

"""Dropout: zero entries (or whole channels) with probability ``p`` while training.

The kept values are scaled by ``1 / (1 - p)`` so the expected output equals the
input, and evaluation (``training=False``) is the identity, as in PyTorch. The
masks are drawn from deepgrad's global generator (``deepgrad.manual_seed``),
or from ``generator=`` when given.
"""

from __future__ import annotations

import warnings
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare
from deepgrad.random import Generator, rng
from deepgrad.tensor import Tensor


class Dropout(Function):
    """``x * mask``, the mask (0 or 1/(1-p), broadcast over x) a constant of the op."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.mask = mask
        return x.array * mask

    @staticmethod
    def backward(ctx, grad):
        return grad * Tensor(ctx.mask), None


def _check_p(op: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _mask(shape: tuple, p: float, dtype: Any, generator: Generator | None) -> Any:
    """1/(1-p) with probability 1-p, else 0, in ``dtype``."""
    draw_dtype = dtype if dtype.name in ("float32", "float64") else xp.dtype("float64")
    keep = rng(generator).random(shape, dtype=draw_dtype) >= p
    scale = xp.asarray(keep, dtype=dtype)
    if p < 1:
        scale *= 1.0 / (1.0 - p)
    return scale


def _apply(op: str, input: Tensor, p: float, training: bool, inplace: bool, mask_shape: tuple,
           generator: Generator | None) -> Tensor:
    _check_p(op, p)
    if not training or p == 0.0:
        return input
    if input.array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got {input.dtype}")
    mask = _mask(mask_shape, p, input.array.dtype, generator)
    out = Dropout.apply(input, mask)
    return input._replace_inplace(out, op + "_") if inplace else out


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator: Generator | None = None) -> Tensor:
    """Zero each entry with probability ``p`` and scale the rest by ``1/(1-p)`` (in training).

    Shape:
        any -> same
    """
    return _apply("dropout", input, p, training, inplace, input.shape, generator)


def _feature_dropout(op: str, input: Tensor, p: float, training: bool, inplace: bool,
                     spatial: int, generator: Generator | None) -> Tensor:
    """Dropout of whole channels: one draw per (sample, channel), over ``spatial`` dims."""
    batched = spatial + 2
    if input.ndim not in (batched - 1, batched):
        raise RuntimeError(
            f"{op}: expected a {batched - 1}-d (unbatched) or {batched}-d (batched) input, got "
            f"shape {tuple(input.shape)}"
        )
    lead = input.ndim - spatial  # the (N, C) or (C,) dimensions
    mask_shape = tuple(input.shape[:lead]) + (1,) * spatial
    return _apply(op, input, p, training, inplace, mask_shape, generator)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator: Generator | None = None) -> Tensor:
    """Zero whole channels of a (N, C, L) or (C, L) input with probability ``p``.

    Shape:
        (N, C, L) or (C, L) -> same
    """
    return _feature_dropout("dropout1d", input, p, training, inplace, 1, generator)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator: Generator | None = None) -> Tensor:
    """Zero whole channels of a (N, C, H, W) input with probability ``p``.

    A 3-d input is treated as (N, C, L), channel-wise 1-d dropout, with PyTorch's warning.

    Shape:
        (N, C, H, W) or (N, C, L) -> same
    """
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
        return _feature_dropout("dropout2d", input, p, training, inplace, 1, generator)
    if input.ndim != 4:
        raise RuntimeError(
            f"dropout2d: expected a 4-d input (N, C, H, W), got shape {tuple(input.shape)}"
        )
    return _feature_dropout("dropout2d", input, p, training, inplace, 2, generator)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator: Generator | None = None) -> Tensor:
    """Zero whole channels of a (N, C, D, H, W) or (C, D, H, W) input with probability ``p``.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> same
    """
    return _feature_dropout("dropout3d", input, p, training, inplace, 3, generator)


def _seeded(fn: Any) -> Any:
    """A dropout call with a fixed mask stream, so the finite differences see one mask."""
    from deepgrad.random import Generator as G

    return lambda x: fn(x, 0.4, generator=G(7))


declare(
    OpCase("dropout", _seeded(dropout), [(4, 5)], torch=False),
    OpCase("dropout2d", _seeded(dropout2d), [(2, 3, 2, 2)], torch=False),
    OpCase("dropout1d", _seeded(dropout1d), [(2, 3, 4)], torch=False),
)

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]

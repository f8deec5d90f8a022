"""Resampling layers: Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, PixelShuffle,
PixelUnshuffle (``torch.nn``'s, over ``deepgrad.nn.functional.interpolate`` and friends)."""

from __future__ import annotations

from typing import Any

from deepgrad.nn.functional import vision as Fv
from deepgrad.nn.modules.linear import check_size
from deepgrad.nn.modules.module import Module
from deepgrad.tensor import Tensor


class Upsample(Module):
    """Resize by ``scale_factor`` or to ``size`` (``torch.nn.Upsample``).

    Modes: 'nearest', 'nearest-exact', 'linear' (3-d input), 'bilinear' (4-d), 'area'.

    Shape:
        (N, C, L) or (N, C, H, W) -> (N, C, *size) or the input size times scale_factor.
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{name}: give exactly one of size or scale_factor")
        if mode not in Fv._MODES:
            raise ValueError(f"{name}: mode must be one of {Fv._MODES}, got {mode!r}")
        if align_corners is not None and mode not in ("linear", "bilinear"):
            raise ValueError(f"{name}: align_corners can only be set with the interpolating modes "
                             f"linear | bilinear, not {mode!r}")
        for n in (size if isinstance(size, (tuple, list)) else (size,)):
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
                raise ValueError(f"{name}: size must be positive integers, got {size!r}")
        self.name = name
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        for f in (self.scale_factor if isinstance(self.scale_factor, tuple)
                  else (self.scale_factor,)):
            if f is not None and f <= 0:
                raise ValueError(f"{name}: scale_factor must be positive, got {scale_factor!r}")
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()} expected a Tensor input, got "
                            f"{type(input).__name__}")
        if input.ndim not in (3, 4):
            raise self._input_error(input.shape, "expected a 3-d (N, C, L) or 4-d (N, C, H, W) "
                                    "input", "add the batch dimension (input.unsqueeze(0))?"
                                    if input.ndim == 2 else None)
        try:
            return Fv.interpolate(input, self.size, self.scale_factor, self.mode,
                                  self.align_corners, self.recompute_scale_factor)
        except ValueError as error:
            raise self._input_error(input.shape, str(error).split(": ", 1)[-1]) from None

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None \
            else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W) inputs (``torch.nn.UpsamplingNearest2d``).

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with align_corners=True (``torch.nn.UpsamplingBilinear2d``).

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r) (``torch.nn.PixelShuffle``), r = upscale_factor.

    Shape:
        (*, C*r^2, H, W) -> (*, C, H*r, W*r)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = check_size("PixelShuffle", "upscale_factor", upscale_factor, 1)

    def forward(self, input: Tensor) -> Tensor:
        r = self.upscale_factor
        if input.ndim < 3 or input.shape[-3] % (r * r):
            raise self._input_error(
                input.shape, f"expected (*, C, H, W) with C divisible by upscale_factor**2 = "
                f"{r * r}", None, f"upscale_factor={r}")
        return Fv.pixel_shuffle(input, r)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W) (``torch.nn.PixelUnshuffle``), r = downscale_factor.

    Shape:
        (*, C, H*r, W*r) -> (*, C*r^2, H, W)
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = check_size("PixelUnshuffle", "downscale_factor",
                                           downscale_factor, 1)

    def forward(self, input: Tensor) -> Tensor:
        r = self.downscale_factor
        if input.ndim < 3 or input.shape[-1] % r or input.shape[-2] % r:
            raise self._input_error(
                input.shape,
                f"expected (*, C, H, W) with H and W divisible by downscale_factor={r}",
                None, f"downscale_factor={r}")
        return Fv.pixel_unshuffle(input, r)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle",
           "PixelUnshuffle"]

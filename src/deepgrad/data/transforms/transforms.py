"""Composable, seeded image transforms (torchvision names and semantics).

Layout conventions:

* :class:`ToTensor` takes an **HWC** (or HW) image, as datasets return them, and
  gives a **CHW** ``float32`` tensor in ``[0, 1]``.
* Every other transform works on the **last two axes as H, W**: a CHW or HW
  image, as a NumPy array or a deepgrad tensor (it returns the same kind).
  :class:`Normalize` and :class:`RandomErasing` take the channel axis to be the
  third from last (CHW).
* Each ``Batch*`` class (in :mod:`deepgrad.data.transforms.batched`) takes a batch
  **NCHW** (or NHW) and draws independent parameters for every sample, in one
  vectorized pass. The per-sample classes run the same code with ``N = 1``.

Random transforms take ``generator`` (a ``deepgrad.Generator``, a numpy
generator or an int seed). Without one they draw from the per-batch generator
of the :class:`~deepgrad.data.DataLoader` fetching them (which makes loader
output independent of ``num_workers``), or else deepgrad's default generator.
"""

from __future__ import annotations

import numbers
from typing import Any
from collections.abc import Callable, Sequence

import numpy as np

from .._rng import numpy_generator, stream
from .._tensor import array_module, rewrap, to_tensor, unwrap
from . import functional as F

__all__ = [
    "Compose", "Lambda", "ToTensor", "Normalize", "RandomCrop", "CenterCrop",
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomResizedCrop", "Resize",
    "RandomRotation", "RandomAffine", "GaussianNoise", "RandomErasing", "RandomApply",
]

_INTERP = ("nearest", "bilinear")


def _pair(value: Any, name: str) -> tuple[int, int]:
    """``(h, w)`` from an int or a pair."""
    if isinstance(value, numbers.Integral):
        out = (int(value), int(value))
    elif isinstance(value, Sequence) and len(value) == 1:
        out = (int(value[0]), int(value[0]))
    elif isinstance(value, Sequence) and len(value) == 2:
        out = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name} must be an int or an (h, w) pair; got {value!r}")
    if min(out) <= 0:
        raise ValueError(f"{name} must be positive; got {value!r}")
    return out


def _range(value: Any, name: str, *, center: float | None = None, low: float | None = None) -> tuple[float, float]:
    """A ``(min, max)`` range from a number (symmetric about ``center``) or a pair."""
    if isinstance(value, numbers.Number):
        if center is None:
            raise ValueError(f"{name} must be a (min, max) pair; got {value!r}")
        if value < 0:
            raise ValueError(f"{name} as a single number must be non-negative; got {value!r}")
        out = (center - float(value), center + float(value))
    elif isinstance(value, Sequence) and len(value) == 2:
        out = (float(value[0]), float(value[1]))
    else:
        raise ValueError(f"{name} must be a number or a (min, max) pair; got {value!r}")
    if out[0] > out[1]:
        raise ValueError(f"{name} must have min <= max; got {value!r}")
    if low is not None and out[0] < low:
        raise ValueError(f"{name} values must be >= {low}; got {value!r}")
    return out


def _check_interp(interpolation: str) -> str:
    if interpolation not in _INTERP:
        raise ValueError(f"interpolation must be one of {_INTERP}; got {interpolation!r}")
    return interpolation


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Lambda:
    """Apply a user function ``fn`` as a transform."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"Lambda needs a callable; got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.fn, '__name__', self.fn)!r})"


class _Transform:
    """Base: unwraps tensors, adds a batch axis for per-sample classes, and rewraps."""

    batched = False
    min_ndim = 2

    def __call__(self, x: Any) -> Any:
        arr, was_tensor = unwrap(x)
        need = self.min_ndim + (1 if self.batched else 0)
        if arr.ndim < need:
            layout = "a batch (N, C, H, W) or (N, H, W)" if self.batched else "an image (C, H, W) or (H, W)"
            raise ValueError(f"{type(self).__name__} expects {layout}; got shape {tuple(arr.shape)}")
        batch = arr if self.batched else arr[None]
        out = self._apply(batch)
        out = out if self.batched else out[0]
        return rewrap(out, was_tensor)

    def _apply(self, batch: Any) -> Any:
        raise NotImplementedError

    def _rng(self) -> np.random.Generator:
        return numpy_generator(getattr(self, "generator", None))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "generator")
        return f"{type(self).__name__}({fields})"


class ToTensor:
    """HWC (or HW) image, array or tensor -> CHW ``float32`` tensor; ``uint8`` is
    scaled to ``[0, 1]``, other integer types are only converted."""

    def __call__(self, pic: Any) -> Any:
        arr, _ = unwrap(pic)
        xp = array_module(arr)
        if arr.ndim == 2:
            arr = arr[None]
        elif arr.ndim == 3:
            arr = xp.moveaxis(arr, -1, 0)
        else:
            raise ValueError(f"ToTensor expects an image (H, W, C) or (H, W); got shape {tuple(arr.shape)}")
        return to_tensor(_to_float(arr, xp))

    def __repr__(self) -> str:
        return "ToTensor()"


def _to_float(arr: Any, xp: Any) -> Any:
    if arr.dtype == np.uint8:
        return xp.ascontiguousarray(arr, dtype=xp.float32) * np.float32(1 / 255)
    if arr.dtype.kind in "ui" or arr.dtype == np.bool_:
        return xp.ascontiguousarray(arr, dtype=xp.float32)
    return xp.ascontiguousarray(arr.astype(xp.float32, copy=False))


class Normalize(_Transform):
    """``(x - mean[c]) / std[c]`` per channel of a float CHW image (HW: one channel)."""

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float, inplace: bool = False) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError("Normalize: mean and std must be numbers or 1-D sequences")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must not contain zeros; got {std!r}")
        self.inplace = inplace

    def _apply(self, batch: Any) -> Any:
        if batch.dtype.kind != "f":
            raise TypeError(
                f"Normalize expects a float image; got dtype {batch.dtype}. Apply ToTensor first"
            )
        xp = array_module(batch)
        chans = batch.shape[-3] if batch.ndim >= 4 else 1
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, chans):
                raise ValueError(
                    f"Normalize: {name} has {v.size} values but the image has {chans} channels"
                )
        shape = (-1, 1, 1) if batch.ndim >= 4 else (-1, 1)
        mean = xp.asarray(self.mean.reshape(shape), dtype=batch.dtype)
        std = xp.asarray(self.std.reshape(shape), dtype=batch.dtype)
        if self.inplace:
            batch -= mean
            batch /= std
            return batch
        return (batch - mean) / std


class RandomCrop(_Transform):
    """Crop a random ``size`` window of a CHW/HW image, after optional ``padding``.

    ``padding``: int, (left/right, top/bottom) or (left, top, right, bottom);
    ``pad_if_needed`` pads images smaller than ``size``; ``padding_mode`` is
    ``constant`` (with ``fill``), ``edge``, ``reflect`` or ``symmetric``.
    """

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, fill: float = 0, padding_mode: str = "constant",
                 generator: Any = None) -> None:
        self.size = _pair(size, "size")
        self.padding = F.parse_padding(padding) if padding is not None else (0, 0, 0, 0)
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = stream(generator)

    def _apply(self, batch: Any) -> Any:
        batch = F.pad(batch, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = batch.shape[-2], batch.shape[-1]
        if self.pad_if_needed and (h < th or w < tw):
            dh, dw = max(th - h, 0), max(tw - w, 0)
            batch = F.pad(batch, (dw, dh, dw, dh), self.fill, self.padding_mode)
            h, w = batch.shape[-2], batch.shape[-1]
        if h < th or w < tw:
            raise ValueError(
                f"RandomCrop: crop size {self.size} is larger than the (padded) image {h}x{w}; "
                "use pad_if_needed=True or a smaller size"
            )
        u = self._rng().random((batch.shape[0], 2))
        top = np.floor(u[:, 0] * (h - th + 1)).astype(np.int64)
        left = np.floor(u[:, 1] * (w - tw + 1)).astype(np.int64)
        return F.crop(batch, top, left, th, tw)


class CenterCrop(_Transform):
    """Crop the centre ``size`` of a CHW/HW image (zero-padded if the image is smaller)."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _pair(size, "size")

    def _apply(self, batch: Any) -> Any:
        return F.center_crop(batch, *self.size)


class RandomHorizontalFlip(_Transform):
    """Mirror a CHW/HW image left-right with probability ``p``."""

    axis = -1

    def __init__(self, p: float = 0.5, generator: Any = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1]; got {p!r}")
        self.p = float(p)
        self.generator = stream(generator)

    def _apply(self, batch: Any) -> Any:
        mask = self._rng().random(batch.shape[0]) < self.p
        return F.flip(batch, mask, self.axis)


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror a CHW/HW image top-bottom with probability ``p``."""

    axis = -2


class Resize(_Transform):
    """Resize a CHW/HW image: ``size`` (h, w), or an int to match the smaller edge
    (keeping the aspect ratio). ``bilinear`` (default) or ``nearest``."""

    def __init__(self, size: int | Sequence[int], interpolation: str = "bilinear") -> None:
        if isinstance(size, numbers.Integral):
            if size <= 0:
                raise ValueError(f"Resize: size must be positive; got {size!r}")
            self.size: int | tuple[int, int] = int(size)
        else:
            self.size = _pair(size, "size")
        self.interpolation = _check_interp(interpolation)

    def _apply(self, batch: Any) -> Any:
        h, w = batch.shape[-2], batch.shape[-1]
        if isinstance(self.size, int):
            if h <= w:
                out = (self.size, max(1, int(self.size * w / h)))
            else:
                out = (max(1, int(self.size * h / w)), self.size)
        else:
            out = self.size
        return F.resize(batch, out, self.interpolation)


class RandomResizedCrop(_Transform):
    """Crop a random box (area fraction ``scale``, aspect ``ratio``) of a CHW/HW
    image and resize it to ``size``."""

    def __init__(self, size: int | Sequence[int], scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), interpolation: str = "bilinear",
                 generator: Any = None) -> None:
        self.size = _pair(size, "size")
        self.scale = _range(scale, "scale", low=0.0)
        self.ratio = _range(ratio, "ratio")
        if self.ratio[0] <= 0:
            raise ValueError(f"RandomResizedCrop: ratio must be positive; got {ratio!r}")
        self.interpolation = _check_interp(interpolation)
        self.generator = stream(generator)

    def _apply(self, batch: Any) -> Any:
        h, w = batch.shape[-2], batch.shape[-1]
        boxes, _ = F.sample_boxes(self._rng(), batch.shape[0], h, w, self.scale, self.ratio, "center")
        return F.resize(batch, self.size, self.interpolation, box=boxes)


class RandomAffine(_Transform):
    """Random rotation (``degrees``), translation (``translate`` = max fractions of
    width/height), scale (``scale`` range) and shear (degrees; a number or an
    x range, or 4 values for x and y ranges) of a CHW/HW image about its centre.
    Pixels from outside are ``fill``. ``nearest`` (default) or ``bilinear``.
    """

    def __init__(self, degrees: float | Sequence[float], translate: Sequence[float] | None = None,
                 scale: Sequence[float] | None = None, shear: float | Sequence[float] | None = None,
                 interpolation: str = "nearest", fill: float = 0,
                 center: Sequence[float] | None = None, generator: Any = None) -> None:
        self.degrees = _range(degrees, "degrees", center=0.0)
        if translate is not None:
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"translate must be two fractions in [0, 1]; got {translate!r}")
            translate = (float(translate[0]), float(translate[1]))
        self.translate = translate
        self.scale = _range(scale, "scale") if scale is not None else None
        if self.scale is not None and self.scale[0] <= 0:
            raise ValueError(f"scale must be positive; got {scale!r}")
        self.shear = self._parse_shear(shear)
        self.interpolation = _check_interp(interpolation)
        self.fill = fill
        self.center = None if center is None else (float(center[0]), float(center[1]))
        self.generator = stream(generator)

    @staticmethod
    def _parse_shear(shear: Any) -> tuple[float, float, float, float] | None:
        if shear is None:
            return None
        if isinstance(shear, numbers.Number):
            s = _range(shear, "shear", center=0.0)
            return (s[0], s[1], 0.0, 0.0)
        if isinstance(shear, Sequence) and len(shear) == 2:
            return (float(shear[0]), float(shear[1]), 0.0, 0.0)
        if isinstance(shear, Sequence) and len(shear) == 4:
            return tuple(float(s) for s in shear)  # type: ignore[return-value]
        raise ValueError(f"shear must be a number, 2 or 4 values; got {shear!r}")

    def _apply(self, batch: Any) -> Any:
        n, h, w = batch.shape[0], batch.shape[-2], batch.shape[-1]
        rng = self._rng()
        angle = rng.uniform(self.degrees[0], self.degrees[1], size=n)
        if self.translate is not None:
            mx, my = self.translate[0] * w, self.translate[1] * h
            translate = np.rint(np.stack([rng.uniform(-mx, mx, n), rng.uniform(-my, my, n)], -1))
        else:
            translate = np.zeros((n, 2))
        scale = rng.uniform(self.scale[0], self.scale[1], n) if self.scale is not None else np.ones(n)
        if self.shear is not None:
            sh = self.shear
            shear = np.stack([rng.uniform(sh[0], sh[1], n), rng.uniform(sh[2], sh[3], n)], -1)
        else:
            shear = np.zeros((n, 2))
        center = self.center if self.center is not None else ((w - 1) * 0.5, (h - 1) * 0.5)
        matrix, offset = F.affine_matrices(angle, translate, scale, shear, center)
        return F.affine_sample(batch, matrix, offset, None, self.interpolation, self.fill)


class RandomRotation(RandomAffine):
    """Rotate a CHW/HW image by a random angle in ``degrees`` (a number ``d`` means
    ``(-d, d)``), counter-clockwise positive, about its centre; corners get ``fill``."""

    def __init__(self, degrees: float | Sequence[float], interpolation: str = "nearest",
                 expand: bool = False, center: Sequence[float] | None = None, fill: float = 0,
                 generator: Any = None) -> None:
        if expand:
            raise NotImplementedError("RandomRotation: expand=True is not supported; the output keeps the input size")
        super().__init__(degrees, interpolation=interpolation, fill=fill, center=center, generator=generator)


class GaussianNoise(_Transform):
    """Add ``N(mean, sigma^2)`` noise to a float image (any layout); ``clip`` to ``[0, 1]``."""

    min_ndim = 1

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True, generator: Any = None) -> None:
        if sigma < 0:
            raise ValueError(f"GaussianNoise: sigma must be >= 0; got {sigma!r}")
        self.mean = float(mean)
        self.sigma = float(sigma)
        self.clip = clip
        self.generator = stream(generator)

    def _apply(self, batch: Any) -> Any:
        if batch.dtype.kind != "f":
            raise TypeError(f"GaussianNoise expects a float image; got dtype {batch.dtype}. Apply ToTensor first")
        xp = array_module(batch)
        noise = self._rng().standard_normal(batch.shape, dtype=np.float32) * self.sigma + self.mean
        out = batch + xp.asarray(noise, dtype=batch.dtype)
        return xp.clip(out, 0.0, 1.0) if self.clip else out


class RandomErasing(_Transform):
    """With probability ``p``, set a random box (area fraction ``scale``, aspect
    ``ratio``) of a CHW image to ``value``: a number, one value per channel, or
    ``"random"`` (standard normal noise)."""

    def __init__(self, p: float = 0.5, scale: Sequence[float] = (0.02, 0.33),
                 ratio: Sequence[float] = (0.3, 3.3), value: float | Sequence[float] | str = 0,
                 inplace: bool = False, generator: Any = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomErasing: p must be in [0, 1]; got {p!r}")
        self.p = float(p)
        self.scale = _range(scale, "scale", low=0.0)
        self.ratio = _range(ratio, "ratio")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: value must be a number, a sequence or 'random'; got {value!r}")
        self.value = value
        self.inplace = inplace
        self.generator = stream(generator)

    def _apply(self, batch: Any) -> Any:
        xp = array_module(batch)
        rng = self._rng()
        n, h, w = batch.shape[0], batch.shape[-2], batch.shape[-1]
        apply = rng.random(n) < self.p
        boxes, found = F.sample_boxes(rng, n, h, w, self.scale, self.ratio, "none")
        mask = apply & found
        if isinstance(self.value, str):
            value: Any = xp.asarray(rng.standard_normal(batch.shape, dtype=np.float32), dtype=batch.dtype)
        elif isinstance(self.value, numbers.Number):
            value = self.value
        else:
            v = np.asarray(self.value, dtype=np.float64).reshape(-1)
            chans = batch.shape[-3] if batch.ndim >= 4 else 1
            if v.size not in (1, chans):
                raise ValueError(f"RandomErasing: value has {v.size} entries but the image has {chans} channels")
            value = xp.asarray(v.reshape((-1, 1, 1)) if batch.ndim >= 4 else v.reshape(-1, 1), dtype=batch.dtype)
        out = F.erase(batch, boxes, mask, value)
        if self.inplace:
            batch[...] = out
            return batch
        return out


class RandomApply(_Transform):
    """Apply ``transforms`` (in order) with probability ``p``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]], p: float = 0.5, generator: Any = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomApply: p must be in [0, 1]; got {p!r}")
        self.transforms = list(transforms)
        self.p = float(p)
        self.generator = stream(generator)

    def __call__(self, x: Any) -> Any:
        if self._rng().random() >= self.p:
            return x
        for t in self.transforms:
            x = t(x)
        return x


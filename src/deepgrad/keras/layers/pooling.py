"""Pooling, upsampling and padding layers (channels_last by default, as Keras).

``padding='same'`` pooling follows TensorFlow: the output has ceil(n / stride)
positions, windows overhanging the input ignore the missing values (the max
of what is there, the average over what is there).
"""

from __future__ import annotations

from typing import Any

import deepgrad.nn.functional as F
from deepgrad.keras import backend as K
from deepgrad.keras.layers._ops import check_padding, conv_output_length, pad, same_pads, tuple_of
from deepgrad.keras.layers.base import Layer
from deepgrad.nn.functional._im2col import out_size
from deepgrad.tensor import Tensor


class _Pooling(Layer):
    rank = 2
    _mode = "max"

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.pool_size = tuple_of(pool_size, self.rank, "pool_size", cls)
        self.strides = self.pool_size if strides is None else tuple_of(strides, self.rank, "strides", cls)
        self.padding = check_padding(padding, cls)
        self.data_format = K.standardize_data_format(data_format)

    def _spatial(self, shape: Any) -> tuple:
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def build(self, input_shape: Any) -> None:
        self._check_input_rank(input_shape, self.rank + 2,
                               f"a {self.rank + 2}-d input (batch, {'spatial, ' * self.rank}channels)")

    def call(self, inputs: Tensor) -> Tensor:
        x = inputs if self.data_format == "channels_first" else \
            inputs.permute(0, self.rank + 1, *range(1, self.rank + 1))
        if self.rank == 1:
            x = x.unsqueeze(2)
        spatial = tuple(x.shape[2:])
        kernel = (1, *self.pool_size) if self.rank == 1 else self.pool_size
        stride = (1, *self.strides) if self.rank == 1 else self.strides
        padding, ceil_mode, explicit = (0, 0), False, None
        if self.padding == "same":
            pads = [same_pads(n, k, s) for n, k, s in zip(spatial, kernel, stride)]
            before = tuple(b for b, _ in pads)
            targets = [-(-n // s) for n, s in zip(spatial, stride)]
            # the same windows as TF's when PyTorch's ceil_mode (with the 'before' padding)
            # gives as many of them; otherwise pad explicitly
            if all(b <= k // 2 and out_size(n, k, s, b, b, 1, True) == t
                   for n, k, s, b, t in zip(spatial, kernel, stride, before, targets)):
                padding, ceil_mode = before, True
            else:
                explicit = pads
        if self._mode == "max":
            if explicit:
                x = pad(x, ((0, 0), (0, 0), *explicit), float("-inf"))
            y = F.max_pool2d(x, kernel, stride, padding, 1, ceil_mode)
        else:
            if explicit:
                ones = Tensor(x.array[:1, :1] * 0 + 1)
                x = pad(x, ((0, 0), (0, 0), *explicit))
                count = F.avg_pool2d(pad(ones, ((0, 0), (0, 0), *explicit)), kernel, stride)
                y = F.avg_pool2d(x, kernel, stride) / count
            else:
                y = F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad=False)
        if self.rank == 1:
            y = y.squeeze(2)
        if self.data_format == "channels_first":
            return y
        return y.permute(0, *range(2, self.rank + 2), 1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        spatial = tuple(conv_output_length(n, k, self.padding, s) for n, k, s in
                        zip(self._spatial(input_shape), self.pool_size, self.strides))
        if self.data_format == "channels_last":
            return (input_shape[0], *spatial, input_shape[-1])
        return (input_shape[0], input_shape[1], *spatial)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format}


class MaxPooling2D(_Pooling):
    """Max over pool_size windows (default (2, 2), strides = pool_size).

    Shape:
        (batch, H, W, C) -> (batch, H', W', C); H' = (H - k) // s + 1 ('valid') or ceil(H / s) ('same').
    """


class AveragePooling2D(_Pooling):
    """Average over pool_size windows (padding excluded from the average, as Keras).

    Shape:
        (batch, H, W, C) -> (batch, H', W', C), H' as MaxPooling2D.
    """

    _mode = "avg"


class MaxPooling1D(_Pooling):
    """Max over windows of a (batch, steps, channels) input. Shape: steps as Conv1D."""

    rank = 1


class AveragePooling1D(_Pooling):
    """Average over windows of a (batch, steps, channels) input."""

    rank = 1
    _mode = "avg"


class _GlobalPooling(Layer):
    rank = 2
    _mode = "avg"

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = K.standardize_data_format(data_format)
        self.keepdims = keepdims

    def _axes(self) -> tuple:
        return tuple(range(1, self.rank + 1)) if self.data_format == "channels_last" else \
            tuple(range(2, self.rank + 2))

    def call(self, inputs: Tensor) -> Tensor:
        axes = self._axes()
        if self._mode == "avg":
            return inputs.mean(axes, keepdim=self.keepdims)
        return inputs.amax(axes, keepdim=self.keepdims)

    def compute_output_shape(self, input_shape: Any) -> Any:
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else s for i, s in enumerate(input_shape))
        return tuple(s for i, s in enumerate(input_shape) if i not in axes)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width. Shape: (batch, H, W, C) -> (batch, C) ((batch, 1, 1, C) with keepdims)."""


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over height and width. Shape: (batch, H, W, C) -> (batch, C)."""

    _mode = "max"


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over steps. Shape: (batch, steps, C) -> (batch, C)."""

    rank = 1


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over steps. Shape: (batch, steps, C) -> (batch, C)."""

    rank = 1
    _mode = "max"


class UpSampling2D(Layer):
    """Repeat rows and columns ``size`` times ('nearest') or resize bilinearly.

    Shape:
        (batch, H, W, C) -> (batch, H * size[0], W * size[1], C)
    """

    def __init__(self, size: Any = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = tuple_of(size, 2, "size", "UpSampling2D")
        self.data_format = K.standardize_data_format(data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got "
                             f"{interpolation!r}")
        self.interpolation = interpolation

    def build(self, input_shape: Any) -> None:
        self._check_input_rank(input_shape, 4, "a 4-d input (batch, height, width, channels)")

    def call(self, inputs: Tensor) -> Tensor:
        sh, sw = self.size
        if self.interpolation == "bilinear":
            x = inputs if self.data_format == "channels_first" else inputs.permute(0, 3, 1, 2)
            y = F.interpolate(x, scale_factor=(sh, sw), mode="bilinear", align_corners=False)
            return y if self.data_format == "channels_first" else y.permute(0, 2, 3, 1)
        if self.data_format == "channels_first":
            n, c, h, w = inputs.shape
            return inputs.reshape(n, c, h, 1, w, 1).expand(n, c, h, sh, w, sw).reshape(n, c, h * sh, w * sw)
        n, h, w, c = inputs.shape
        return inputs.reshape(n, h, 1, w, 1, c).expand(n, h, sh, w, sw, c).reshape(n, h * sh, w * sw, c)

    def compute_output_shape(self, input_shape: Any) -> Any:
        def scale(n: Any, s: int) -> Any:
            return None if n is None else n * s

        if self.data_format == "channels_last":
            n, h, w, c = input_shape
            return (n, scale(h, self.size[0]), scale(w, self.size[1]), c)
        n, c, h, w = input_shape
        return (n, c, scale(h, self.size[0]), scale(w, self.size[1]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


class UpSampling1D(Layer):
    """Repeat each step ``size`` times. Shape: (batch, steps, C) -> (batch, steps * size, C)."""

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, inputs: Tensor) -> Tensor:
        n, t, c = inputs.shape
        return inputs.reshape(n, t, 1, c).expand(n, t, self.size, c).reshape(n, t * self.size, c)

    def compute_output_shape(self, input_shape: Any) -> Any:
        n, t, c = input_shape
        return (n, None if t is None else t * self.size, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size}


class ZeroPadding2D(Layer):
    """Pad rows and columns with zeros: ``padding`` an int, (rows, cols) or ((top, bottom), (left, right)).

    Shape:
        (batch, H, W, C) -> (batch, H + top + bottom, W + left + right, C)
    """

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(padding, int):
            pads = ((padding, padding), (padding, padding))
        elif all(isinstance(p, int) for p in padding):
            pads = ((padding[0], padding[0]), (padding[1], padding[1]))
        else:
            pads = tuple(tuple(int(v) for v in p) for p in padding)
        self.padding = pads
        self.data_format = K.standardize_data_format(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        if self.data_format == "channels_last":
            return pad(inputs, ((0, 0), *self.padding, (0, 0)))
        return pad(inputs, ((0, 0), (0, 0), *self.padding))

    def compute_output_shape(self, input_shape: Any) -> Any:
        (t, b), (l, r) = self.padding
        shape = list(input_shape)
        hi, wi = (1, 2) if self.data_format == "channels_last" else (2, 3)
        shape[hi] = None if shape[hi] is None else shape[hi] + t + b
        shape[wi] = None if shape[wi] is None else shape[wi] + l + r
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": [list(p) for p in self.padding],
                "data_format": self.data_format}


MaxPool2D, AvgPool2D, MaxPool1D, AvgPool1D = MaxPooling2D, AveragePooling2D, MaxPooling1D, AveragePooling1D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D

__all__ = ["MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
           "GlobalMaxPooling1D", "UpSampling2D", "UpSampling1D", "ZeroPadding2D", "MaxPool2D",
           "AvgPool2D", "MaxPool1D", "AvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool2D"]

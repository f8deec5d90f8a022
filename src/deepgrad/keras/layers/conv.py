"""Convolutions: Conv1D, Conv2D, Conv2DTranspose (channels_last by default, as Keras).

Kernels are stored in Keras's layouts ((k, in, out), (kh, kw, in, out) and, for
the transposed convolution, (kh, kw, out, in)); ``call`` views them in
deepgrad's (PyTorch's) layout and runs ``deepgrad.nn.functional``'s convolution
on the input viewed as NCHW. Those views cost nothing: a channels_last tensor
produced by a previous convolution is an NCHW array seen through a transpose,
so stacked layers never copy to change layout. ``padding='same'`` follows
TensorFlow's rule (the extra pixel of an odd total padding goes after), also
with strides.
"""

from __future__ import annotations

from typing import Any

import deepgrad.nn.functional as F
from deepgrad.keras import activations as _activations
from deepgrad.keras import backend as K
from deepgrad.keras import constraints as _constraints
from deepgrad.keras import initializers as _initializers
from deepgrad.keras import regularizers as _regularizers
from deepgrad.keras.layers._ops import (
    check_padding, conv_output_length, conv_transpose_output_length, pad, same_pads, tuple_of,
)
from deepgrad.keras.layers.base import Layer
from deepgrad.tensor import Tensor


class _Conv(Layer):
    rank = 2
    _transpose = False

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, groups: int = 1,
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        if int(filters) <= 0:
            raise ValueError(f"{cls}: filters must be a positive integer, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = tuple_of(kernel_size, self.rank, "kernel_size", cls)
        self.strides = tuple_of(strides, self.rank, "strides", cls)
        allowed = ("valid", "same", "causal") if self.rank == 1 and not self._transpose else ("valid", "same")
        self.padding = check_padding(padding, cls, allowed)
        self.data_format = K.standardize_data_format(data_format)
        self.dilation_rate = tuple_of(dilation_rate, self.rank, "dilation_rate", cls)
        self.groups = int(groups)
        self.activation = _activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        if self.padding == "same" and max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{cls}: strides > 1 are incompatible with dilation_rate > 1")

    # channels axis and spatial dims of the input
    def _channels(self, shape: Any) -> Any:
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def _spatial(self, shape: Any) -> tuple:
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def build(self, input_shape: Any) -> None:
        self._check_input_rank(input_shape, self.rank + 2,
                               f"a {self.rank + 2}-d input (batch, {'spatial, ' * self.rank}channels)")
        channels = self._channels(input_shape)
        if channels is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the channel dimension of the "
                             f"input must be known, got shape {input_shape}")
        if channels % self.groups or self.filters % self.groups:
            raise ValueError(f"{type(self).__name__} {self.name!r}: input channels ({channels}) and "
                             f"filters ({self.filters}) must both be divisible by groups={self.groups}")
        if self._transpose:
            shape = (*self.kernel_size, self.filters, channels)
        else:
            shape = (*self.kernel_size, channels // self.groups, self.filters)
        self._add_kernel_and_bias(shape, (self.filters,))

    # layouts ------------------------------------------------------------------------
    def _to_first(self, x: Tensor) -> Tensor:
        if self.data_format == "channels_first":
            return x
        return x.permute(0, self.rank + 1, *range(1, self.rank + 1))

    def _to_last(self, y: Tensor) -> Tensor:
        if self.data_format == "channels_first":
            return y
        return y.permute(0, *range(2, self.rank + 2), 1)

    def _torch_weight(self) -> Tensor:
        # Keras (*k, in, out) -> (out, in, *k); transposed (*k, out, in) -> (in, out, *k)
        return self.kernel.permute(self.rank + 1, self.rank, *range(self.rank))

    def _padding_args(self, spatial: tuple) -> tuple[Any, tuple]:
        """(padding for the functional op, explicit (before, after) pads to apply first)."""
        if self.padding == "valid":
            return 0, ()
        if self.padding == "causal":
            left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
            return 0, ((left, 0),)
        pads = tuple(same_pads(n, k, s, d) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))
        if all(b == a for b, a in pads):
            return tuple(b for b, _ in pads), ()
        return 0, pads

    def call(self, inputs: Tensor) -> Tensor:
        x = self._to_first(inputs)
        padding, explicit = self._padding_args(tuple(x.shape[2:]))
        if explicit:
            x = pad(x, ((0, 0), (0, 0), *explicit))
        conv = F.conv1d if self.rank == 1 else F.conv2d
        y = conv(x, self._torch_weight(), self.bias, self.strides, padding, self.dilation_rate,
                 self.groups)
        return self.activation(self._to_last(y))

    def compute_output_shape(self, input_shape: Any) -> Any:
        spatial = tuple(conv_output_length(n, k, self.padding, s, d) for n, k, s, d in
                        zip(self._spatial(input_shape), self.kernel_size, self.strides,
                            self.dilation_rate))
        if self.data_format == "channels_last":
            return (input_shape[0], *spatial, self.filters)
        return (input_shape[0], self.filters, *spatial)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": _activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": _regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": _constraints.serialize(self.kernel_constraint),
                "bias_constraint": _constraints.serialize(self.bias_constraint)}


class Conv1D(_Conv):
    """1-d convolution over (batch, steps, channels) inputs.

    Args as Keras: filters, kernel_size, strides=1, padding='valid' | 'same' | 'causal',
    data_format, dilation_rate, groups, activation, use_bias, initializers ...

    Shape:
        (batch, steps, channels) -> (batch, new_steps, filters); kernel (k, channels, filters).
    """

    rank = 1


class Conv2D(_Conv):
    """2-d convolution over (batch, height, width, channels) images.

    Args as Keras: filters, kernel_size, strides=(1, 1), padding='valid' | 'same',
    data_format (default channels_last), dilation_rate, groups, activation, use_bias,
    kernel_initializer='glorot_uniform', bias_initializer='zeros', regularizers, constraints.

    Shape:
        (batch, H, W, C) -> (batch, H', W', filters) with H' = ceil(H / s) for 'same',
        (H - dilation*(k-1) - 1) // s + 1 for 'valid'; kernel (kh, kw, C/groups, filters).
    """

    rank = 2


class Conv2DTranspose(_Conv):
    """Transposed 2-d convolution (the gradient of Conv2D in its input), Keras's sizes.

    Args as Keras: filters, kernel_size, strides, padding, output_padding=None,
    data_format, dilation_rate, activation, use_bias, initializers ...

    Shape:
        (batch, H, W, C) -> (batch, H', W', filters) with H' = H*s + max(k - s, 0) for 'valid'
        and H*s for 'same' (when output_padding is None); kernel (kh, kw, filters, C).
    """

    rank = 2
    _transpose = True

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 output_padding: Any = None, data_format: str | None = None,
                 dilation_rate: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)
        if self.groups != 1:
            raise ValueError("Conv2DTranspose: groups != 1 is not supported")
        self.output_padding = None if output_padding is None else \
            tuple_of(output_padding, 2, "output_padding", "Conv2DTranspose")

    def call(self, inputs: Tensor) -> Tensor:
        x = self._to_first(inputs)
        spatial = tuple(x.shape[2:])
        if self.output_padding is not None:
            pads = tuple((k + (k - 1) * (d - 1)) // 2 if self.padding == "same" else 0
                         for k, d in zip(self.kernel_size, self.dilation_rate))
            y = F.conv_transpose2d(x, self._torch_weight(), self.bias, self.strides, pads,
                                   self.output_padding, 1, self.dilation_rate)
            return self.activation(self._to_last(y))
        effective = [k + (k - 1) * (d - 1) for k, d in zip(self.kernel_size, self.dilation_rate)]
        extra = tuple(max(s - e, 0) for s, e in zip(self.strides, effective))
        y = F.conv_transpose2d(x, self._torch_weight(), self.bias, self.strides, 0, extra, 1,
                               self.dilation_rate)
        if self.padding == "same":
            starts = [max(e - s, 0) // 2 for e, s in zip(effective, self.strides)]
            sizes = [n * s for n, s in zip(spatial, self.strides)]
            if tuple(y.shape[2:]) != tuple(sizes):
                y = y[:, :, starts[0]:starts[0] + sizes[0], starts[1]:starts[1] + sizes[1]]
        return self.activation(self._to_last(y))

    def compute_output_shape(self, input_shape: Any) -> Any:
        ops = self.output_padding or (None, None)
        spatial = tuple(conv_transpose_output_length(n, k, self.padding, op, s, d) for n, k, op, s, d in
                        zip(self._spatial(input_shape), self.kernel_size, ops, self.strides,
                            self.dilation_rate))
        if self.data_format == "channels_last":
            return (input_shape[0], *spatial, self.filters)
        return (input_shape[0], self.filters, *spatial)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("groups")
        config["output_padding"] = None if self.output_padding is None else list(self.output_padding)
        return config


Convolution1D, Convolution2D, Convolution2DTranspose = Conv1D, Conv2D, Conv2DTranspose

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose", "Convolution1D", "Convolution2D",
           "Convolution2DTranspose"]

"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (PyTorch's layouts).

Weights are (out_channels, in_channels/groups, *kernel) for convolutions and
(in_channels, out_channels/groups, *kernel) for transposed ones, initialized
as PyTorch does: kaiming_uniform_(a=sqrt(5)) for the weight, U(-1/sqrt(fan_in),
1/sqrt(fan_in)) for the bias. Constructor arguments are checked at
construction; a wrong input names the layer (and its place in the model).
"""

from __future__ import annotations

import math
from typing import Any

from deepgrad.backend import xp
from deepgrad.nn import init
from deepgrad.nn.functional import conv as Fc
from deepgrad.nn.modules.linear import check_input_tensor, check_size, new_parameter
from deepgrad.nn.modules.module import Module
from deepgrad.tensor import Tensor

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(layer: str, name: str, value: Any, n: int, minimum: int) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise TypeError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    values = (value,) * n if isinstance(value, int) else tuple(value)
    if len(values) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise TypeError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{layer}: {name} must be at least {minimum}, got {value!r}")
    return values


class _ConvNd(Module):
    _dims = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", output_padding: Any = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._dims
        self.in_channels = check_size(name, "in_channels", in_channels, 1)
        self.out_channels = check_size(name, "out_channels", out_channels, 1)
        self.groups = check_size(name, "groups", groups, 1)
        for what in ("in_channels", "out_channels"):
            channels = getattr(self, what)
            if channels % self.groups:
                raise ValueError(f"{name}: {what}={channels} must be divisible by groups={groups}")
        self.kernel_size = _ntuple(name, "kernel_size", kernel_size, n, 1)
        self.stride = _ntuple(name, "stride", stride, n, 1)
        self.dilation = _ntuple(name, "dilation", dilation, n, 1)
        if isinstance(padding, str):
            if self._transposed or padding not in ("same", "valid"):
                allowed = "an int or a tuple" + ("" if self._transposed else ", 'same' or 'valid'")
                raise ValueError(f"{name}: padding must be {allowed}, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")
            self.padding = padding
        else:
            self.padding = _ntuple(name, "padding", padding, n, 0)
        self.output_padding = _ntuple(name, "output_padding", output_padding, n, 0)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported for transposed "
                             f"convolutions, got {padding_mode!r}")
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = new_parameter(*shape, dtype=dtype)
        if bias:
            self.bias = new_parameter(self.out_channels, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input: Any) -> None:
        check_input_tensor(self, input, self.weight)
        n = self._dims
        layout = "(N, C, L) or (C, L)" if n == 1 else "(N, C, H, W) or (C, H, W)"
        if input.ndim not in (n + 1, n + 2):
            fix = None
            if input.ndim == n + 3 and input.shape[0] == 1:
                fix = "drop the extra leading dimension (input.squeeze(0))?"
            elif input.ndim == n:
                fix = "add the channel dimension (input.unsqueeze(0) for one channel)?"
            raise self._input_error(input.shape, f"expected a {n + 2}-d input {layout}", fix,
                                    self._config())
        dim = input.ndim - n - 1
        channels = input.shape[dim]
        if channels != self.in_channels:
            fix = (f"the layer before it gives {channels} channels: make in_channels={channels}, "
                   "or check the input's layout (channels first, NCHW)?")
            raise self._input_error(
                input.shape, f"expected {self.in_channels} channels in dimension {dim}, got "
                f"{channels}", fix, self._config())

    def _config(self) -> str:
        return f"in_channels={self.in_channels}"

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
            f"stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        fn = Fc.conv1d if self._dims == 1 else Fc.conv2d
        shape, padding = input.shape, self.padding
        try:
            if self.padding_mode != "zeros":
                input = _pad_by_mode(input, self._side_pads(), self.padding_mode)
                padding = 0
            return fn(input, self.weight, self.bias, self.stride, padding, self.dilation,
                      self.groups)
        except ValueError as error:  # e.g. an input smaller than the kernel
            raise self._input_error(shape, str(error).split(": ", 1)[-1], None,
                                    self._config()) from None

    def _side_pads(self) -> list[tuple[int, int]]:
        if self.padding == "valid":
            return [(0, 0)] * self._dims
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            return [(t // 2, t - t // 2) for t in totals]
        return [(p, p) for p in self.padding]


def _pad_by_mode(input: Tensor, pads: list[tuple[int, int]], mode: str) -> Tensor:
    """Pad the last len(pads) dimensions with 'reflect', 'replicate' or 'circular' values."""
    out = input
    for axis, (before, after) in zip(range(input.ndim - len(pads), input.ndim), pads):
        if before == after == 0:
            continue
        n = input.shape[axis]
        if mode == "reflect" and max(before, after) >= n:
            raise ValueError(f"padding_mode='reflect': padding ({before}, {after}) must be smaller "
                             f"than the input size {n} in dimension {axis}")
        j = xp.arange(-before, n + after)
        if mode == "reflect":
            j = xp.abs(j)
            j = xp.where(j >= n, 2 * (n - 1) - j, j)
        elif mode == "replicate":
            j = xp.clip(j, 0, n - 1)
        else:
            j = j % n
        out = out.index_select(axis, Tensor(j))
    return out


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, device, dtype)
        for e, s, d in zip(self.output_padding, self.stride, self.dilation):
            if e >= max(s, d):
                raise ValueError(f"{type(self).__name__}: output_padding {self.output_padding} "
                                 f"must be smaller than either stride {self.stride} or "
                                 f"dilation {self.dilation}")

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        self._check_input(input)
        extra = self.output_padding
        if output_size is not None:
            extra = self._output_padding(input, output_size)
        fn = Fc.conv_transpose1d if self._dims == 1 else Fc.conv_transpose2d
        try:
            return fn(input, self.weight, self.bias, self.stride, self.padding, extra, self.groups,
                      self.dilation)
        except ValueError as error:
            raise self._input_error(input.shape, str(error).split(": ", 1)[-1], None,
                                    self._config()) from None

    def _output_padding(self, input: Tensor, output_size: Any) -> tuple[int, ...]:
        n = self._dims
        size = tuple(output_size)[-n:]
        extra = []
        for i in range(n):
            smallest = ((input.shape[input.ndim - n + i] - 1) * self.stride[i]
                        - 2 * self.padding[i] + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            largest = smallest + self.stride[i] - 1
            if not smallest <= size[i] <= largest:
                raise self._input_error(
                    input.shape, f"requested output_size {tuple(size)} is not reachable: dimension "
                    f"{i} must be between {smallest} and {largest}", None, self._config())
            extra.append(size[i] - smallest)
        return tuple(extra)


class Conv1d(_Conv):
    """1-d convolution (``torch.nn.Conv1d``) over (N, C_in, L) inputs.

    Shape:
        (N, C_in, L) or (C_in, L) -> (N, C_out, L_out),
        L_out = (L + 2*padding - dilation*(kernel_size-1) - 1) // stride + 1.
    """

    _dims = 1


class Conv2d(_Conv):
    """2-d convolution (``torch.nn.Conv2d``) over (N, C_in, H, W) inputs.

    padding may be an int, a pair, 'same' or 'valid'; padding_mode 'zeros',
    'reflect', 'replicate' or 'circular'.

    Shape:
        (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out),
        H_out = (H + 2*padding[0] - dilation[0]*(kernel_size[0]-1) - 1) // stride[0] + 1.
    """

    _dims = 2


class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution (``torch.nn.ConvTranspose1d``).

    Shape:
        (N, C_in, L) or (C_in, L) -> (N, C_out, L_out), L_out = (L-1)*stride - 2*padding
        + dilation*(kernel_size-1) + output_padding + 1.
    """

    _dims = 1


class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution (``torch.nn.ConvTranspose2d``); ``forward(input,
    output_size=None)`` may ask for an exact output size.

    Shape:
        (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out), H_out = (H-1)*stride[0]
        - 2*padding[0] + dilation[0]*(kernel_size[0]-1) + output_padding[0] + 1.
    """

    _dims = 2


__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

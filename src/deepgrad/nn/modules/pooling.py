"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool2d.

Arguments are kept as given (``stride`` defaults to ``kernel_size``), so reprs
match PyTorch's; they are checked at construction.
"""

from __future__ import annotations

from typing import Any

from deepgrad.nn.functional import _im2col as K
from deepgrad.nn.functional import pooling as Fp
from deepgrad.nn.modules.module import Module
from deepgrad.tensor import Tensor


def _layout(dims: int) -> str:
    return "(N, C, L) or (C, L)" if dims == 1 else "(N, C, H, W) or (C, H, W)"


class _PoolNd(Module):
    _dims = 2

    def _check_input(self, input: Any) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()} expected a Tensor input, got "
                            f"{type(input).__name__}")
        n = self._dims
        if input.ndim not in (n + 1, n + 2):
            fix = "flatten or reshape it to NCHW?" if input.ndim > n + 2 else \
                "add the batch and channel dimensions?"
            raise self._input_error(input.shape, f"expected a {n + 1}-d or {n + 2}-d input "
                                    f"{_layout(n)}", fix)

    def _call(self, fn: Any, input: Tensor, *args: Any) -> Any:
        self._check_input(input)
        try:
            return fn(input, *args)
        except ValueError as error:  # e.g. an input smaller than the window
            raise self._input_error(input.shape, str(error).split(": ", 1)[-1]) from None


def _validate(layer: str, dims: int, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any = 1) -> None:
    kernel = K.tuple_arg(kernel_size, dims, "kernel_size", layer, minimum=1)
    if stride is not None:
        K.tuple_arg(stride, dims, "stride", layer, minimum=1)
    pad = K.tuple_arg(padding, dims, "padding", layer, minimum=0)
    K.tuple_arg(dilation, dims, "dilation", layer, minimum=1)
    if any(p > k // 2 for p, k in zip(pad, kernel)):
        raise ValueError(f"{layer}: padding={padding!r} should be at most half of "
                         f"kernel_size={kernel_size!r}")


class _MaxPoolNd(_PoolNd):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        _validate(type(self).__name__, self._dims, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        fn = Fp.max_pool1d if self._dims == 1 else Fp.max_pool2d
        return self._call(fn, input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows (``torch.nn.MaxPool1d``); stride defaults to kernel_size.

    Shape:
        (N, C, L) or (C, L) -> (N, C, L_out),
        L_out = floor_or_ceil((L + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1.
    """

    _dims = 1


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows (``torch.nn.MaxPool2d``); stride defaults to kernel_size.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out),
        H_out = floor_or_ceil((H + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1.
    """

    _dims = 2


class _AvgPoolNd(_PoolNd):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        _validate(type(self).__name__, self._dims, kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Average over sliding windows (``torch.nn.AvgPool1d``); stride defaults to kernel_size.

    Shape:
        (N, C, L) or (C, L) -> (N, C, L_out),
        L_out = floor_or_ceil((L + 2*padding - kernel_size) / stride) + 1.
    """

    _dims = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # PyTorch keeps AvgPool1d's sizes as 1-tuples (its repr shows them so).
        self.kernel_size, self.stride, self.padding = (
            K.tuple_arg(v, 1, name, "AvgPool1d") for v, name in
            ((self.kernel_size, "kernel_size"), (self.stride, "stride"), (self.padding, "padding")))

    def forward(self, input: Tensor) -> Tensor:
        return self._call(Fp.avg_pool1d, input, self.kernel_size, self.stride, self.padding,
                          self.ceil_mode, self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Average over sliding windows (``torch.nn.AvgPool2d``); stride defaults to kernel_size.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out),
        H_out = floor_or_ceil((H + 2*padding - kernel_size) / stride) + 1.
    """

    _dims = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        if divisor_override is not None and (not isinstance(divisor_override, int)
                                             or divisor_override == 0):
            raise ValueError(f"AvgPool2d: divisor_override must be a non-zero int, got "
                             f"{divisor_override!r}")
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return self._call(Fp.avg_pool2d, input, self.kernel_size, self.stride, self.padding,
                          self.ceil_mode, self.count_include_pad, self.divisor_override)


class _AdaptivePoolNd(_PoolNd):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        sizes = (output_size,) if output_size is None or isinstance(output_size, int) \
            else tuple(output_size)
        if len(sizes) not in (1, self._dims) or any(
                s is not None and (not isinstance(s, int) or s < 1) for s in sizes):
            raise ValueError(f"{type(self).__name__}: output_size must be a positive int (or None) "
                             f"or a tuple of {self._dims} of them, got {output_size!r}")
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Average pooling to a fixed length (``torch.nn.AdaptiveAvgPool1d``).

    Shape:
        (N, C, L) or (C, L) -> (N, C, output_size)
    """

    _dims = 1

    def forward(self, input: Tensor) -> Tensor:
        return self._call(Fp.adaptive_avg_pool1d, input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Average pooling to a fixed size (``torch.nn.AdaptiveAvgPool2d``); None keeps a dimension.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, *output_size)
    """

    _dims = 2

    def forward(self, input: Tensor) -> Tensor:
        return self._call(Fp.adaptive_avg_pool2d, input, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePoolNd):
    """Max pooling to a fixed size (``torch.nn.AdaptiveMaxPool2d``).

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, *output_size)
    """

    _dims = 2

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return self._call(Fp.adaptive_max_pool2d, input, self.output_size, self.return_indices)


__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"]

"""Normalization layers: BatchNorm1d/2d, InstanceNorm2d, LayerNorm, GroupNorm, LocalResponseNorm.

Parameters, buffers and their names are PyTorch's (``weight``, ``bias``,
``running_mean``, ``running_var``, ``num_batches_tracked``), so state_dicts
convert 1:1. ``momentum=None`` makes the running statistics a cumulative
average (factor 1 / num_batches_tracked), as in PyTorch.
"""

from __future__ import annotations

import warnings
from typing import Any

from deepgrad import dtypes
from deepgrad.backend import xp
from deepgrad.nn import init
from deepgrad.nn.functional import normalization as Fn
from deepgrad.nn.modules.linear import check_size, new_parameter
from deepgrad.nn.modules.module import Module
from deepgrad.tensor import Tensor


def _check_float(layer: str, name: str, value: Any, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ValueError(f"{layer}: {name} must be a number >= {minimum}, got {value!r}")
    return value


def _new_buffer(shape: tuple, fill: float, dtype: Any) -> Tensor:
    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return Tensor(xp.full(shape, fill, dtype=d.np))


def _affine_parameters(module: Module, n: int, affine: bool, bias: bool, dtype: Any) -> None:
    """weight and (with ``bias``) bias of size n when ``affine``, else both None."""
    if affine:
        module.weight = new_parameter(n, dtype=dtype)
        if bias:
            module.bias = new_parameter(n, dtype=dtype)
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    """Shared by BatchNorm and InstanceNorm: affine parameters and running statistics."""

    _dims: tuple[int, ...] = (4,)
    _unbatched_ndim = -1  # an input of this many dimensions has no batch dimension
    _layout = "(N, C, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check_size(name, "num_features", num_features, 1)
        self.eps = _check_float(name, "eps", eps)
        if momentum is not None:
            _check_float(name, "momentum", momentum)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, self.num_features, affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", _new_buffer((self.num_features,), 0.0, dtype))
            self.register_buffer("running_var", _new_buffer((self.num_features,), 1.0, dtype))
            self.register_buffer("num_batches_tracked", Tensor(xp.asarray(0, dtype=xp.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0
            for t in (self.running_mean, self.running_var, self.num_batches_tracked):
                t._bump_version()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input(self, input: Any) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()} expected a Tensor input, got "
                            f"{type(input).__name__}")
        config = f"num_features={self.num_features}"
        if input.ndim not in self._dims:
            dims = " or ".join(f"{d}-d" for d in self._dims)
            raise self._input_error(input.shape, f"expected a {dims} input {self._layout}",
                                    self._ndim_fix(input), config)
        dim = 0 if input.ndim == self._unbatched_ndim else 1
        if input.shape[dim] != self.num_features and not self._strict_channels():
            warnings.warn(f"{self._describe()} was built for num_features={self.num_features} but "
                          f"got {input.shape[dim]} channels; without affine parameters or "
                          "running statistics that does not matter (as in PyTorch)")
        elif input.shape[dim] != self.num_features:
            raise self._input_error(
                input.shape, f"expected {self.num_features} channels in dimension {dim}, got "
                f"{input.shape[dim]}", f"make num_features={input.shape[dim]} to match the layer "
                "before it?", config)
        weight = self.weight if self.weight is not None else self.running_mean
        if weight is not None and input.array.dtype != weight.array.dtype:
            raise RuntimeError(
                f"{self._describe()} got input of dtype {input.dtype} but its parameters are "
                f"{weight.dtype}: convert the input (x.to({weight.dtype})) or the model "
                f"(model.to({input.dtype}))")

    def _ndim_fix(self, input: Tensor) -> str | None:
        return None

    def _strict_channels(self) -> bool:
        """Whether the channel count must match (it always must, except for InstanceNorm
        without affine parameters or running statistics, where PyTorch only warns)."""
        return True

    def _factor(self) -> float:
        """The momentum of this step's running-statistics update (counts the batch)."""
        if not (self.training and self.track_running_stats):
            return 0.0 if self.momentum is None else self.momentum
        self.num_batches_tracked.array[...] += 1
        self.num_batches_tracked._bump_version()
        if self.momentum is None:
            return 1.0 / float(self.num_batches_tracked.array)
        return self.momentum

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        factor = self._factor()
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        try:
            return Fn.batch_norm(input, self.running_mean if keep else None,
                                 self.running_var if keep else None, self.weight, self.bias,
                                 use_batch_stats, factor, self.eps)
        except ValueError as error:  # e.g. one value per channel in training
            raise self._input_error(input.shape, str(error).split(": ", 1)[-1], None,
                                    f"num_features={self.num_features}") from None


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs (``torch.nn.BatchNorm1d``).

    Shape:
        (N, C) or (N, C, L) -> same
    """

    _dims = (2, 3)
    _layout = "(N, C) or (N, C, L)"

    def _ndim_fix(self, input: Tensor) -> str | None:
        if input.ndim == 4:
            return "use nn.BatchNorm2d for (N, C, H, W) inputs, or flatten first?"
        return None


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs (``torch.nn.BatchNorm2d``): per-channel
    statistics over the batch and spatial positions.

    Shape:
        (N, C, H, W) -> same
    """

    _dims = (4,)
    _layout = "(N, C, H, W)"

    def _ndim_fix(self, input: Tensor) -> str | None:
        if input.ndim in (2, 3):
            return "use nn.BatchNorm1d for (N, C) or (N, C, L) inputs?"
        return None


class InstanceNorm2d(_NormBase):
    """Instance normalization (``torch.nn.InstanceNorm2d``): each channel of each sample
    over its own H*W positions; no affine parameters nor running statistics by default.

    Shape:
        (N, C, H, W) or (C, H, W) -> same
    """

    _dims = (3, 4)
    _unbatched_ndim = 3
    _layout = "(N, C, H, W) or (C, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def _strict_channels(self) -> bool:
        return self.affine or self.track_running_stats

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        unbatched = input.ndim == 3
        x = input.reshape((1,) + tuple(input.shape)) if unbatched else input
        momentum = self.momentum if self.momentum is not None else 0.0
        try:
            out = Fn.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                   self.training or not self.track_running_stats, momentum,
                                   self.eps)
        except ValueError as error:
            raise self._input_error(input.shape, str(error).split(": ", 1)[-1], None,
                                    f"num_features={self.num_features}") from None
        return out.reshape(input.shape) if unbatched else out


class LayerNorm(Module):
    """Layer normalization over the last dimensions (``torch.nn.LayerNorm``).

    Shape:
        (*, *normalized_shape) -> same
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                 else tuple(normalized_shape))
        if not shape:
            raise ValueError("LayerNorm: normalized_shape must have at least one dimension")
        self.normalized_shape = tuple(check_size("LayerNorm", "normalized_shape", s, 1)
                                      for s in shape)
        self.eps = _check_float("LayerNorm", "eps", eps)
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = new_parameter(*self.normalized_shape, dtype=dtype)
            if bias:
                self.bias = new_parameter(*self.normalized_shape, dtype=dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()} expected a Tensor input, got "
                            f"{type(input).__name__}")
        n = len(self.normalized_shape)
        if input.ndim < n or tuple(input.shape[input.ndim - n:]) != self.normalized_shape:
            raise self._input_error(
                input.shape, f"its last {n} dimension(s) must be {self.normalized_shape}",
                "make normalized_shape match the input's trailing dimensions?",
                f"normalized_shape={self.normalized_shape}")
        return Fn.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalization (``torch.nn.GroupNorm``): statistics over groups of channels.

    Shape:
        (N, C, *) -> same, C = num_channels divisible by num_groups
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_groups = check_size("GroupNorm", "num_groups", num_groups, 1)
        self.num_channels = check_size("GroupNorm", "num_channels", num_channels, 1)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by "
                             f"num_groups={num_groups}")
        self.eps = _check_float("GroupNorm", "eps", eps)
        self.affine = affine
        _affine_parameters(self, num_channels, affine, bias, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()} expected a Tensor input, got "
                            f"{type(input).__name__}")
        config = f"num_groups={self.num_groups}, num_channels={self.num_channels}"
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            got = f"got {input.shape[1]}" if input.ndim >= 2 else "it has none"
            raise self._input_error(input.shape, f"expected {self.num_channels} channels in "
                                    f"dimension 1, {got}", "inputs are (N, C, *)", config)
        return Fn.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """Local response normalization across channels (``torch.nn.LocalResponseNorm``, AlexNet's).

    Shape:
        (N, C, *) -> same
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = check_size("LocalResponseNorm", "size", size, 1)
        self.alpha, self.beta, self.k = alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()} expected a Tensor input, got "
                            f"{type(input).__name__}")
        if input.ndim < 3:
            raise self._input_error(input.shape, "expected 3 or more dimensions (N, C, *)",
                                    "add the batch dimension?")
        return Fn.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


__all__ = ["BatchNorm1d", "BatchNorm2d", "InstanceNorm2d", "LayerNorm", "GroupNorm",
           "LocalResponseNorm"]

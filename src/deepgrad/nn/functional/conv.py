"""Convolutions: conv1d, conv2d, conv_transpose1d, conv_transpose2d (PyTorch's signatures).

Three Functions, all bilinear, each the others' derivatives, so gradients of
any order come out of the same code:

* ``_Conv(x, w, b)``            y = conv(x, w) + b
* ``_ConvTranspose(g, w, b)``   x = conv_transpose(g, w) + b: the adjoint of conv in x
* ``_ConvWeight(x, g)``         w = the adjoint of conv in w (the weight gradient)

The array work (im2col, one matrix product, col2im) lives in ``_im2col``; 1-d
ops run as 2-d ones with height 1. When backward runs without a graph (the
usual ``loss.backward()``), it computes both gradients straight from arrays,
sharing the output gradient's transposed copy. The column matrix is never kept:
it is rebuilt block by block where a product needs it, which costs less than
reading it back from memory (and saves its memory, 25x the input for 5x5 kernels).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from deepgrad.autograd.function import Function, depends_on
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.nn.functional import _im2col as K
from deepgrad.ops._registry import OpCase, declare
from deepgrad.tensor import Tensor

class _Spec(NamedTuple):
    geo: K.Geometry
    groups: int


def _bias(b: Tensor | None) -> Any:
    return None if b is None else b.array


class _Conv(Function):
    @staticmethod
    def forward(ctx, x, w, b, spec):
        n = x.shape[0]
        blocks = K.row_blocks(spec.geo, n, spec.groups)
        fold = b is not None and spec.groups == 1  # the bias rides in the matrix product
        y = K.conv_forward(x.array, w.array, spec.geo, spec.groups, blocks,
                           _bias(b) if fold else None)
        ctx.spec, ctx.blocks, ctx.fold = spec, blocks, fold
        ctx.save_for_backward(x, w)
        return K.to_nchw(y, n, spec.geo.out, None if fold else _bias(b))

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        spec = ctx.spec
        if is_grad_enabled():  # a graph of the backward pass: stay differentiable
            grad_x = _ConvTranspose.apply(g, w, None, spec) if need_x else None
            grad_w = _ConvWeight.apply(x, g, spec) if need_w else None
            grad_b = depends_on(g.sum((0, 2, 3)), x, w) if need_b else None
            return grad_x, grad_w, grad_b, None
        gm = K.grad_matrix(g.array)
        grad_x = grad_w = grad_b = None
        if need_x:
            grad_x = K.conv_input_grad(gm, w.array, spec.geo, spec.groups, x.shape[0], ctx.blocks)
        if need_w:
            grad_w, grad_b = K.conv_weight_grad(x.array, gm, w.shape, spec.geo, spec.groups,
                                                ctx.blocks, with_bias=ctx.fold and need_b)
        if need_b and grad_b is None:
            grad_b = gm.sum(axis=1)
        return (*(None if a is None else Tensor(a) for a in (grad_x, grad_w)),
                None if not need_b else Tensor(grad_b), None)


class _ConvTranspose(Function):
    @staticmethod
    def forward(ctx, g, w, b, spec):
        ctx.spec = spec
        ctx.save_for_backward(g, w)
        n = g.shape[0]
        blocks = K.row_blocks(spec.geo, n, spec.groups)
        return K.conv_input_grad(K.grad_matrix(g.array), w.array, spec.geo, spec.groups, n,
                                 blocks, _bias(b))

    @staticmethod
    def backward(ctx, grad):
        g, w = ctx.saved_tensors
        need_g, need_w, need_b = ctx.needs_input_grad[:3]
        spec = ctx.spec
        grad_b = grad.sum((0, 2, 3)) if need_b else None
        if is_grad_enabled():
            grad_g = _Conv.apply(grad, w, None, spec) if need_g else None
            grad_w = _ConvWeight.apply(grad, g, spec) if need_w else None
            return grad_g, grad_w, grad_b if grad_b is None else depends_on(grad_b, g, w), None
        n = grad.shape[0]
        blocks = K.row_blocks(spec.geo, n, spec.groups)
        grad_g = grad_w = None
        if need_g:
            y = K.conv_forward(grad.array, w.array, spec.geo, spec.groups, blocks)
            grad_g = Tensor(K.to_nchw(y, n, spec.geo.out))
        if need_w:
            dw, _ = K.conv_weight_grad(grad.array, K.grad_matrix(g.array), w.shape, spec.geo,
                                       spec.groups, blocks)
            grad_w = Tensor(dw)
        return grad_g, grad_w, grad_b, None


class _ConvWeight(Function):
    @staticmethod
    def forward(ctx, x, g, spec):
        ctx.spec = spec
        ctx.save_for_backward(x, g)
        w_shape = (g.shape[1], x.shape[1] // spec.groups, *spec.geo.kernel)
        blocks = K.row_blocks(spec.geo, x.shape[0], spec.groups)
        dw, _ = K.conv_weight_grad(x.array, K.grad_matrix(g.array), w_shape, spec.geo,
                                   spec.groups, blocks)
        return dw

    @staticmethod
    def backward(ctx, grad_w):
        x, g = ctx.saved_tensors
        need_x, need_g = ctx.needs_input_grad[:2]
        grad_x = _ConvTranspose.apply(g, grad_w, None, ctx.spec) if need_x else None
        grad_g = _Conv.apply(x, grad_w, None, ctx.spec) if need_g else None
        return grad_x, grad_g, None


# --- argument checking --------------------------------------------------------------
def _check_tensors(op: str, input: Tensor, weight: Tensor, bias: Tensor | None, dims: int) -> None:
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if weight.ndim != dims + 2:
        raise ValueError(
            f"{op}: weight must have {dims + 2} dimensions (out_channels, in_channels/groups, "
            f"{'kernel' if dims == 1 else 'kH, kW'}), got shape {tuple(weight.shape)}"
        )
    if input.ndim not in (dims + 1, dims + 2):
        layout = "(N, C, L) or (C, L)" if dims == 1 else "(N, C, H, W) or (C, H, W)"
        raise ValueError(
            f"{op}: expected a {dims + 2}-d (batched) or {dims + 1}-d (unbatched) input {layout}, "
            f"got input of shape {tuple(input.shape)}"
        )
    if not input.is_floating_point():
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype}; "
                        "use input.float()")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise TypeError(
                f"{op}: input type ({input.dtype}) and {name} type ({t.dtype}) should be the same; "
                f"convert one of them, e.g. input.to({t.dtype})"
            )


def _check_channels(op: str, input: Tensor, weight: Tensor, bias: Tensor | None, groups: int,
                    in_channels: int, out_channels: int) -> None:
    if groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups}")
    if weight.shape[0] % groups:
        raise ValueError(f"{op}: weight of shape {tuple(weight.shape)}: dimension 0 must be "
                         f"divisible by groups={groups}")
    channels = input.shape[-weight.ndim + 1]
    if channels != in_channels:
        raise ValueError(
            f"{op}: expected input with {in_channels} channels in dimension "
            f"{input.ndim - weight.ndim + 1} (weight of shape {tuple(weight.shape)}, "
            f"groups={groups}), got input of shape {tuple(input.shape)} with {channels} channels"
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},), got {tuple(bias.shape)}")


def _as_4d(op: str, input: Tensor, dims: int) -> tuple[Tensor, bool]:
    """Batched 4-d NCHW; 1-d ops gain a height of 1, unbatched inputs a batch of 1."""
    unbatched = input.ndim == dims + 1
    shape = tuple(input.shape)
    if unbatched:
        shape = (1,) + shape
    if dims == 1:
        shape = shape[:2] + (1,) + shape[2:]
    return (input.reshape(shape) if shape != tuple(input.shape) else input), unbatched


def _from_4d(out: Tensor, dims: int, unbatched: bool) -> Tensor:
    shape = tuple(out.shape)
    if dims == 1:
        shape = shape[:2] + shape[3:]
    if unbatched:
        shape = shape[1:]
    return out.reshape(shape) if shape != tuple(out.shape) else out


def _spatial(op: str, value: Any, dims: int, name: str, minimum: int) -> tuple[int, int]:
    """The 2-d form of a size argument; a 1-d op's (absent) height gets ``minimum`` (0 or 1)."""
    t = K.tuple_arg(value, dims, name, op, minimum=minimum)
    return ((minimum,) + t) if dims == 1 else t


def _conv_padding(op: str, padding: Any, dims: int, kernel: tuple, dilation: tuple,
                  stride: tuple) -> tuple:
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride[-dims:]}); give the padding as numbers")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', "
                         f"got {padding!r}")
    p = _spatial(op, padding, dims, "padding", 0)
    return tuple((v, v) for v in p)


def _conv(op: str, dims: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
          padding: Any, dilation: Any, groups: int) -> Tensor:
    _check_tensors(op, input, weight, bias, dims)
    _check_channels(op, input, weight, bias, groups, weight.shape[1] * groups, weight.shape[0])
    x, unbatched = _as_4d(op, input, dims)
    w = weight.reshape(weight.shape[:2] + (1,) + weight.shape[2:]) if dims == 1 else weight
    kernel = tuple(w.shape[2:])
    stride = _spatial(op, stride, dims, "stride", 1)
    dilation = _spatial(op, dilation, dims, "dilation", 1)
    pads = _conv_padding(op, padding, dims, kernel, dilation, stride)
    size = tuple(x.shape[2:])
    out = tuple(K.out_size(n, k, s, p0, p1, d)
                for n, k, s, (p0, p1), d in zip(size, kernel, stride, pads, dilation))
    if min(out) < 1:
        padded = tuple(n + p0 + p1 for n, (p0, p1) in zip(size, pads))
        reach = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
        raise ValueError(
            f"{op}: the input is too small: its padded spatial size {padded[-dims:]} is smaller "
            f"than the (dilated) kernel {reach[-dims:]}; pad the input or use a smaller kernel"
        )
    spec = _Spec(K.Geometry(size, kernel, stride, pads, dilation, out), groups)
    return _from_4d(_Conv.apply(x, w, bias, spec), dims, unbatched)


def _conv_transpose(op: str, dims: int, input: Tensor, weight: Tensor, bias: Tensor | None,
                    stride: Any, padding: Any, output_padding: Any, groups: int,
                    dilation: Any) -> Tensor:
    _check_tensors(op, input, weight, bias, dims)
    _check_channels(op, input, weight, bias, groups, weight.shape[0], weight.shape[1] * groups)
    x, unbatched = _as_4d(op, input, dims)
    w = weight.reshape(weight.shape[:2] + (1,) + weight.shape[2:]) if dims == 1 else weight
    kernel = tuple(w.shape[2:])
    stride = _spatial(op, stride, dims, "stride", 1)
    dilation = _spatial(op, dilation, dims, "dilation", 1)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple (no 'same' or 'valid' for "
                         f"transposed convolutions), got {padding!r}")
    pad = _spatial(op, padding, dims, "padding", 0)
    extra = _spatial(op, output_padding, dims, "output_padding", 0)
    for e, s, d in zip(extra, stride, dilation):
        if e >= max(s, d):
            raise ValueError(f"{op}: output_padding {extra[-dims:]} must be smaller than either "
                             f"stride {stride[-dims:]} or dilation {dilation[-dims:]}")
    size_in = tuple(x.shape[2:])
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1
                 for n, s, p, d, k, e in zip(size_in, stride, pad, dilation, kernel, extra))
    if min(size) < 1:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} gives an output of size "
                         f"{size[-dims:]}; reduce the padding")
    geo = K.Geometry(size, kernel, stride, tuple((p, p) for p in pad), dilation, size_in)
    out = _ConvTranspose.apply(x, w, bias, _Spec(geo, groups))
    return _from_4d(out, dims, unbatched)


# --- public functions ---------------------------------------------------------------
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-d cross-correlation over an (N, C_in, L) input, as ``torch.nn.functional.conv1d``.

    Shape:
        input (N, C_in, L) or (C_in, L); weight (C_out, C_in/groups, k); bias (C_out,);
        output (N, C_out, L_out), L_out = (L + 2*padding - dilation*(k-1) - 1) // stride + 1.
        ``padding`` may be 'same' (stride 1 only) or 'valid'.
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-d cross-correlation over an (N, C_in, H, W) input, as ``torch.nn.functional.conv2d``.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, kH, kW);
        bias (C_out,); output (N, C_out, H_out, W_out) with
        H_out = (H + 2*padding[0] - dilation[0]*(kH-1) - 1) // stride[0] + 1 (W alike).
        ``padding`` may be an int, a pair, 'same' (stride 1 only) or 'valid'.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-d transposed convolution (the gradient of conv1d in its input), as PyTorch's.

    Shape:
        input (N, C_in, L) or (C_in, L); weight (C_in, C_out/groups, k); bias (C_out,);
        output (N, C_out, L_out), L_out = (L-1)*stride - 2*padding + dilation*(k-1)
        + output_padding + 1.
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-d transposed convolution (the gradient of conv2d in its input), as PyTorch's.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out/groups, kH, kW);
        bias (C_out,); output (N, C_out, H_out, W_out) with H_out = (H-1)*stride[0]
        - 2*padding[0] + dilation[0]*(kH-1) + output_padding[0] + 1 (W alike).
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# --- declared test cases ------------------------------------------------------------
def _torch_f() -> Any:
    import warnings

    import torch.nn.functional as F

    warnings.filterwarnings("ignore", message="Using padding='same'")
    return F


def _ref_conv2d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0,
                dilation: Any = 1, groups: int = 1) -> Any:
    """A direct NumPy-style reference (sliding windows and einsum)."""
    kh, kw = w.shape[2:]
    sh, sw = K.tuple_arg(stride, 2, "stride", "ref")
    ph, pw = K.tuple_arg(padding, 2, "padding", "ref")
    dh, dw = K.tuple_arg(dilation, 2, "dilation", "ref")
    x = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = xp.lib.stride_tricks.sliding_window_view(
        x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, Ho, Wo, kh, kw)
    n, c, ho, wo = win.shape[:4]
    win = win.reshape(n, groups, c // groups, ho, wo, kh, kw)
    wg = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])
    out = xp.einsum("ngchwij,gocij->ngohw", win, wg).reshape(n, -1, ho, wo)
    return out if b is None else out + b.reshape(1, -1, 1, 1)


declare(
    OpCase("conv2d", lambda x, w, b: conv2d(x, w, b), [(2, 3, 5, 5), (4, 3, 3, 3), (4,)],
           ref=_ref_conv2d, torch_fn=lambda x, w, b: _torch_f().conv2d(x, w, b)),
    OpCase("conv2d", lambda x, w: conv2d(x, w, stride=2, padding=1), [(2, 2, 5, 6), (3, 2, 3, 3)],
           ref=lambda x, w: _ref_conv2d(x, w, stride=2, padding=1),
           torch_fn=lambda x, w: _torch_f().conv2d(x, w, stride=2, padding=1), label="stride,pad"),
    OpCase("conv2d", lambda x, w, b: conv2d(x, w, b, dilation=2, padding=1),
           [(1, 2, 6, 6), (2, 2, 3, 3), (2,)],
           ref=lambda x, w, b: _ref_conv2d(x, w, b, dilation=2, padding=1),
           torch_fn=lambda x, w, b: _torch_f().conv2d(x, w, b, dilation=2, padding=1),
           label="dilation"),
    OpCase("conv2d", lambda x, w, b: conv2d(x, w, b, groups=2), [(2, 4, 4, 4), (4, 2, 2, 2), (4,)],
           ref=lambda x, w, b: _ref_conv2d(x, w, b, groups=2),
           torch_fn=lambda x, w, b: _torch_f().conv2d(x, w, b, groups=2), label="groups"),
    OpCase("conv2d", lambda x, w: conv2d(x, w, padding="same", stride=(1, 1)),
           [(1, 2, 4, 5), (2, 2, 2, 3)],
           torch_fn=lambda x, w: _torch_f().conv2d(x, w, padding="same"), label="same,even-kernel"),
    OpCase("conv2d", lambda x, w: conv2d(x, w, stride=(1, 2), padding=(0, 1)),
           [(3, 4, 5), (2, 3, 2, 2)],
           torch_fn=lambda x, w: _torch_f().conv2d(x, w, stride=(1, 2), padding=(0, 1)),
           label="unbatched,tuples"),
    OpCase("conv2d", lambda x, w, b: conv2d(x, w, b, padding=1), [(2, 3, 4, 4), (1, 3, 3, 3), (1,)],
           ref=lambda x, w, b: _ref_conv2d(x, w, b, padding=1),
           torch_fn=lambda x, w, b: _torch_f().conv2d(x, w, b, padding=1), label="one-output"),
    # fewer outputs than inputs: the input gradient is a convolution of the gradient
    OpCase("conv2d", lambda x, w: conv2d(x, w, padding=(1, 2), dilation=(1, 2)),
           [(2, 4, 5, 6), (2, 4, 2, 3)],
           ref=lambda x, w: _ref_conv2d(x, w, padding=(1, 2), dilation=(1, 2)),
           torch_fn=lambda x, w: _torch_f().conv2d(x, w, padding=(1, 2), dilation=(1, 2)),
           label="fewer-outputs,dilation"),
    OpCase("conv2d", lambda x, w: conv2d(x, w, padding=1), [(2, 3, 3, 3), (2, 3, 1, 1)],
           ref=lambda x, w: _ref_conv2d(x, w, padding=1),
           torch_fn=lambda x, w: _torch_f().conv2d(x, w, padding=1),
           label="fewer-outputs,pad-beyond-kernel"),
    OpCase("conv_transpose2d", lambda x, w, b: conv_transpose2d(x, w, b, padding=1),
           [(2, 2, 4, 5), (2, 3, 3, 3), (3,)],
           torch_fn=lambda x, w, b: _torch_f().conv_transpose2d(x, w, b, padding=1),
           label="stride-1"),
    OpCase("conv_transpose2d", lambda x, w: conv_transpose2d(x, w, stride=2),
           [(2, 1, 3, 3), (1, 2, 3, 3)],
           torch_fn=lambda x, w: _torch_f().conv_transpose2d(x, w, stride=2), label="one-input"),
    OpCase("conv1d", lambda x, w, b: conv1d(x, w, b, stride=2, padding=1),
           [(2, 3, 7), (4, 3, 3), (4,)],
           ref=lambda x, w, b: _ref_conv2d(x[:, :, None], w[:, :, None], b, stride=(1, 2),
                                           padding=(0, 1))[:, :, 0],
           torch_fn=lambda x, w, b: _torch_f().conv1d(x, w, b, stride=2, padding=1)),
    OpCase("conv1d", lambda x, w: conv1d(x, w, dilation=2, groups=2, padding="same"),
           [(2, 4, 6), (2, 2, 3)],
           torch_fn=lambda x, w: _torch_f().conv1d(x, w, dilation=2, groups=2, padding="same"),
           label="dilation,groups,same"),
    OpCase("conv_transpose2d", lambda x, w, b: conv_transpose2d(x, w, b, stride=2, padding=1,
                                                                output_padding=1),
           [(2, 3, 3, 3), (3, 2, 3, 3), (2,)],
           torch_fn=lambda x, w, b: _torch_f().conv_transpose2d(x, w, b, stride=2, padding=1,
                                                                output_padding=1)),
    OpCase("conv_transpose2d", lambda x, w: conv_transpose2d(x, w, groups=2, dilation=(1, 2)),
           [(1, 4, 3, 3), (4, 1, 2, 2)],
           torch_fn=lambda x, w: _torch_f().conv_transpose2d(x, w, groups=2, dilation=(1, 2)),
           label="groups,dilation"),
    OpCase("conv_transpose1d", lambda x, w, b: conv_transpose1d(x, w, b, stride=3, padding=1),
           [(2, 2, 4), (2, 3, 3), (3,)],
           torch_fn=lambda x, w, b: _torch_f().conv_transpose1d(x, w, b, stride=3, padding=1)),
)

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]

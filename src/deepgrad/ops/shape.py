"""Shape ops: reshape, view, expand, squeeze, transpose, permute, repeat, flip, roll ...

Most return a view when NumPy gives one (reshape, view, expand, flatten,
squeeze, unsqueeze, transpose, permute, narrow) and share the input's version
counter; ``repeat``, ``tile``, ``flip`` and ``roll`` copy, as in PyTorch. ``tril``
and ``triu`` (keep one triangle of the last two dimensions) live here too.
Backward maps the gradient back to the input's shape with the inverse op.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.backend import broadcast_to as broadcast_array
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare, tensor_method
from deepgrad.ops._util import normalize_dim, normalize_dims
from deepgrad.tensor import Tensor


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape, copy):
        ctx.in_shape = x.shape
        try:
            return xp.reshape(x.array, shape, copy=copy)
        except ValueError as error:
            verb = "view" if copy is False else "reshape"
            hint = " (the tensor is not contiguous: use .reshape() or .contiguous().view())" \
                if copy is False and "copy" in str(error) else ""
            raise RuntimeError(
                f"{verb}: shape {tuple(shape)} is invalid for a tensor of shape "
                f"{tuple(x.shape)} ({x.array.size} elements){hint}"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None, None


@tensor_method()
def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one entry may be -1); a view when possible."""
    shape = _shape_arg(shape)
    if shape == input.shape:
        return input
    return Reshape.apply(input, shape, None)


@tensor_method()
def view(input: Tensor, *shape: Any) -> Tensor:
    """Like reshape, but always a view: fails instead of copying a non-contiguous tensor."""
    shape = _shape_arg(shape)
    if len(shape) == 1 and not isinstance(shape[0], int):  # view(dtype) reinterprets bits
        raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
    return Reshape.apply(input, shape, False)


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        try:
            return broadcast_array(x.array, shape)
        except ValueError:
            raise RuntimeError(
                f"expand: a tensor of shape {tuple(x.shape)} can't be expanded to {tuple(shape)}: "
                "each dimension must match or be 1, and new dimensions go in front"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.sum_to_size(ctx.in_shape), None


@tensor_method()
def expand(input: Tensor, *sizes: Any) -> Tensor:
    """A broadcast view to ``sizes`` (-1 keeps a dimension); no memory is copied."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the number of "
            f"dimensions ({input.ndim})"
        )
    shape = tuple(input.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    if shape == input.shape:
        return input
    return Expand.apply(input, shape)


@tensor_method()
def broadcast_to(input: Tensor, shape: Any) -> Tensor:
    return expand(input, tuple(shape))


@tensor_method()
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other.shape)


def _prod(sizes: Any) -> int:
    n = 1
    for s in sizes:
        n *= s
    return n


# --- views: squeeze, unsqueeze, flatten, unflatten, narrow ------------------------
@tensor_method()
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim`` .. ``end_dim`` into one; a view when possible."""
    if input.ndim == 0:
        return reshape(input, (1,))
    start = normalize_dim(start_dim, input.ndim, "flatten")
    end = normalize_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise RuntimeError(
            f"flatten: start_dim ({start_dim}) comes after end_dim ({end_dim}) for a tensor of "
            f"shape {tuple(input.shape)}"
        )
    shape = input.shape
    return reshape(input, shape[:start] + (_prod(shape[start:end + 1]),) + shape[end + 1:])


@tensor_method()
def ravel(input: Tensor) -> Tensor:
    """All elements in one dimension (a view when the tensor is contiguous)."""
    return reshape(input, (-1,))


@tensor_method()
def unflatten(input: Tensor, dim: int, sizes: Any) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one of them may be -1)."""
    d = normalize_dim(dim, input.ndim, "unflatten")
    sizes = tuple(sizes)
    size = input.shape[d]
    known = _prod(s for s in sizes if s != -1)
    if not sizes or sizes.count(-1) > 1 or (-1 not in sizes and known != size) or (
        -1 in sizes and (known == 0 or size % known)
    ):
        raise RuntimeError(
            f"unflatten: sizes {sizes} don't multiply to the size {size} of dimension {dim} of a "
            f"tensor of shape {tuple(input.shape)} (at most one size may be -1)"
        )
    return reshape(input, input.shape[:d] + sizes + input.shape[d + 1:])


@tensor_method()
def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim`` that have size 1); a view."""
    shape = input.shape
    if dim is None:
        dims = range(len(shape))
    else:
        dims = normalize_dims(dim, input.ndim, "squeeze") or ()
    drop = {d for d in dims if shape[d] == 1}
    if not drop:
        return input
    return Reshape.apply(input, tuple(s for i, s in enumerate(shape) if i not in drop), None)


@tensor_method()
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim`` (in [-ndim-1, ndim]); a view."""
    rank = input.ndim + 1
    if not -rank <= dim < rank:
        raise IndexError(
            f"unsqueeze: dimension {dim} is out of range for a tensor with {input.ndim} dimensions "
            f"(expected a value in [{-rank}, {rank - 1}])"
        )
    d = dim % rank
    return Reshape.apply(input, input.shape[:d] + (1,) + input.shape[d:], None)


@tensor_method()
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice ``start : start + length`` of dimension ``dim``; a view."""
    d = normalize_dim(dim, input.ndim, "narrow")
    size = input.shape[d]
    start, length = int(start), int(length)
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise IndexError(
            f"narrow: start {start} and length {length} don't fit in dimension {dim} of size "
            f"{size} (tensor of shape {tuple(input.shape)}); need 0 <= start and start + length "
            f"<= {size}"
        )
    return input[(slice(None),) * d + (slice(start, start + length),)]


@tensor_method()
def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other.shape)


@tensor_method()
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other.shape)


@tensor_method()
def is_contiguous(input: Tensor) -> bool:
    """Whether the elements lie in memory in row-major (C) order with no gaps."""
    return bool(input.array.flags.c_contiguous)


@tensor_method()
def contiguous(input: Tensor) -> Tensor:
    """The tensor itself when it is C-contiguous, else a contiguous copy (gradient passes)."""
    if input.array.flags.c_contiguous:
        return input
    return input.clone()


# --- permutations: transpose, permute, T, mT, movedim ------------------------------
class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return xp.transpose(x.array, dims)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return Permute.apply(grad, tuple(inverse)), None


@tensor_method()
def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder the dimensions: output dimension i is input dimension ``dims[i]``; a view."""
    dims = _shape_arg(dims)
    ndim = input.ndim
    if len(dims) != ndim:
        raise RuntimeError(
            f"permute: got {len(dims)} dims {dims} for a tensor of shape {tuple(input.shape)}; "
            f"give a permutation of all {ndim} dimensions"
        )
    norm = tuple(normalize_dim(d, ndim, "permute") for d in dims)
    if len(set(norm)) != ndim:
        raise RuntimeError(f"permute: dims {dims} repeat a dimension; each must appear once")
    if norm == tuple(range(ndim)):
        return input
    return Permute.apply(input, norm)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dimensions ``dim0`` and ``dim1``; a view."""
    ndim = input.ndim
    if ndim == 0:
        normalize_dim(dim0, 0, "transpose")
        normalize_dim(dim1, 0, "transpose")
        return input
    a, b = normalize_dim(dim0, ndim, "transpose"), normalize_dim(dim1, ndim, "transpose")
    if a == b:
        return input
    dims = list(range(ndim))
    dims[a], dims[b] = b, a
    return Permute.apply(input, tuple(dims))


swapaxes = swapdims = transpose


@tensor_method()
def t(input: Tensor) -> Tensor:
    """Transpose a matrix (a 0-d or 1-d tensor comes back as it is)."""
    if input.ndim > 2:
        raise RuntimeError(
            f"t: expects a tensor with at most 2 dimensions, got shape {tuple(input.shape)}; "
            "use transpose(dim0, dim1) or .mT"
        )
    return transpose(input, 0, 1) if input.ndim == 2 else input


@tensor_method("movedim", "moveaxis")
def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Move dimensions ``source`` to positions ``destination`` (ints or sequences); a view."""
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: source {source} and destination {destination} have different lengths"
        )
    ndim = input.ndim
    src = tuple(normalize_dim(d, ndim, "movedim") for d in src)
    dst = tuple(normalize_dim(d, ndim, "movedim") for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(
            f"movedim: a dimension repeats in source {source} or destination {destination}"
        )
    order = [d for d in range(ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, tuple(order))


moveaxis = movedim


def _T(self: Tensor) -> Tensor:
    """All dimensions reversed (PyTorch deprecates it for tensors that are not 2-d)."""
    return permute(self, tuple(range(self.ndim - 1, -1, -1)))


def _mT(self: Tensor) -> Tensor:
    """The last two dimensions swapped: a batch of matrices, transposed."""
    if self.ndim < 2:
        raise RuntimeError(
            f"mT: expects a tensor with at least 2 dimensions, got shape {tuple(self.shape)}"
        )
    return transpose(self, -2, -1)


Tensor.T = property(_T)
Tensor.mT = property(_mT)


# --- copies: repeat, tile, flip, roll ---------------------------------------------
@tensor_method()
def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """Tile the tensor ``sizes[i]`` times along dimension i (new leading dims as needed); a copy.

    Built from a broadcast view: reshape to (1, s0, 1, s1, ...), expand to
    (r0, s0, r1, s1, ...), reshape to (r0*s0, r1*s1, ...); the last reshape
    makes the one copy, and backward is the sum over the repeats.
    """
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(
            f"repeat: {len(sizes)} repeat sizes {sizes} for a tensor of shape "
            f"{tuple(input.shape)}; give at least one per dimension ({input.ndim})"
        )
    if any(int(r) < 0 for r in sizes):
        raise RuntimeError(f"repeat: repeat sizes must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - input.ndim) + tuple(input.shape)
    if all(r == 1 for r in sizes):
        return reshape(input, shape).clone()
    ones = tuple(x for s in shape for x in (1, s))
    spread = tuple(x for r, s in zip(sizes, shape) for x in (r, s))
    out = expand(reshape(input, ones), spread)
    return reshape(out, tuple(r * s for r, s in zip(sizes, shape)))


@tensor_method()
def tile(input: Tensor, dims: Any) -> Tensor:
    """Like repeat, but fewer ``dims`` than dimensions are padded with 1s in front."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


class Flip(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return xp.flip(x.array, axis=dims).copy()  # a copy, as in PyTorch (NumPy gives a view)

    @staticmethod
    def backward(ctx, grad):
        return Flip.apply(grad, ctx.dims), None


@tensor_method()
def flip(input: Tensor, *dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims``; a copy."""
    dims = _shape_arg(dims)
    norm = normalize_dims(dims, input.ndim, "flip")
    if not norm:
        return input.clone()
    return Flip.apply(input, norm)


class Roll(Function):
    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return xp.roll(x.array, shifts, axis=dims)

    @staticmethod
    def backward(ctx, grad):
        back = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return Roll.apply(grad, back, ctx.dims), None, None


@tensor_method()
def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements cyclically by ``shifts`` along ``dims`` (all elements, flattened, if None)."""
    if dims is None:
        if not isinstance(shifts, int):
            if len(shifts) != 1:
                raise RuntimeError(
                    f"roll: without dims, shifts must be one number, got {shifts}; pass dims too"
                )
            shifts = int(shifts[0])
        return Roll.apply(input, shifts, None)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"roll: shifts {shifts} and dims {dims} must have the same length"
        )
    dims = tuple(normalize_dim(d, input.ndim, "roll") for d in dims)
    return Roll.apply(input, shifts, dims)


# --- triangles -------------------------------------------------------------------
class Triangle(Function):
    @staticmethod
    def forward(ctx, x, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return (xp.triu if upper else xp.tril)(x.array, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return Triangle.apply(grad, ctx.diagonal, ctx.upper), None, None


def _triangle(op: str, input: Tensor, diagonal: int, upper: bool) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError(
            f"{op}: input tensor must have at least 2 dimensions, got shape {tuple(input.shape)}"
        )
    return Triangle.apply(input, int(diagonal), upper)


@tensor_method()
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (on and below ``diagonal``); zeros above."""
    return _triangle("tril", input, diagonal, False)


@tensor_method()
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (on and above ``diagonal``); zeros below."""
    return _triangle("triu", input, diagonal, True)


declare(
    OpCase("reshape", lambda x: x.reshape(4, -1), [(2, 3, 4)], ref=lambda x: x.reshape(4, -1)),
    OpCase("view", lambda x: x.view(6, 4), [(2, 3, 4)], ref=lambda x: x.reshape(6, 4)),
    OpCase("expand", lambda x: x.expand(2, 3, -1), [(3, 1)], ref=lambda x: xp.broadcast_to(x, (2, 3, 1))),
    OpCase("expand", lambda x: x.expand(3, 4), [(3, 1)], ref=lambda x: xp.broadcast_to(x, (3, 4)),
           label="1->4"),
    OpCase("broadcast_to", lambda x: x.broadcast_to((2, 4)), [(4,)],
           ref=lambda x: xp.broadcast_to(x, (2, 4))),
    OpCase("expand_as", lambda x, y: x.expand_as(y), [(3, 1), (2, 3, 4)],
           ref=lambda x, y: xp.broadcast_to(x, y.shape)),
    OpCase("tril", lambda x: x.tril(), [(4, 5)], ref=xp.tril),
    OpCase("tril", lambda x: x.tril(-1), [(2, 4, 3)], ref=lambda x: xp.tril(x, -1),
           label="batched,diagonal=-1"),
    OpCase("triu", lambda x: x.triu(1), [(4, 4)], ref=lambda x: xp.triu(x, 1)),
    OpCase("triu", lambda x: x.triu(), [(2, 3, 5)], ref=xp.triu, label="batched"),
    OpCase("flatten", lambda x: x.flatten(), [(2, 3, 4)], ref=lambda x: x.reshape(-1)),
    OpCase("flatten", lambda x: x.flatten(1), [(2, 3, 4)], ref=lambda x: x.reshape(2, 12),
           label="start=1"),
    OpCase("flatten", lambda x: x.flatten(0, -2), [(2, 3, 4)], ref=lambda x: x.reshape(6, 4),
           label="0..-2"),
    OpCase("flatten", lambda x: x.flatten(), [()], ref=lambda x: x.reshape(1), label="0d"),
    OpCase("flatten", lambda x: x.transpose(0, 1).flatten(), [(3, 4)],
           ref=lambda x: x.T.reshape(-1), label="non-contiguous"),
    OpCase("ravel", lambda x: x.ravel(), [(2, 3)], ref=lambda x: x.reshape(-1)),
    OpCase("unflatten", lambda x: x.unflatten(1, (2, -1)), [(2, 6)],
           ref=lambda x: x.reshape(2, 2, 3)),
    OpCase("squeeze", lambda x: x.squeeze(), [(2, 1, 3, 1)], ref=lambda x: x.squeeze()),
    OpCase("squeeze", lambda x: x.squeeze(1), [(2, 1, 3, 1)], ref=lambda x: x.squeeze(1),
           label="dim"),
    OpCase("squeeze", lambda x: x.squeeze((1, -1)), [(2, 1, 3, 1)],
           ref=lambda x: x.squeeze((1, 3)), label="dims"),
    OpCase("unsqueeze", lambda x: x.unsqueeze(-1), [(2, 3)], ref=lambda x: x[..., None]),
    OpCase("unsqueeze", lambda x: x.unsqueeze(1), [(2, 3)], ref=lambda x: x[:, None],
           label="middle"),
    OpCase("unsqueeze", lambda x: x.unsqueeze(0), [()], ref=lambda x: x.reshape(1), label="0d"),
    OpCase("narrow", lambda x: x.narrow(1, 1, 3), [(3, 5)], ref=lambda x: x[:, 1:4]),
    OpCase("narrow", lambda x: x.narrow(0, -2, 2), [(3, 5)], ref=lambda x: x[1:3],
           label="negative-start"),
    OpCase("contiguous", lambda x: x.transpose(0, 1).contiguous(), [(3, 4)],
           ref=lambda x: xp.ascontiguousarray(x.T)),
    OpCase("transpose", lambda x: x.transpose(0, 2), [(2, 3, 4)],
           ref=lambda x: x.transpose(2, 1, 0)),
    OpCase("transpose", lambda x: x.transpose(-1, 1), [(2, 3, 4)],
           ref=lambda x: x.swapaxes(1, 2), label="negative"),
    OpCase("swapaxes", lambda x: x.swapaxes(0, 1), [(2, 3)], ref=lambda x: x.T),
    OpCase("t", lambda x: x.t(), [(2, 3)], ref=lambda x: x.T),
    OpCase("permute", lambda x: x.permute(2, 0, 1), [(2, 3, 4)],
           ref=lambda x: x.transpose(2, 0, 1)),
    OpCase("permute", lambda x: x.permute((-1, 0, 1, 2)), [(2, 1, 3, 4)],
           ref=lambda x: x.transpose(3, 0, 1, 2), label="tuple,negative"),
    OpCase("T", lambda x: x.T, [(2, 3)], ref=lambda x: x.T),
    OpCase("T", lambda x: x.T, [(2, 3, 4)], ref=lambda x: x.T,
           torch_fn=lambda x: x.permute(2, 1, 0)),  # PyTorch warns on x.T for ndim != 2
    OpCase("mT", lambda x: x.mT, [(2, 3, 4)], ref=lambda x: x.swapaxes(-1, -2)),
    OpCase("movedim", lambda x: x.movedim(0, -1), [(2, 3, 4)],
           ref=lambda x: xp.moveaxis(x, 0, -1)),
    OpCase("movedim", lambda x: x.movedim((0, 1), (2, 0)), [(2, 3, 4)],
           ref=lambda x: xp.moveaxis(x, (0, 1), (2, 0)), label="tuples"),
    OpCase("repeat", lambda x: x.repeat(2, 1, 3), [(2, 3)], ref=lambda x: xp.tile(x, (2, 1, 3))),
    OpCase("repeat", lambda x: x.repeat(3, 2), [(4,)], ref=lambda x: xp.tile(x, (3, 2)),
           label="1d"),
    OpCase("repeat", lambda x: x.repeat(1, 1), [(2, 3)], ref=lambda x: x.copy(), label="ones"),
    OpCase("tile", lambda x: x.tile((2,)), [(2, 3)], ref=lambda x: xp.tile(x, (1, 2))),
    OpCase("flip", lambda x: x.flip(0, 2), [(2, 3, 4)], ref=lambda x: x[::-1, :, ::-1]),
    OpCase("flip", lambda x: x.flip([-1]), [(2, 3)], ref=lambda x: x[:, ::-1], label="list"),
    OpCase("roll", lambda x: x.roll(1, 0), [(3, 4)], ref=lambda x: xp.roll(x, 1, 0)),
    OpCase("roll", lambda x: x.roll((1, -2), (0, 1)), [(3, 4)],
           ref=lambda x: xp.roll(x, (1, -2), (0, 1)), label="dims"),
    OpCase("roll", lambda x: x.roll(2), [(3, 4)], ref=lambda x: xp.roll(x, 2), label="flat"),
)

__all__ = [
    "reshape", "view", "expand", "broadcast_to", "expand_as", "flatten", "ravel", "unflatten",
    "squeeze", "unsqueeze", "narrow", "permute",
    "transpose", "swapaxes", "swapdims", "t", "movedim", "moveaxis", "repeat", "tile", "flip",
    "roll", "tril", "triu",
]

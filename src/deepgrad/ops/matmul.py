"""Matrix products: matmul / ``@`` with PyTorch's 1-d and batched semantics, mm, bmm,
dot, mv, outer and einsum.

``matmul`` is one backend call forward and one or two backward. A 1-d operand
is treated as a row (left) or column (right) matrix whose added dimension is
dropped from the result; batch dimensions broadcast, and backward sums the
gradient back over the broadcast ones (``sum_to_size``). Backward is written
with ``Matmul`` itself and a private last-two-dims transpose, so double
backward works.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare, tensor_method
from deepgrad.tensor import Tensor


class _SwapLast(Function):
    """The transpose of the last two dimensions (a view); its own adjoint."""

    @staticmethod
    def forward(ctx, x):
        return xp.swapaxes(x.array, -1, -2)

    @staticmethod
    def backward(ctx, grad):
        return _SwapLast.apply(grad)


def _mT(x: Tensor) -> Tensor:
    return _SwapLast.apply(x)


def _broadcast_batch(a: tuple, b: tuple) -> tuple | None:
    """The broadcast of two batch shapes, or None when they don't broadcast."""
    n = len(a) if len(a) >= len(b) else len(b)
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            return None
        out.append(x if y == 1 else y)
    return tuple(out)


class Matmul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return xp.matmul(a.array, b.array)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if not is_grad_enabled():  # no graph of the backward pass: plain arrays are enough
            return _matmul_grads_arrays(a.array, b.array, grad.array, need_a, need_b)
        # 1-d operands as matrices: a row on the left, a column on the right.
        a2 = a if a.ndim > 1 else a.reshape(1, a.shape[0])
        b2 = b if b.ndim > 1 else b.reshape(b.shape[0], 1)
        if a.ndim == 1 or b.ndim == 1:
            batch = _broadcast_batch(a2.shape[:-2], b2.shape[:-2])
            grad = grad.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        grad_a = grad_b = None
        if need_a:
            grad_a = Matmul.apply(grad, _mT(b2))
            if grad_a.shape != a2.shape:
                grad_a = grad_a.sum_to_size(a2.shape)
            grad_a = grad_a.reshape(a.shape)
        if need_b:
            if b2.ndim == 2 and a2.ndim > 2:
                # One GEMM over all batch rows instead of a batch of products summed after.
                k, n = a2.shape[-1], grad.shape[-1]
                grad_b = Matmul.apply(_mT(a2.reshape(-1, k)), grad.reshape(-1, n))
            else:
                grad_b = Matmul.apply(_mT(a2), grad)
                if grad_b.shape != b2.shape:
                    grad_b = grad_b.sum_to_size(b2.shape)
            grad_b = grad_b.reshape(b.shape)
        return grad_a, grad_b


def _matmul_grads_arrays(a: Any, b: Any, grad: Any, need_a: bool, need_b: bool) -> tuple:
    """Matmul's backward on arrays (the same algebra as the tensor version above)."""
    a2 = a if a.ndim > 1 else a.reshape(1, -1)
    b2 = b if b.ndim > 1 else b.reshape(-1, 1)
    if a.ndim == 1 or b.ndim == 1:
        batch = _broadcast_batch(a2.shape[:-2], b2.shape[:-2])
        grad = grad.reshape(batch + (a2.shape[-2], b2.shape[-1]))
    grad_a = grad_b = None
    if need_a:
        g = xp.matmul(grad, xp.swapaxes(b2, -1, -2))
        grad_a = Tensor(_sum_to_shape(g, a2.shape).reshape(a.shape))
    if need_b:
        if b2.ndim == 2 and a2.ndim > 2:
            k = a2.shape[-1]
            g = xp.matmul(a2.reshape(-1, k).T, grad.reshape(-1, grad.shape[-1]))
        else:
            g = _sum_to_shape(xp.matmul(xp.swapaxes(a2, -1, -2), grad), b2.shape)
        grad_b = Tensor(g.reshape(b.shape))
    return grad_a, grad_b


def _sum_to_shape(g: Any, shape: tuple) -> Any:
    """Sum the broadcast batch dimensions of ``g`` away so that it has ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1
    )
    return g.sum(axis=dims, keepdims=True).reshape(shape)


def _check_tensors(op: str, a: Any, b: Any) -> None:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(
            f"{op}: expected two tensors, got {type(a).__name__} and {type(b).__name__}; "
            "wrap arrays and lists with deepgrad.tensor(...)"
        )
    if a.array.dtype != b.array.dtype:
        raise RuntimeError(
            f"{op}: both operands must have the same dtype, got {a.dtype} and {b.dtype} "
            f"(shapes {tuple(a.shape)} and {tuple(b.shape)}); convert one, e.g. b.to(a.dtype)"
        )


def _shape_error(op: str, a: Tensor, b: Tensor, k_a: int, k_b: int) -> RuntimeError:
    return RuntimeError(
        f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied: "
        f"inner dimensions {k_a} and {k_b} differ"
    )


@tensor_method()
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """The matrix product of two tensors, as ``torch.matmul`` (and ``a @ b``).

    1-d @ 1-d is the dot product (a 0-d result); a 1-d left operand is a row
    vector and a 1-d right operand a column vector, their added dimension
    removed from the result; operands with more than 2 dimensions are batches
    of matrices whose batch dimensions broadcast.

    Shape:
        (..., n, k) @ (..., k, m) -> (broadcast(...), n, m)
    """
    _check_tensors("matmul", input, other)
    a_shape, b_shape = input.array.shape, other.array.shape
    if not a_shape or not b_shape:
        raise RuntimeError(
            f"matmul: both arguments need at least 1 dimension, got shapes {tuple(a_shape)} and "
            f"{tuple(b_shape)}; multiply by a 0-d tensor with * instead"
        )
    k_a = a_shape[-1]
    k_b = b_shape[-2] if len(b_shape) > 1 else b_shape[0]
    if k_a != k_b:
        raise _shape_error("matmul", input, other, k_a, k_b)
    if len(a_shape) > 2 or len(b_shape) > 2:
        if _broadcast_batch(a_shape[:-2], b_shape[:-2]) is None:
            raise RuntimeError(
                f"matmul: batch dimensions {tuple(a_shape[:-2])} and {tuple(b_shape[:-2])} of "
                f"shapes {tuple(a_shape)} and {tuple(b_shape)} can't be broadcast together: each "
                "must match or be 1"
            )
    return Matmul.apply(input, other)


@tensor_method()
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of two matrices (no broadcasting).

    Shape:
        (n, k) @ (k, m) -> (n, m)
    """
    _check_tensors("mm", input, mat2)
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(
            f"mm: expected two 2-D tensors, got shapes {tuple(input.shape)} and "
            f"{tuple(mat2.shape)}; use matmul for vectors or batches"
        )
    if input.shape[1] != mat2.shape[0]:
        raise _shape_error("mm", input, mat2, input.shape[1], mat2.shape[0])
    return Matmul.apply(input, mat2)


@tensor_method()
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """A batch of matrix products with equal batch sizes (no broadcasting).

    Shape:
        (b, n, k) @ (b, k, m) -> (b, n, m)
    """
    _check_tensors("bmm", input, mat2)
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(
            f"bmm: expected two 3-D tensors, got shapes {tuple(input.shape)} and "
            f"{tuple(mat2.shape)}; use matmul to broadcast batch dimensions"
        )
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(
            f"bmm: batch sizes {input.shape[0]} and {mat2.shape[0]} of shapes "
            f"{tuple(input.shape)} and {tuple(mat2.shape)} differ; use matmul to broadcast"
        )
    if input.shape[2] != mat2.shape[1]:
        raise _shape_error("bmm", input, mat2, input.shape[2], mat2.shape[1])
    return Matmul.apply(input, mat2)


@tensor_method()
def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """The inner product of two 1-d tensors of the same length (a 0-d result)."""
    _check_tensors("dot", input, tensor)
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(
            f"dot: expected two 1-D tensors, got shapes {tuple(input.shape)} and "
            f"{tuple(tensor.shape)}; use matmul for matrices"
        )
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(
            f"dot: the tensors have {input.shape[0]} and {tensor.shape[0]} elements; they must "
            "have the same length"
        )
    return Matmul.apply(input, tensor)


@tensor_method()
def mv(input: Tensor, vec: Tensor) -> Tensor:
    """A matrix times a vector.

    Shape:
        (n, k) @ (k,) -> (n,)
    """
    _check_tensors("mv", input, vec)
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(
            f"mv: expected a 2-D and a 1-D tensor, got shapes {tuple(input.shape)} and "
            f"{tuple(vec.shape)}"
        )
    if input.shape[1] != vec.shape[0]:
        raise _shape_error("mv", input, vec, input.shape[1], vec.shape[0])
    return Matmul.apply(input, vec)


@tensor_method()
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-d tensors: ``out[i, j] = input[i] * vec2[j]``.

    Shape:
        (n,), (m,) -> (n, m)
    """
    if not isinstance(input, Tensor) or not isinstance(vec2, Tensor) \
            or input.ndim != 1 or vec2.ndim != 1:
        shapes = [tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
                  for t in (input, vec2)]
        raise RuntimeError(f"outer: expected two 1-D tensors, got {shapes[0]} and {shapes[1]}")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


# --- einsum ------------------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_spec(equation: str, shapes: list) -> tuple[tuple[str, ...], str]:
    """The equation with every ``...`` spelled out as letters and the output made explicit."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    if "->" in out:
        raise ValueError(f"einsum: {equation!r} has more than one '->'")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: the equation {equation!r} has subscripts for {len(terms)} operand(s), but "
            f"{len(shapes)} tensor(s) were given"
        )
    for c in eq:
        if not (c in _LETTERS or c in ",.->"):
            raise ValueError(
                f"einsum: invalid subscript {c!r} in {equation!r}; use letters a-z, A-Z"
            )
    free = [c for c in _LETTERS if c not in eq]
    ellipsis_ndim, spelled = 0, []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term) - 3 if "..." in term else len(term)
        if "." in term.replace("...", "", 1) or len(shape) < named or (
                "..." not in term and len(shape) != named):
            raise ValueError(
                f"einsum: operand {i} has shape {tuple(shape)}, which doesn't fit its subscripts "
                f"{term!r} (one letter per dimension, '...' for any number of them)"
            )
        ellipsis_ndim = max(ellipsis_ndim, len(shape) - named)
    letters = "".join(free[:ellipsis_ndim])
    for term, shape in zip(terms, shapes):
        named = len(term) - 3 if "..." in term else len(term)
        spelled.append(term.replace("...", letters[ellipsis_ndim - (len(shape) - named):]))
    if arrow:
        out = out.replace("...", letters)
    else:  # implicit output: the ellipsis, then the letters seen once, alphabetically
        joined = "".join(spelled)
        out = letters + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                       and c not in letters))
    sizes: dict[str, int] = {}
    for i, (term, shape) in enumerate(zip(spelled, shapes)):
        for c, n in zip(term, shape):
            if sizes.get(c, 1) != 1 and n != 1 and sizes[c] != n:
                raise ValueError(
                    f"einsum: subscript {c!r} has size {sizes[c]} in one operand and {n} in "
                    f"operand {i} (shape {tuple(shape)}); sizes of a subscript must match or be 1"
                )
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
    for c in out:
        if c not in sizes or out.count(c) > 1:
            raise ValueError(
                f"einsum: output subscript {c!r} of {equation!r} must appear once in the output "
                "and in at least one operand"
            )
    return tuple(spelled), out


class Einsum(Function):
    """Forward is one ``xp.einsum``; the gradient of each operand is another einsum of the
    output gradient with the other operands, so every order of derivative works."""

    @staticmethod
    def forward(ctx, spec, *operands):
        terms, out = spec
        ctx.spec = spec
        ctx.save_for_backward(*operands)
        arrays = [o.array for o in operands]
        return xp.einsum(",".join(terms) + "->" + out, *arrays, optimize=len(arrays) > 1)

    @staticmethod
    def backward(ctx, grad):
        terms, out = ctx.spec
        operands = ctx.saved_tensors
        sizes: dict[str, int] = {}
        for term, op in zip(terms + (out,), operands + (grad,)):
            for c, n in zip(term, op.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads: list = [None]
        for i, (term, op) in enumerate(zip(terms, operands)):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            rest = (out,) + terms[:i] + terms[i + 1:]
            seen = "".join(rest)
            first: dict[str, int] = {}
            for position, c in enumerate(term):
                first.setdefault(c, position)
            # Letters summed only inside this operand, and its broadcast size-1 dimensions,
            # are left out of the gradient's einsum and put back by reshape and expand.
            keep = "".join(c for c in first if c in seen and op.shape[first[c]] == sizes[c])
            g = Einsum.apply((rest, keep), grad, *operands[:i], *operands[i + 1:])
            if keep != term:
                g = g.reshape(tuple(n if first[c] == p and c in keep else 1
                                    for p, (c, n) in enumerate(zip(term, op.shape))))
                full = tuple(n if first[c] == p else 1
                             for p, (c, n) in enumerate(zip(term, op.shape)))
                if g.shape != full:
                    g = g.expand(full)
            for position, c in enumerate(term):  # a repeated letter: only its diagonal is used
                if first[c] != position:
                    n = op.shape[position]
                    eye_shape = [1] * len(term)
                    eye_shape[first[c]] = eye_shape[position] = n
                    g = g * Tensor(xp.eye(n, dtype=op.array.dtype).reshape(eye_shape))
            grads.append(g)
        return tuple(grads)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sums of products over the subscripts of ``equation``, as ``torch.einsum``.

    ``einsum("bij,bjk->bik", a, b)`` is a batched matmul; ``...`` stands for any
    number of (broadcast) dimensions; without ``->`` the output is the subscripts
    seen once, in alphabetical order. Operands may also be passed as one list.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: at least one operand is needed")
    for i, op in enumerate(operands):
        if not isinstance(op, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(op).__name__}, expected a tensor")
        if op.array.dtype != operands[0].array.dtype:
            raise RuntimeError(
                f"einsum: all operands must have the same dtype, got {operands[0].dtype} and "
                f"{op.dtype} (operand {i}); convert with .to(...)"
            )
    spec = _einsum_spec(equation, [op.shape for op in operands])
    return Einsum.apply(spec, *operands)


def _rmatmul(self: Tensor, other: Any) -> Tensor:
    if not isinstance(other, Tensor):
        from deepgrad.creation import as_tensor

        other = as_tensor(other)
    return matmul(other, self)


Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = _rmatmul


def _lib(x: Any) -> Any:
    """The library a test input belongs to (deepgrad or torch), for its module functions."""
    import sys

    return sys.modules[type(x).__module__.split(".")[0]]


declare(
    OpCase("matmul", lambda a, b: a @ b, [(3, 4), (4, 5)], ref=lambda a, b: a @ b),
    OpCase("matmul", lambda a, b: a @ b, [(4,), (4,)], ref=lambda a, b: a @ b, label="1d@1d"),
    OpCase("matmul", lambda a, b: a @ b, [(4,), (4, 3)], ref=lambda a, b: a @ b, label="1d@2d"),
    OpCase("matmul", lambda a, b: a @ b, [(3, 4), (4,)], ref=lambda a, b: a @ b, label="2d@1d"),
    OpCase("matmul", lambda a, b: a @ b, [(2, 3, 4), (4, 2)], ref=lambda a, b: a @ b,
           label="batch@2d"),
    OpCase("matmul", lambda a, b: a @ b, [(3, 4), (2, 4, 2)], ref=lambda a, b: a @ b,
           label="2d@batch"),
    OpCase("matmul", lambda a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)], ref=lambda a, b: a @ b,
           label="broadcast-batch"),
    OpCase("matmul", lambda a, b: a @ b, [(4,), (2, 4, 3)], ref=lambda a, b: a @ b,
           label="1d@batch"),
    OpCase("matmul", lambda a, b: a @ b, [(2, 3, 4), (4,)], ref=lambda a, b: a @ b,
           label="batch@1d"),
    OpCase("matmul", lambda a, b: a.matmul(b), [(1, 2, 3), (2, 3, 2)], ref=lambda a, b: a @ b,
           label="batch-1"),
    OpCase("mm", lambda a, b: a.mm(b), [(2, 3), (3, 4)], ref=lambda a, b: a @ b),
    OpCase("bmm", lambda a, b: a.bmm(b), [(2, 2, 3), (2, 3, 4)], ref=lambda a, b: a @ b),
    OpCase("dot", lambda a, b: a.dot(b), [(5,), (5,)], ref=lambda a, b: a @ b),
    OpCase("mv", lambda a, b: a.mv(b), [(3, 4), (4,)], ref=lambda a, b: a @ b),
    OpCase("outer", lambda a, b: a.outer(b), [(3,), (4,)], ref=lambda a, b: xp.outer(a, b)),
    *[OpCase("einsum", (lambda eq: lambda *ops: _lib(ops[0]).einsum(eq, *ops))(eq), shapes,
             ref=(lambda eq: lambda *ops: xp.einsum(eq, *ops))(eq), label=eq)
      for eq, shapes in [
          ("ij,jk->ik", [(2, 3), (3, 4)]),
          ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
          ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
          ("i,i->", [(4,), (4,)]),
          ("ij->ji", [(2, 3)]),
          ("ij->", [(2, 3)]),
          ("ijk->j", [(2, 3, 2)]),
          ("ij,jk", [(2, 3), (3, 2)]),
          ("i,j->ij", [(3,), (2,)]),
          ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
          ("ij,ij->ij", [(1, 3), (4, 3)]),
          ("bi,bj->b", [(3, 2), (3, 4)]),
          ("...i,i", [(2, 3, 4), (4,)]),
          ("ii->i", [(3, 3)]),
          ("iji,j->", [(2, 3, 2), (3,)]),
      ]],
)

__all__ = ["matmul", "mm", "bmm", "dot", "mv", "outer", "ger", "einsum"]

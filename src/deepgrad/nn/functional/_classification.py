"""cross_entropy and nll_loss: fused ops over class scores, and the reduction helpers.

``cross_entropy`` is one ``Function``: forward takes the log-softmax along the
class dimension and picks (or weighs, for probability targets) the target
terms, with ``weight``, ``ignore_index`` and ``label_smoothing`` folded in;
backward is ``a * softmax(x) - q`` per element, where ``q`` is the (smoothed,
weighted) target distribution and ``a`` its total mass, scaled by the output
gradient. That backward runs on plain arrays from the cached log-softmax in
the usual case, and with tensor ops (``softmax`` of the saved input) when a
graph of the backward pass is recorded, so double backward works.

PyTorch's conventions: inputs (N, C), (N, C, d1, ...) or unbatched (C,);
mean reduction divides by the summed weight of the non-ignored targets
(class-index targets) or by the number of elements N * d1 * ... (probabilities).
"""

from __future__ import annotations

import warnings
from typing import Any

from deepgrad.autograd.function import Function, depends_on
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.ops._registry import OpCase, declare
from deepgrad.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")


def legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """PyTorch's deprecated ``size_average`` / ``reduce`` flags turned into ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction="
                  f"'{reduction}' instead.", stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def check_reduction(op: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{op}: {reduction!r} is not a valid value for reduction; use 'none', 'mean' or 'sum'"
        )


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _expand_classes(a: Any, ndim: int) -> Any:
    """A per-class vector (C,) shaped (1, C, 1, ...) to broadcast against (N, C, d1, ...)."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def _log_softmax(a: Any) -> Any:
    shifted = a - a.max(axis=1, keepdims=True)
    shifted -= xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def _at_targets(safe: Any) -> tuple:
    """The index of each sample's target class in an (N, C, d1, ...) array: ``a[index]`` has
    the targets' shape (N, d1, ...). Plain integer indexing, several times faster than
    take_along_axis / put_along_axis for a batch of scores."""
    grids = [xp.arange(s).reshape((-1,) + (1,) * (safe.ndim - 1 - i))
             for i, s in enumerate(safe.shape)]
    return (grids[0], safe, *grids[1:])


def _scalar(value: Any, dtype: Any) -> Any:
    return xp.asarray(value, dtype=dtype)


class CrossEntropy(Function):
    """Log-softmax and NLL in one op; see the module docs for the backward."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, smoothing, reduction, probs):
        a = x.array
        dtype = a.dtype
        classes = a.shape[1]
        logp = _log_softmax(a)
        w = None if weight is None else _expand_classes(weight.array, a.ndim)
        ctx.logp, ctx.w = logp, w
        ctx.options = (smoothing, reduction, probs, classes)
        if probs:
            q = target.array
            if smoothing:
                q = q * (1 - smoothing) + smoothing / classes
            qw = q if w is None else q * w
            loss = -(logp * qw).sum(axis=1)
            denom = a.size // classes
            ctx.save_for_backward(x, target)
        else:
            t = target.array
            valid = t != ignore_index
            safe = xp.where(valid, t, 0)
            picked = logp[_at_targets(safe)]
            rows = valid.astype(dtype) if w is None else weight.array[safe] * valid
            loss = -(1 - smoothing) * rows * picked
            if smoothing:
                total = -(logp.sum(axis=1) if w is None else (logp * w).sum(axis=1))
                loss += (smoothing / classes) * valid * total
            denom = rows.sum()
            ctx.index = (safe, valid, rows)
            ctx.save_for_backward(x)
        ctx.denom = denom
        if reduction == "none":
            return loss.astype(dtype, copy=False)
        total = loss.sum()
        if reduction == "sum":
            return _scalar(total, dtype)
        return _scalar(total / denom if denom else xp.nan, dtype)

    @staticmethod
    def backward(ctx, grad):
        smoothing, reduction, probs, classes = ctx.options
        fast = not is_grad_enabled()  # no graph of the backward pass: arrays will do
        g = grad.array if fast else grad
        if reduction == "none":
            g = g[:, None]
        elif reduction == "mean":
            g = g / ctx.denom if ctx.denom else g * xp.nan
        need_x = ctx.needs_input_grad[0]
        need_t = probs and ctx.needs_input_grad[1]
        if fast:
            return _fast_backward(ctx, g, need_x, need_t)
        saved = ctx.saved_tensors
        x = saved[0]
        w = None if ctx.w is None else Tensor(ctx.w)
        grad_x = grad_t = None
        if probs:
            target = saved[1]
            q = target * (1 - smoothing) + smoothing / classes if smoothing else target
            qw = q if w is None else q * w
            if need_x:
                grad_x = g * (x.softmax(1) * qw.sum(1, keepdim=True) - qw)
            if need_t:
                scale = -(1 - smoothing)
                grad_t = g * (x.log_softmax(1) * (scale if w is None else w * scale))
        elif need_x:
            a, q = _index_target_terms(ctx, x.array.dtype)
            grad_x = g * (x.softmax(1) * Tensor(a) - Tensor(q))
        return grad_x, grad_t, None, None, None, None, None


def _index_target_terms(ctx: Any, dtype: Any) -> tuple[Any, Any]:
    """``a`` (N, 1, *) and the dense target distribution ``q`` (N, C, *) of index targets."""
    smoothing, _, _, classes = ctx.options
    safe, valid, rows = ctx.index
    shape = ctx.logp.shape
    q = xp.zeros(shape, dtype=dtype)
    q[_at_targets(safe)] = ((1 - smoothing) * rows).astype(dtype)
    a = (1 - smoothing) * rows
    if smoothing:
        w = ctx.w if ctx.w is not None else xp.ones((1, classes) + (1,) * (len(shape) - 2), dtype)
        q += (smoothing / classes) * valid[:, None] * w
        a = a + (smoothing / classes) * valid * w.sum()
    return a[:, None].astype(dtype, copy=False), q


def _fast_backward(ctx: Any, g: Any, need_x: bool, need_t: bool) -> tuple:
    smoothing, _, probs, classes = ctx.options
    logp, w = ctx.logp, ctx.w
    dtype = logp.dtype
    grad_x = grad_t = None
    if probs:
        (target,) = ctx.saved_tensors[1:]
        q = target.array
        if smoothing:
            q = q * (1 - smoothing) + smoothing / classes
        qw = q if w is None else q * w
        if need_x:
            grad_x = Tensor((g * (xp.exp(logp) * qw.sum(axis=1, keepdims=True) - qw)).astype(dtype))
        if need_t:
            scale = -(1 - smoothing) * (1 if w is None else w)
            grad_t = Tensor((g * logp * scale).astype(dtype))
    elif need_x:
        safe, valid, rows = ctx.index
        a = (1 - smoothing) * rows
        if smoothing:
            total_w = classes if w is None else w.sum()
            a = a + (smoothing / classes) * valid * total_w
        out = xp.exp(logp)
        out *= a[:, None].astype(dtype, copy=False)
        out[_at_targets(safe)] -= ((1 - smoothing) * rows).astype(dtype, copy=False)
        if smoothing:
            out -= (smoothing / classes) * valid[:, None] * (1 if w is None else w)
        out *= g
        grad_x = Tensor(out.astype(dtype, copy=False))
    return grad_x, grad_t, None, None, None, None, None


class NLLLoss(Function):
    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        a = x.array
        t = target.array
        valid = t != ignore_index
        safe = xp.where(valid, t, 0)
        rows = valid.astype(a.dtype) if weight is None else weight.array[safe] * valid
        loss = -rows * a[_at_targets(safe)]
        denom = rows.sum()
        ctx.index, ctx.denom, ctx.reduction, ctx.shape = (safe, rows), denom, reduction, a.shape
        ctx.save_for_backward(x)
        if reduction == "none":
            return loss.astype(a.dtype, copy=False)
        if reduction == "sum":
            return _scalar(loss.sum(), a.dtype)
        return _scalar(loss.sum() / denom if denom else xp.nan, a.dtype)

    @staticmethod
    def backward(ctx, grad):
        safe, rows = ctx.index
        coef = xp.zeros(ctx.shape, dtype=grad.array.dtype)
        coef[_at_targets(safe)] = -rows.astype(coef.dtype)
        if ctx.reduction == "none":
            g = grad.unsqueeze(1)
        elif ctx.reduction == "mean":
            g = grad / ctx.denom if ctx.denom else grad * xp.nan
        else:
            g = grad
        (x,) = ctx.saved_tensors
        return depends_on(g * Tensor(coef), x), None, None, None, None


# --- argument checks -------------------------------------------------------------------------
def _check_weight(op: str, weight: Any, classes: int, dtype: Any) -> Any:
    if weight is None:
        return None
    if not isinstance(weight, Tensor) or weight.shape != (classes,):
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"{op}: weight must be a tensor of shape ({classes},), one per class, got {shape}")
    return weight.detach().to(dtype)


def _check_indices(op: str, input: Tensor, target: Tensor, ignore_index: int) -> None:
    expected = input.shape[:1] + input.shape[2:]
    if target.shape != expected:
        hint = ""
        if target.shape == input.shape:
            hint = (": it looks one-hot encoded; pass class indices (target.argmax(1)) or float "
                    "class probabilities")
        elif target.shape == expected + (1,):
            hint = ": use target.squeeze(-1)"
        raise ValueError(
            f"{op}: class-index target of shape {tuple(target.shape)} does not match input of "
            f"shape {tuple(input.shape)}: expected target shape {tuple(expected)} (the input "
            f"without its class dimension 1){hint}"
        )
    t = target.array
    if t.size:
        classes = input.shape[1]
        bad = (t != ignore_index) & ((t < 0) | (t >= classes))
        if bad.any():
            value = int(t[bad].reshape(-1)[0])
            raise IndexError(
                f"{op}: target {value} is out of bounds for {classes} classes (valid: 0..{classes - 1}"
                f", or ignore_index={ignore_index}); check the number of output units of the model"
            )


def _prepare(op: str, input: Any, target: Any) -> tuple[Tensor, Tensor, bool, bool]:
    """(input as (N, C, *), target, is_probabilities, was_unbatched)."""
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors, got {type(input).__name__} and "
                        f"{type(target).__name__}")
    if input.array.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point scores, got {input.dtype}; use .float()")
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d tensor")
    kind = target.array.dtype.kind
    probs = kind == "f"
    if kind not in "iuf":
        raise TypeError(f"{op}: target must be int64 class indices or float probabilities, got "
                        f"{target.dtype}")
    if probs and target.shape != input.shape:
        raise TypeError(
            f"{op}: target has dtype {target.dtype} and shape {tuple(target.shape)}, but class-index "
            f"targets must be an integer tensor (use target.long()), and class-probability targets "
            f"must have the input's shape {tuple(input.shape)}"
        )
    unbatched = input.ndim == 1
    if unbatched:
        input = input.unsqueeze(0)
        target = target.unsqueeze(0)
    return input, target, probs, unbatched


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of the raw scores ``input`` against class indices or class probabilities.

    One fused op: ``-log_softmax(input, 1)`` at the target classes, weighted by
    ``weight[target]``, skipping ``ignore_index``, mixed with the uniform
    distribution by ``label_smoothing``.

    Shape:
        input (N, C) or (N, C, d1, ...) or (C,); target (N) / (N, d1, ...) / () int64 class
        indices in [0, C), or float probabilities of the input's shape ->
        scalar, or (N, d1, ...) with reduction='none'
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x, t, probs, unbatched = _prepare("cross_entropy", input, target)
    if not probs:
        _check_indices("cross_entropy", x, t, ignore_index)
    w = _check_weight("cross_entropy", weight, x.shape[1], x.dtype)
    out = CrossEntropy.apply(x, t, w, ignore_index, float(label_smoothing), reduction, probs)
    return out.squeeze(0) if unbatched and reduction == "none" else out


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` at the target classes.

    Use it after ``log_softmax(x, 1)``; ``cross_entropy`` does both at once.

    Shape:
        input (N, C) or (N, C, d1, ...) or (C,); target (N) / (N, d1, ...) / () int64 ->
        scalar, or (N, d1, ...) with reduction='none'
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("nll_loss", reduction)
    x, t, probs, unbatched = _prepare("nll_loss", input, target)
    if probs:
        raise TypeError(f"nll_loss: target must be int64 class indices, got {target.dtype}; use "
                        "target.long() (cross_entropy also accepts class probabilities)")
    _check_indices("nll_loss", x, t, ignore_index)
    w = _check_weight("nll_loss", weight, x.shape[1], x.dtype)
    out = NLLLoss.apply(x, t, w, ignore_index, reduction)
    return out.squeeze(0) if unbatched and reduction == "none" else out


# --- declared cases ----------------------------------------------------------------------------
_W3 = Tensor(xp.asarray([0.3, 1.0, 2.0]))


def _case(name: str, target: list, weight: Tensor | None = None, **kwargs: Any) -> Any:
    """Our ``name`` or PyTorch's on the same (constant) class-index target and weight."""
    t = xp.asarray(target)

    def call(x: Any) -> Any:
        if isinstance(x, Tensor):
            return globals()[name](x, Tensor(t), weight, **kwargs)
        import torch

        w = None if weight is None else torch.as_tensor(weight.array)
        return getattr(torch.nn.functional, name)(x, torch.as_tensor(t), w, **kwargs)

    return call


def _prob_case(**kwargs: Any) -> Any:
    def call(x: Any, p: Any) -> Any:
        if isinstance(x, Tensor):
            return cross_entropy(x, p.softmax(1), **kwargs)
        import torch

        return torch.nn.functional.cross_entropy(x, p.softmax(1), **kwargs)

    return call


def _ce_ref(x: Any) -> Any:
    logp = _log_softmax(x)
    return -logp[xp.arange(4), xp.asarray([0, 2, 1, 2])].mean()


declare(
    OpCase("cross_entropy", _case("cross_entropy", [0, 2, 1, 2]), [(4, 3)], ref=_ce_ref),
    OpCase("cross_entropy", _case("cross_entropy", [0, 2, 1, 2], reduction="none"), [(4, 3)],
           label="none"),
    OpCase("cross_entropy", _case("cross_entropy", [0, 2, -100, 1], _W3, label_smoothing=0.2),
           [(4, 3)], label="weight,ignore,smoothing"),
    OpCase("cross_entropy", _case("cross_entropy", [[0, 2], [1, 1]], ignore_index=1,
                                  reduction="sum"), [(2, 3, 2)], label="2d,ignore_index"),
    OpCase("cross_entropy", _case("cross_entropy", [[0, 2], [1, 0]], _W3, reduction="none",
                                  label_smoothing=0.1), [(2, 3, 2)], label="2d,weight,smooth,none"),
    OpCase("cross_entropy", _case("cross_entropy", 2), [(3,)], label="unbatched"),
    OpCase("cross_entropy", _prob_case(), [(4, 3), (4, 3)], label="probabilities"),
    OpCase("cross_entropy", _prob_case(label_smoothing=0.3, reduction="none"), [(2, 3, 2), (2, 3, 2)],
           label="probabilities,smoothing,none"),
    OpCase("nll_loss", _case("nll_loss", [0, 2, 1, 2]), [(4, 3)],
           ref=lambda x: -x[xp.arange(4), xp.asarray([0, 2, 1, 2])].mean()),
    OpCase("nll_loss", _case("nll_loss", [[0, 2], [-100, 1]], _W3, reduction="none"), [(2, 3, 2)],
           label="2d,weight,ignore,none"),
    OpCase("nll_loss", _case("nll_loss", [0, 2, 1, 1], _W3), [(4, 3)], label="weight,mean"),
)

__all__ = ["cross_entropy", "nll_loss"]

"""Loss functions with PyTorch's signatures and semantics (reduction 'none' | 'mean' | 'sum').

``cross_entropy`` is one fused, numerically stable op (log-softmax and NLL
together, backward ``softmax - target``); ``nll_loss``, ``binary_cross_entropy``
and ``binary_cross_entropy_with_logits`` are fused ops too. Each backward is
written with tensor ops so it is differentiable again; the ones that would
take many tensor ops have a plain-array fast path for the usual case of no
``create_graph``. The remaining losses are compositions of differentiable ops.
The class-index ops live in ``_classification.py``; this module is the public
face of both.
"""

from __future__ import annotations

import warnings
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.backend import xp
from deepgrad.nn.functional._classification import (
    check_reduction, cross_entropy, legacy_reduction, nll_loss, reduce_loss,
)
from deepgrad.nn.functional.activation import softplus
from deepgrad.nn.functional.linear import pairwise_distance
from deepgrad.ops._registry import Arg, OpCase, declare
from deepgrad.tensor import Tensor


def _ops() -> Any:
    import deepgrad

    return deepgrad


def _check_pair(op: str, input: Any, target: Any, *, same_shape: bool = False) -> None:
    for name, t in (("input", input), ("target", target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if input.array.dtype.kind != "f":
        raise TypeError(
            f"{op}: input must be a floating point tensor, got {input.dtype}; use input.float()"
        )
    if target.array.dtype.kind != "f":
        raise TypeError(
            f"{op}: target must be a floating point tensor like the input, got {target.dtype} "
            f"(shape {tuple(target.shape)}); convert it with target.float()"
        )
    if input.shape == target.shape:
        return
    message = (f"{op}: target of shape {tuple(target.shape)} differs from input of shape "
               f"{tuple(input.shape)}")
    if same_shape:
        raise ValueError(message + "; they must have the same shape" + _shape_hint(input, target))
    warnings.warn(
        message + ". This will likely lead to incorrect results due to broadcasting"
        + _shape_hint(input, target), stacklevel=3,
    )


def _shape_hint(input: Tensor, target: Tensor) -> str:
    i, t = tuple(input.shape), tuple(target.shape)
    if i == t + (1,):
        return " (the model outputs one column: use input.squeeze(-1) or target.unsqueeze(-1))"
    if t == i + (1,):
        return " (use target.squeeze(-1))"
    return ""


def _weighted(op: str, loss: Tensor, weight: Tensor | None, input: Tensor, reduction: str) -> Tensor:
    """PyTorch's optional elementwise ``weight`` of mse/l1/huber: mean is sum(w*l)/sum(w)."""
    if weight is None:
        return reduce_loss(loss, reduction)
    if weight.shape != input.shape:
        raise ValueError(
            f"{op}: weights and input must have the same size, got weight {tuple(weight.shape)} "
            f"and input {tuple(input.shape)}"
        )
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return reduce_loss(loss, reduction)


# --- regression -----------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target)^2``.

    Shape:
        input (*), target (*) the same shape -> scalar, or (*) with reduction='none'
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("mse_loss", reduction)
    _check_pair("mse_loss", input, target)
    diff = input - target
    return _weighted("mse_loss", diff * diff, weight, input, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``.

    Shape:
        input (*), target (*) -> scalar, or (*) with reduction='none'
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("l1_loss", reduction)
    _check_pair("l1_loss", input, target)
    return _weighted("l1_loss", (input - target).abs(), weight, input, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 delta)``, d = input - target.

    Shape:
        input (*), target (*) -> scalar, or (*) with reduction='none'
    """
    check_reduction("huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    _check_pair("huber_loss", input, target)
    d = input - target
    ad = d.abs()
    loss = _ops().where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _weighted("huber_loss", loss, weight, input, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (beta=0 is L1).

    Shape:
        input (*), target (*) -> scalar, or (*) with reduction='none'
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    _check_pair("smooth_l1_loss", input, target)
    d = input - target
    ad = d.abs()
    if beta == 0:
        return reduce_loss(ad, reduction)
    loss = _ops().where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    return reduce_loss(loss, reduction)


# --- binary classification ------------------------------------------------------------------
def _grad_scale(grad: Tensor, reduction: str, count: int) -> Tensor:
    """The output gradient spread over elements: a scalar for mean/sum, per element for none."""
    return grad / count if reduction == "mean" else grad


def _reduce_array(loss: Any, reduction: str) -> Any:
    if reduction == "none":
        return loss
    total = loss.sum(dtype=loss.dtype)
    return xp.asarray(total / loss.size if reduction == "mean" else total, dtype=loss.dtype)


def _log_clamped(a: Any) -> Any:
    """``max(log(a), -100)``, 0 included (PyTorch's BCE clamp), without log(0) warnings."""
    positive = a > 0
    return xp.maximum(xp.where(positive, xp.log(xp.where(positive, a, 1)), -100), -100)


_BCE_EPS = 9.999999960041972e-13  # PyTorch's EPSILON, 1e-12 rounded to float32


class BinaryCrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, t, weight, reduction):
        a, b = x.array, t.array
        loss = -(b * _log_clamped(a) + (1 - b) * _log_clamped(1 - a))
        if weight is not None:
            loss = loss * weight.array
        ctx.reduction, ctx.count = reduction, a.size
        ctx.save_for_backward(x, t, weight)
        return _reduce_array(loss.astype(a.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad[:2]
        g = _grad_scale(grad, ctx.reduction, ctx.count)
        if weight is not None:
            g = g * weight
        grad_x = grad_t = None
        if need_x:  # PyTorch's (x - t) / max(x (1 - x), eps): finite at 0 and 1
            grad_x = (g * (x - t) / (x * (1 - x)).clamp(min=_BCE_EPS)).sum_to_size(x.shape)
        if need_t:
            grad_t = (g * ((1 - x).log().clamp(min=-100) - x.log().clamp(min=-100))).sum_to_size(t.shape)
        return grad_x, grad_t, None, None


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """``-w (t log(x) + (1 - t) log(1 - x))`` for probabilities ``x`` (logs clamped at -100).

    Shape:
        input (*) in [0, 1], target (*) the same shape -> scalar, or (*) with reduction='none'
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("binary_cross_entropy", reduction)
    _check_pair("binary_cross_entropy", input, target, same_shape=True)
    a = input.array
    if a.size and (float(a.min()) < 0 or float(a.max()) > 1):
        raise RuntimeError(
            f"binary_cross_entropy: all elements of input should be between 0 and 1, got values "
            f"in [{float(a.min()):.4g}, {float(a.max()):.4g}]; apply sigmoid first, or pass the "
            "raw scores to binary_cross_entropy_with_logits (nn.BCEWithLogitsLoss)"
        )
    if weight is not None:
        weight = weight.to(input.dtype).expand(input.shape)
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


class BinaryCrossEntropyWithLogits(Function):
    """``(1 - t) x + (1 + (pw - 1) t) softplus(-x)``, times ``weight``; softplus stable."""

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        a, b = x.array, t.array
        sp = xp.log1p(xp.exp(-xp.abs(a))) + xp.maximum(-a, 0)  # softplus(-x)
        if pos_weight is not None:
            loss = (1 - b) * a + (1 + (pos_weight.array - 1) * b) * sp
        else:
            loss = (1 - b) * a + sp
        if weight is not None:
            loss = loss * weight.array
        ctx.reduction, ctx.count = reduction, a.size
        ctx.save_for_backward(x, t, weight, pos_weight)
        ctx.softplus = sp
        return _reduce_array(loss.astype(a.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight, pos_weight = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad[:2]
        g = _grad_scale(grad, ctx.reduction, ctx.count)
        if weight is not None:
            g = g * weight
        grad_x = grad_t = None
        if not is_grad_enabled():
            a, b, ga = x.array, t.array, g.array
            sig_neg = 1 - _ops().sigmoid(Tensor(a)).array  # sigmoid(-x)
            if need_x:
                c = 1 if pos_weight is None else 1 + (pos_weight.array - 1) * b
                grad_x = Tensor(xp.asarray(ga * ((1 - b) - c * sig_neg), dtype=a.dtype))
            if need_t:
                dt = -a if pos_weight is None else -a + (pos_weight.array - 1) * ctx.softplus
                grad_t = Tensor(xp.asarray(ga * dt, dtype=a.dtype))
        else:
            if need_x:
                c = 1 if pos_weight is None else (pos_weight - 1) * t + 1
                grad_x = g * ((1 - t) - c * (-x).sigmoid())
            if need_t:
                dt = -x if pos_weight is None else (pos_weight - 1) * softplus(-x) - x
                grad_t = g * dt
        if grad_x is not None and grad_x.shape != x.shape:
            grad_x = grad_x.expand(x.shape)
        if grad_t is not None and grad_t.shape != t.shape:
            grad_t = grad_t.expand(t.shape)
        return grad_x, grad_t, None, None, None


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: Any = None, reduce: Any = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from the raw scores.

    ``pos_weight`` (broadcast along the last dimension, e.g. one per class)
    weighs the positive term; ``weight`` rescales each element.

    Shape:
        input (*), target (*) the same shape -> scalar, or (*) with reduction='none'
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("binary_cross_entropy_with_logits", reduction)
    _check_pair("binary_cross_entropy_with_logits", input, target, same_shape=True)
    if weight is not None:
        weight = weight.detach().to(input.dtype)
    if pos_weight is not None:
        pos_weight = pos_weight.detach().to(input.dtype)
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


# --- divergences, margins, embeddings ------------------------------------------------------
def kl_div(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence ``target * (log(target) - input)`` with ``input`` log-probabilities.

    ``log_target=True`` takes the target as log-probabilities too. Use
    ``reduction='batchmean'`` for the mathematical KL divergence (sum / batch size).

    Shape:
        input (*), target (*) the same shape -> scalar, or (*) with reduction='none'
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(
            f"kl_div: {reduction!r} is not a valid value for reduction; use 'none', 'batchmean', "
            "'sum' or 'mean'"
        )
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.", stacklevel=2,
        )
    _check_pair("kl_div", input, target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        safe = _ops().where(target > 0, target, 1)  # xlogy: 0 log 0 = 0
        loss = target * (safe.log() - input)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return reduce_loss(loss, reduction)


def _target_tensor(op: str, target: Any, like: Tensor) -> Tensor:
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a Tensor of 1 and -1, got {type(target).__name__}")
    return target if target.array.dtype == like.array.dtype else target.to(like.dtype)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: Any = None, reduce: Any = None,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos(x1, x2) - margin)`` where it is -1.

    Shape:
        input1 (N, D) or (D,), input2 the same, target (N,) or () -> scalar, or (N,)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("cosine_embedding_loss", reduction)
    if input1.shape != input2.shape or input1.ndim not in (1, 2):
        raise RuntimeError(
            f"cosine_embedding_loss: input1 {tuple(input1.shape)} and input2 "
            f"{tuple(input2.shape)} must be the same shape, 1-d (D,) or 2-d (N, D)"
        )
    expected = input1.shape[:1] if input1.ndim == 2 else ()
    if tuple(target.shape) != tuple(expected):
        raise RuntimeError(
            f"cosine_embedding_loss: target must have shape {tuple(expected)} (one 1 or -1 per "
            f"pair), got {tuple(target.shape)}"
        )
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod / (mag1 * mag2).sqrt()
    w = _ops().where
    loss = w(target == 1, 1 - cos, 0) + w(target == -1, (cos - margin).clamp(min=0), 0)
    return reduce_loss(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``, target 1 or -1 (which should rank higher).

    Shape:
        input1 (N,) or (), input2 and target the same -> scalar, or (N,)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("margin_ranking_loss", reduction)
    if not (input1.shape == input2.shape == target.shape):
        raise RuntimeError(
            f"margin_ranking_loss: input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)} and "
            f"target {tuple(target.shape)} must all have the same shape"
        )
    target = _target_tensor("margin_ranking_loss", target, input1)
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return reduce_loss(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, d(a, p) - d(a, n) + margin)`` with ``d`` the p-norm distance (pairwise_distance).

    With ``swap``, ``d(a, n)`` is replaced by ``min(d(a, n), d(p, n))``.

    Shape:
        anchor (N, D) or (D,), positive and negative the same -> scalar, or (N,)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("triplet_margin_loss", reduction)
    if not (anchor.ndim == positive.ndim == negative.ndim) or anchor.ndim not in (1, 2):
        raise RuntimeError(
            f"triplet_margin_loss: anchor {tuple(anchor.shape)}, positive "
            f"{tuple(positive.shape)} and negative {tuple(negative.shape)} must all be 1-d (D,) "
            "or all 2-d (N, D)"
        )
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _ops().minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return reduce_loss((d_pos - d_neg + margin).clamp(min=0), reduction)


# --- declared cases ------------------------------------------------------------------------------
_PROB = Arg((3, 4), 0.05, 0.95)
_PW = Tensor(xp.asarray([0.5, 2.0, 1.5, 1.0]))
_W34 = Tensor(xp.linspace(0.2, 1.4, 12).reshape(3, 4))


def _case(name: str, constants: dict | None = None, **kwargs: Any) -> Any:
    """A case calling our ``name`` or PyTorch's (the same signature), with constant tensors."""
    constants = constants or {}

    def call(*args: Any) -> Any:
        if isinstance(args[0], Tensor):
            return globals()[name](*args, **constants, **kwargs)
        import torch

        theirs = {k: torch.as_tensor(v.array) for k, v in constants.items()}
        return getattr(torch.nn.functional, name)(*args, **theirs, **kwargs)

    return call


declare(
    OpCase("mse_loss", _case("mse_loss"), [(3, 4), (3, 4)], ref=lambda x, t: ((x - t) ** 2).mean()),
    OpCase("mse_loss", _case("mse_loss", reduction="none"), [(3, 4), (3, 4)],
           ref=lambda x, t: (x - t) ** 2, label="none"),
    OpCase("mse_loss", _case("mse_loss", {"weight": _W34}), [(3, 4), (3, 4)], label="weight",
           ref=lambda x, t: ((x - t) ** 2 * _W34.array).sum() / _W34.array.sum()),
    OpCase("l1_loss", _case("l1_loss", reduction="sum"), [(3, 4), (3, 4)],
           ref=lambda x, t: xp.abs(x - t).sum()),
    OpCase("huber_loss", _case("huber_loss", delta=0.7), [(4, 5), (4, 5)]),
    OpCase("smooth_l1_loss", _case("smooth_l1_loss", beta=0.6, reduction="none"), [(4, 5), (4, 5)]),
    OpCase("binary_cross_entropy", _case("binary_cross_entropy"), [_PROB, _PROB],
           ref=lambda x, t: -(t * xp.log(x) + (1 - t) * xp.log(1 - x)).mean()),
    OpCase("binary_cross_entropy", _case("binary_cross_entropy", {"weight": _W34},
                                         reduction="none"), [_PROB, _PROB], label="weight,none"),
    OpCase("binary_cross_entropy_with_logits", _case("binary_cross_entropy_with_logits"),
           [(3, 4), _PROB], ref=lambda x, t: (xp.log1p(xp.exp(-x)) + (1 - t) * x).mean()),
    OpCase("binary_cross_entropy_with_logits",
           _case("binary_cross_entropy_with_logits", {"pos_weight": _PW, "weight": _W34},
                 reduction="sum"), [Arg((3, 4), -4, 4), _PROB], label="pos_weight,weight"),
    OpCase("binary_cross_entropy_with_logits",
           _case("binary_cross_entropy_with_logits", {"pos_weight": _PW}, reduction="none"),
           [Arg((3, 4), -4, 4), _PROB], label="pos_weight,none"),
    OpCase("kl_div", _case("kl_div", reduction="batchmean"), [(3, 4), _PROB],
           ref=lambda x, t: (t * (xp.log(t) - x)).sum() / 3),
    OpCase("kl_div", _case("kl_div", reduction="none", log_target=True), [(3, 4), (3, 4)],
           label="log_target"),
    OpCase("cosine_embedding_loss",
           _case("cosine_embedding_loss", {"target": Tensor(xp.asarray([1, -1, -1, 1]))},
                 margin=0.1), [(4, 3), (4, 3)]),
    OpCase("margin_ranking_loss",
           _case("margin_ranking_loss", {"target": Tensor(xp.asarray([1.0, -1.0, 1.0, -1.0, 1.0]))},
                 margin=0.3, reduction="none"), [(5,), (5,)]),
    OpCase("triplet_margin_loss", _case("triplet_margin_loss"), [(4, 3)] * 3),
    OpCase("triplet_margin_loss", _case("triplet_margin_loss", p=1, swap=True, margin=2.0),
           [(4, 3)] * 3, label="p1,swap"),
)

__all__ = [
    "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
    "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
]

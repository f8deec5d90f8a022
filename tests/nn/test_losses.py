"""Losses beyond the declared op cases: PyTorch's semantics at the edges (ignored targets,
probabilities vs indices, clamping, huge logits), second derivatives, dtypes, and the
target mistakes users make."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradgradcheck
from helpers import requires_torch, to_numpy

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((6, 4))
LABELS = np.array([0, 3, 1, 1, 2, 3])


def test_cross_entropy_is_log_softmax_plus_nll() -> None:
    x = dg.tensor(LOGITS, requires_grad=True)
    y = dg.tensor(LABELS)
    fused = F.cross_entropy(x, y)
    composite = F.nll_loss(F.log_softmax(x, 1), y)
    np.testing.assert_allclose(fused.item(), composite.item(), rtol=1e-12)
    (g_fused,) = dg.autograd.grad(fused, [x])
    (g_comp,) = dg.autograd.grad(composite, [x])
    np.testing.assert_allclose(g_fused.numpy(), g_comp.numpy(), rtol=1e-10, atol=1e-14)
    # softmax - one_hot, divided by N
    p = np.exp(LOGITS) / np.exp(LOGITS).sum(1, keepdims=True)
    np.testing.assert_allclose(g_fused.numpy(), (p - np.eye(4)[LABELS]) / 6, atol=1e-12)


def test_one_hot_probabilities_equal_class_indices() -> None:
    x = dg.tensor(LOGITS)
    probs = dg.tensor(np.eye(4)[LABELS])
    for smoothing in (0.0, 0.3):
        a = F.cross_entropy(x, dg.tensor(LABELS), label_smoothing=smoothing, reduction="none")
        b = F.cross_entropy(x, probs, label_smoothing=smoothing, reduction="none")
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    x = dg.tensor([[1e4, -1e4, 0.0], [-5e3, 5e3, 5e3]], dtype=dg.float64, requires_grad=True)
    loss = F.cross_entropy(x, dg.tensor([1, 0]), reduction="none")
    assert np.all(np.isfinite(loss.detach().numpy()))
    np.testing.assert_allclose(loss.detach().numpy(), [2e4, 1e4 + np.log(2)], rtol=1e-12)
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


def test_cross_entropy_keeps_float32() -> None:
    x = dg.randn(5, 3, requires_grad=True)
    loss = F.cross_entropy(x, dg.tensor([0, 1, 2, 0, 1]))
    assert loss.dtype is dg.float32 and loss.shape == ()
    loss.backward()
    assert x.grad.dtype is dg.float32


def test_all_targets_ignored_gives_nan_mean_and_zero_sum() -> None:
    x = dg.tensor(LOGITS, requires_grad=True)
    y = dg.full((6,), -100)
    assert np.isnan(F.cross_entropy(x, y).item())
    assert F.cross_entropy(x, y, reduction="sum").item() == 0.0
    assert F.nll_loss(x, y, reduction="sum").item() == 0.0


def test_cross_entropy_double_backward_gradient_penalty() -> None:
    x = dg.tensor(LOGITS, requires_grad=True)
    w = dg.tensor([0.5, 1.0, 2.0, 1.5])
    fn = lambda x: F.cross_entropy(x, dg.tensor(LABELS), weight=w, label_smoothing=0.1)  # noqa: E731
    assert gradgradcheck(fn, [x])
    (g,) = dg.autograd.grad(fn(x), [x], create_graph=True)
    (g * g).sum().backward()
    assert x.grad is not None and np.all(np.isfinite(x.grad.numpy()))


@requires_torch
@pytest.mark.parametrize("kwargs", [
    {}, {"reduction": "sum"}, {"reduction": "none"}, {"ignore_index": 1},
    {"weight": [0.5, 1.0, 2.0, 1.5]}, {"weight": [0.5, 1.0, 2.0, 1.5], "ignore_index": 3},
    {"label_smoothing": 0.25}, {"weight": [0.5, 1.0, 2.0, 1.5], "label_smoothing": 0.2,
                                "ignore_index": 0, "reduction": "none"},
])
def test_cross_entropy_second_derivatives_match_torch(kwargs: dict) -> None:
    import torch

    def run(lib, fn):
        x = lib.tensor(LOGITS, requires_grad=True)
        kw = dict(kwargs)
        if "weight" in kw:
            kw["weight"] = lib.tensor(kw["weight"], dtype=lib.float64)
        loss = fn(x, lib.tensor(LABELS), **kw)
        if kw.get("reduction") == "none":
            loss = (loss * lib.tensor(np.arange(1.0, 7.0))).sum()
        (g,) = (dg.autograd.grad if lib is dg else torch.autograd.grad)(loss, [x], create_graph=True)
        ((g * g).sum() + (g[:, 0] * x[:, 1]).sum()).backward()
        return to_numpy(loss), to_numpy(g), to_numpy(x.grad)

    ours = run(dg, F.cross_entropy)
    theirs = run(torch, torch.nn.functional.cross_entropy)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-12)


@requires_torch
def test_binary_cross_entropy_clamps_logs_and_gradients_like_torch() -> None:
    import torch

    p = np.array([0.0, 1.0, 0.5, 1e-30, 1 - 1e-16])
    t = np.array([1.0, 0.0, 0.3, 1.0, 0.0])
    ours_x, theirs_x = dg.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
    ours = F.binary_cross_entropy(ours_x, dg.tensor(t), reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(theirs_x, torch.tensor(t), reduction="none")
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-12)
    assert to_numpy(ours)[0] == 100.0
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(to_numpy(ours_x.grad), to_numpy(theirs_x.grad), rtol=1e-12)


@requires_torch
def test_bce_with_logits_is_stable_like_torch() -> None:
    import torch

    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    t = np.array([1.0, 1.0, 0.5, 0.0, 0.0])
    pw = np.array([2.0])
    ours_x, theirs_x = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = F.binary_cross_entropy_with_logits(ours_x, dg.tensor(t), pos_weight=dg.tensor(pw),
                                              reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        theirs_x, torch.tensor(t), pos_weight=torch.tensor(pw), reduction="none")
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(to_numpy(ours_x.grad), to_numpy(theirs_x.grad), rtol=1e-12)


def test_bce_with_logits_equals_bce_of_sigmoid() -> None:
    x = dg.tensor(RNG.standard_normal((3, 4)))
    t = dg.tensor(RNG.uniform(0, 1, (3, 4)))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, t).item(),
                               F.binary_cross_entropy(dg.sigmoid(x), t).item(), rtol=1e-10)


def test_kl_div_zero_targets_and_batchmean() -> None:
    logp = F.log_softmax(dg.tensor(LOGITS), 1)
    target = dg.tensor(np.eye(4)[LABELS])  # zeros contribute 0 (0 log 0 = 0)
    kl = F.kl_div(logp, target, reduction="batchmean")
    np.testing.assert_allclose(kl.item(), F.nll_loss(logp, dg.tensor(LABELS)).item(), rtol=1e-12)
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(logp, target, reduction="mean")


def test_legacy_size_average_and_reduce() -> None:
    x, t = dg.tensor(LOGITS), dg.zeros(6, 4, dtype=dg.float64)
    with pytest.warns(UserWarning, match="deprecated"):
        summed = F.mse_loss(x, t, size_average=False)
    np.testing.assert_allclose(summed.item(), (LOGITS ** 2).sum())
    with pytest.warns(UserWarning):
        assert nn.MSELoss(reduce=False)(x, t).shape == (6, 4)


def test_regression_losses_reductions() -> None:
    x, t = dg.tensor(LOGITS), dg.tensor(LOGITS[::-1].copy())
    d = LOGITS - LOGITS[::-1]
    np.testing.assert_allclose(F.mse_loss(x, t, reduction="sum").item(), (d ** 2).sum())
    np.testing.assert_allclose(F.l1_loss(x, t).item(), np.abs(d).mean())
    huber = np.where(np.abs(d) < 0.5, 0.5 * d ** 2, 0.5 * (np.abs(d) - 0.25))
    np.testing.assert_allclose(F.huber_loss(x, t, delta=0.5, reduction="none").numpy(), huber)
    smooth = np.where(np.abs(d) < 0.5, 0.5 * d ** 2 / 0.5, np.abs(d) - 0.25)
    np.testing.assert_allclose(F.smooth_l1_loss(x, t, beta=0.5).item(), smooth.mean())


def test_mse_warns_on_broadcasting_shapes() -> None:
    with pytest.warns(UserWarning, match=r"target of shape \(4,\) differs from input of shape "
                                         r"\(4, 1\).*squeeze"):
        F.mse_loss(dg.zeros(4, 1), dg.zeros(4))


def test_loss_modules_hold_weights_as_buffers() -> None:
    ce = nn.CrossEntropyLoss(weight=dg.tensor([1.0, 2.0]))
    assert list(ce.state_dict()) == ["weight"] and repr(ce) == "CrossEntropyLoss()"
    bce = nn.BCEWithLogitsLoss(pos_weight=dg.tensor([3.0]))
    assert list(bce.state_dict()) == ["pos_weight"]
    ce.double()
    assert ce.weight.dtype is dg.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ce(dg.randn(3, 2, dtype=dg.float64), dg.tensor([0, 1, 1]))


# --- target mistakes ---------------------------------------------------------------------------
def test_cross_entropy_rejects_float_class_indices() -> None:
    with pytest.raises(TypeError, match=r"cross_entropy: target has dtype deepgrad.float32 and shape \(3,\), "
                                        r"but class-index targets must be an integer tensor "
                                        r"\(use target.long\(\)\)"):
        F.cross_entropy(dg.randn(3, 5), dg.tensor([1.0, 2.0, 0.0]))


def test_cross_entropy_target_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"expected target shape \(4,\).*one-hot"):
        F.cross_entropy(dg.randn(4, 3), dg.tensor(np.eye(3, dtype=np.int64)[[0, 1, 2, 0]]))
    with pytest.raises(ValueError, match=r"target.squeeze\(-1\)"):
        F.cross_entropy(dg.randn(4, 3), dg.tensor([[0], [1], [2], [0]]))
    with pytest.raises(ValueError, match=r"expected target shape \(2, 5\)"):
        F.cross_entropy(dg.randn(2, 3, 5), dg.tensor([0, 1]))


def test_class_index_out_of_range() -> None:
    with pytest.raises(IndexError, match=r"target 10 is out of bounds for 10 classes \(valid: 0..9"):
        F.cross_entropy(dg.randn(2, 10), dg.tensor([3, 10]))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        F.nll_loss(dg.randn(2, 10), dg.tensor([-1, 2]))


def test_nll_loss_rejects_probabilities_and_bad_weight() -> None:
    with pytest.raises(TypeError, match="nll_loss: target must be int64 class indices"):
        F.nll_loss(dg.randn(2, 3), dg.randn(2, 3))
    with pytest.raises(ValueError, match=r"weight must be a tensor of shape \(3,\)"):
        F.cross_entropy(dg.randn(2, 3), dg.tensor([0, 1]), weight=dg.ones(4))


def test_binary_losses_check_targets_and_ranges() -> None:
    with pytest.raises(ValueError, match=r"target of shape \(4,\) differs from input of shape "
                                         r"\(4, 1\); they must have the same shape"):
        F.binary_cross_entropy_with_logits(dg.zeros(4, 1), dg.zeros(4))
    with pytest.raises(TypeError, match=r"target must be a floating point tensor.*target.float\(\)"):
        F.binary_cross_entropy(dg.full((3,), 0.5), dg.tensor([0, 1, 1]))
    with pytest.raises(RuntimeError, match=r"between 0 and 1.*apply sigmoid first"):
        F.binary_cross_entropy(dg.tensor([0.5, 1.5]), dg.tensor([0.0, 1.0]))


def test_invalid_reduction() -> None:
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        F.mse_loss(dg.zeros(2), dg.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="MSELoss: 'avg' is not a valid value"):
        nn.MSELoss(reduction="avg")
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"

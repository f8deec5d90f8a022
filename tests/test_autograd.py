"""The autograd engine: backward, grad, higher order, hooks, grad mode and in-place checks.
Each test compares with derivatives worked out by hand (custom Functions and gradcheck are
in test_autograd_function.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import deepgrad as dg

from helpers import requires_torch, to_numpy


def t64(values, requires_grad=True):
    return dg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, **kw):
    np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-10, atol=1e-12, **kw)


# --- the chain rule ---------------------------------------------------------------------
def test_chain_rule_composite_expression():
    xv, yv = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.5])
    x, y = t64(xv), t64(yv)
    f = ((x * y).exp() + x / y - 3 * x ** 2).sum()
    f.backward()
    close(x.grad, yv * np.exp(xv * yv) + 1 / yv - 6 * xv)
    close(y.grad, xv * np.exp(xv * yv) - xv / yv ** 2)
    close(f, np.sum(np.exp(xv * yv) + xv / yv - 3 * xv ** 2))


def test_chain_rule_reused_intermediate_sums_both_paths():
    # a = x^2 is used twice: c = a + a*x, dc/dx = 2x + 3x^2
    xv = np.array([1.0, -2.0, 0.5])
    x = t64(xv)
    a = x * x
    c = (a + a * x).sum()
    c.backward()
    close(x.grad, 2 * xv + 3 * xv ** 2)


def test_chain_rule_through_broadcasting_and_reductions():
    wv = np.array([[0.3, -0.2, 0.1]])
    xv = np.arange(6.0).reshape(2, 3)
    w, x = t64(wv), t64(xv)
    loss = ((x * w).sum(dim=1) ** 2).mean()
    loss.backward()
    s = (xv * wv).sum(axis=1)  # (2,)
    close(w.grad, (s[:, None] * xv).sum(axis=0, keepdims=True))  # d/dw mean(s^2) = mean(2 s x)
    close(x.grad, s[:, None] * wv)
    assert w.grad.shape == (1, 3) and x.grad.shape == (2, 3)


def test_chain_rule_two_layer_network_matches_manual_backprop():
    # loss = mean((tanh(x W1 + b1) W2 + b2 - y)^2), backpropagated by hand in NumPy
    rng = np.random.default_rng(0)
    xv, yv = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    w1v, b1v = rng.standard_normal((3, 4)), rng.standard_normal(4)
    w2v, b2v = rng.standard_normal((4, 2)), rng.standard_normal(2)
    w1, b1, w2, b2 = t64(w1v), t64(b1v), t64(w2v), t64(b2v)
    h = (t64(xv, False) @ w1 + b1).tanh()
    loss = ((h @ w2 + b2 - t64(yv, False)) ** 2).mean()
    loss.backward()

    hv = np.tanh(xv @ w1v + b1v)
    d_out = 2 * (hv @ w2v + b2v - yv) / yv.size
    d_pre = (d_out @ w2v.T) * (1 - hv ** 2)
    close(loss, np.mean((hv @ w2v + b2v - yv) ** 2))
    close(w2.grad, hv.T @ d_out)
    close(b2.grad, d_out.sum(axis=0))
    close(w1.grad, xv.T @ d_pre)
    close(b1.grad, d_pre.sum(axis=0))


# --- accumulation and retain_graph --------------------------------------------------------
def test_grad_accumulates_across_backward_calls():
    x = t64([1.0, 2.0])
    (x * x).sum().backward()
    close(x.grad, [2.0, 4.0])
    (3 * x).sum().backward()
    close(x.grad, [5.0, 7.0])
    x.grad = None
    (x * x).sum().backward()
    close(x.grad, [2.0, 4.0])


def test_second_backward_through_freed_graph_raises():
    x = t64([1.0, 2.0])
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"(?s)ExpBackward.*second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward_and_accumulates():
    xv = np.array([1.0, 2.0])
    x = t64(xv)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    close(x.grad, np.exp(xv))
    y.backward()
    close(x.grad, 2 * np.exp(xv))


def test_backward_on_non_scalar_needs_gradient_and_names_the_shape():
    x = t64(np.ones((2, 3)))
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar.*shape \(2, 3\)"):
        y.backward()


def test_backward_with_gradient_argument():
    xv = np.array([1.0, -2.0, 3.0])
    x = t64(xv)
    y = x * x
    y.backward(gradient=dg.tensor([1.0, 0.5, -1.0], dtype=dg.float64))
    close(x.grad, 2 * xv * np.array([1.0, 0.5, -1.0]))


def test_backward_gradient_of_wrong_shape_raises():
    x = t64([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*\(3,\)"):
        (x * 2).backward(gradient=dg.ones(2, dtype=dg.float64))


def test_backward_on_tensor_without_grad_raises():
    x = dg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()


# --- autograd.grad ------------------------------------------------------------------------
def test_autograd_grad_returns_and_leaves_dot_grad_alone():
    xv = np.array([0.5, 1.5])
    x = t64(xv)
    (g,) = dg.autograd.grad((x ** 3).sum(), x)
    close(g, 3 * xv ** 2)
    assert x.grad is None
    assert not g.requires_grad  # no create_graph: a plain tensor


def test_autograd_grad_allow_unused():
    x, unused = t64([1.0, 2.0]), t64([3.0])
    out = (x * x).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        dg.autograd.grad(out, [x, unused], retain_graph=True)
    gx, gu = dg.autograd.grad(out, [x, unused], allow_unused=True)
    close(gx, [2.0, 4.0])
    assert gu is None


def test_autograd_grad_with_respect_to_non_leaf():
    x = t64([1.0, -1.0, 2.0])
    y = x * 2  # a non-leaf
    z = (y * y * y).sum()
    gy, gx = dg.autograd.grad(z, [y, x])
    close(gy, 3 * to_numpy(y) ** 2)
    close(gx, 2 * 3 * to_numpy(y) ** 2)
    assert x.grad is None and y.grad is None


def test_autograd_grad_of_input_that_does_not_require_grad_raises():
    x = t64([1.0])
    c = dg.tensor([2.0], dtype=dg.float64)
    with pytest.raises(RuntimeError, match="does not require grad"):
        dg.autograd.grad((x * c).sum(), c)


def test_autograd_grad_with_grad_outputs():
    x = t64([1.0, 2.0])
    (g,) = dg.autograd.grad(x * x, x, grad_outputs=dg.tensor([1.0, 10.0], dtype=dg.float64))
    close(g, [2.0, 40.0])


# --- higher order -------------------------------------------------------------------------
def test_hessian_vector_product_matches_analytic():
    # f(x) = (sum x)^3: grad = 3 s^2 * 1, Hessian = 6 s * 1 1^T, so H v = 6 s (sum v) * 1
    xv, vv = np.array([0.5, -0.25, 1.0]), np.array([1.0, 2.0, -0.5])
    x, v = t64(xv), t64(vv, requires_grad=False)
    f = x.sum() ** 3
    (g,) = dg.autograd.grad(f, x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    close(g, 3 * xv.sum() ** 2 * np.ones(3))
    (hv,) = dg.autograd.grad((g * v).sum(), x)
    close(hv, 6 * xv.sum() * vv.sum() * np.ones(3))


def test_hessian_of_elementwise_function_is_diagonal():
    # f = sum(exp(x) * x^2): f'' = exp(x) (x^2 + 4x + 2) on the diagonal
    xv = np.array([0.1, -0.7, 1.3])
    x = t64(xv)
    (g,) = dg.autograd.grad((x.exp() * x * x).sum(), x, create_graph=True)
    rows = [dg.autograd.grad((g * t64(e, False)).sum(), x, retain_graph=True)[0] for e in np.eye(3)]
    hess = np.stack([to_numpy(r) for r in rows])
    close(hess, np.diag(np.exp(xv) * (xv ** 2 + 4 * xv + 2)))


def test_gradient_penalty_double_backward():
    # out = sum(exp(x * w)); g = d out / dx = w exp(x w); penalty = sum(g^2)
    # d penalty / dw = 2 w exp(2xw) + 2 x w^2 exp(2xw)
    xv, wv = np.array([0.3, -0.5, 0.8]), np.array([1.2, 0.4, -0.7])
    x, w = t64(xv), t64(wv)
    out = (x * w).exp().sum()
    (g,) = dg.autograd.grad(out, x, create_graph=True)
    penalty = (g ** 2).sum()
    penalty.backward()
    e = np.exp(2 * xv * wv)
    close(w.grad, 2 * wv * e + 2 * xv * wv ** 2 * e)
    close(x.grad, 2 * wv ** 3 * e)  # d/dx w^2 exp(2xw) = 2 w^3 exp(2xw)


def test_backward_create_graph_makes_grad_differentiable():
    xv = np.array([1.0, 2.0])
    x = t64(xv)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    gx = x.grad
    x.grad = None
    gx.sum().backward()
    close(x.grad, 6 * xv)


def test_plain_backward_records_no_graph_of_the_backward_pass():
    x = t64([1.0, 2.0])
    (x.exp() * x).sum().backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None


# --- hooks and retain_grad ------------------------------------------------------------------
def test_register_hook_on_leaf_modifies_gradient_and_can_be_removed():
    x = t64([1.0, 2.0])
    seen = []

    def hook(grad):
        seen.append(to_numpy(grad).copy())
        return grad * 10

    handle = x.register_hook(hook)
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    close(x.grad, [20.0, 40.0])
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    close(x.grad, [2.0, 4.0])
    assert len(seen) == 1


def test_register_hook_on_non_leaf_changes_upstream_gradients():
    x = t64([1.0, 2.0, 3.0])
    y = x * 3
    seen = []
    handle = y.register_hook(lambda g: seen.append(to_numpy(g).copy()))  # observes, returns None
    y.register_hook(lambda g: g * 0 + 1)  # replaces the gradient of y by ones
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * to_numpy(y))
    close(x.grad, [3.0, 3.0, 3.0])  # dL/dx = 1 * dy/dx
    handle.remove()
    x.grad = None
    z = x * 3
    (z * z).sum().backward()  # a fresh graph: no hooks
    close(x.grad, 18 * np.array([1.0, 2.0, 3.0]))
    assert len(seen) == 1


def test_register_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        dg.tensor([1.0]).register_hook(lambda g: g)


def test_retain_grad_keeps_non_leaf_gradient():
    x = t64([1.0, -2.0])
    y = x * 2
    y.retain_grad()
    w = x * 5  # no retain_grad
    ((y * y).sum() + w.sum()).backward()
    close(y.grad, 2 * to_numpy(y))
    assert w.grad is None
    close(x.grad, 8 * np.array([1.0, -2.0]) + 5)


# --- grad mode --------------------------------------------------------------------------------
def test_no_grad_and_enable_grad_context_managers():
    x = t64([1.0])
    with dg.no_grad():
        assert not dg.is_grad_enabled()
        y = x * 2
        with dg.enable_grad():
            assert dg.is_grad_enabled()
            z = x * 2
        assert not dg.is_grad_enabled()
    assert dg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ValueError):
        with dg.no_grad():
            raise ValueError("boom")
    assert dg.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators():
    x = t64([1.0])

    @dg.no_grad()
    def evaluate(t):
        return t * 2, dg.is_grad_enabled()

    @dg.enable_grad()
    def train_step(t):
        return t * 2

    y, mode = evaluate(x)
    assert not mode and not y.requires_grad
    assert dg.is_grad_enabled()
    with dg.no_grad():
        z = train_step(x)
    assert z.requires_grad
    assert evaluate.__name__ == "evaluate"  # functools.wraps


def test_grad_mode_is_thread_local():
    results = {}
    inside = threading.Event()
    release = threading.Event()

    def worker():
        results["worker_default"] = dg.is_grad_enabled()
        with dg.no_grad():
            inside.set()
            release.wait(5)
            results["worker_inside"] = dg.is_grad_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(5)
    results["main_while_worker_no_grad"] = dg.is_grad_enabled()
    release.set()
    thread.join(5)
    assert results == {"worker_default": True, "worker_inside": False,
                       "main_while_worker_no_grad": True}

    def other():
        results["new_thread_under_main_no_grad"] = dg.is_grad_enabled()

    with dg.no_grad():
        t = threading.Thread(target=other)
        t.start()
        t.join(5)
    assert results["new_thread_under_main_no_grad"] is True


def test_set_grad_enabled_returns_previous_mode():
    previous = dg.set_grad_enabled(False)
    try:
        assert previous is True and not dg.is_grad_enabled()
    finally:
        dg.set_grad_enabled(previous)
    assert dg.is_grad_enabled()


# --- leaves, detach, grad_fn ------------------------------------------------------------------
def test_detach_shares_storage_and_leaves_the_graph():
    x = t64([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.array, y.array)
    with dg.no_grad():
        d.mul_(0)
    assert to_numpy(y).tolist() == [0.0, 0.0]


def test_requires_grad_and_is_leaf():
    x = dg.tensor([1.0, 2.0])
    assert not x.requires_grad and x.is_leaf
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.requires_grad and not y.is_leaf
    c = dg.tensor([1.0]) * 2  # nothing requires grad: a leaf
    assert c.is_leaf and not c.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        dg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad_(False)
    x.requires_grad_(False)
    assert not x.requires_grad


def test_grad_fn_names_and_next_functions():
    x = t64([1.0, 2.0])
    y = x.exp()
    z = y * x
    assert y.grad_fn.name() == "ExpBackward"
    assert z.grad_fn.name() == "MulBackward"
    assert "MulBackward" in repr(z)
    assert repr(z.grad_fn) == "<MulBackward>"
    nodes = [n for n, _ in z.grad_fn.next_functions]
    assert nodes[0] is y.grad_fn and nodes[1] is x
    assert x.grad_fn is None


def test_integer_outputs_do_not_require_grad():
    x = t64([1.5, 2.5])
    q = x // 1  # floor division has no gradient
    assert not q.requires_grad


# --- in place and the version counter ------------------------------------------------------------
def test_inplace_on_saved_output_is_detected_naming_the_op():
    x = t64([1.0, 2.0])
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"ExpBackward.*modified by an in-place operation"):
        y.sum().backward()


def test_inplace_on_saved_input_is_detected():
    x = t64([1.0, 2.0])
    a = x * 1  # non-leaf
    b = a * a  # saves a
    a.mul_(2)
    with pytest.raises(RuntimeError, match=r"MulBackward.*in-place"):
        b.sum().backward()


def test_inplace_that_backward_does_not_need_is_fine():
    x = t64([1.0, 2.0])
    a = x * 1
    b = a + 1  # Add saves nothing
    a.add_(3)  # add_ needs nothing saved either
    (a.sum() + b.sum()).backward()
    close(x.grad, [2.0, 2.0])
    close(a, [4.0, 5.0])


def test_inplace_mul_on_non_leaf_gives_the_gradient_of_the_original_value():
    # PyTorch: a = x * 1; a.mul_(w); a.sum().backward() gives x.grad = w, w.grad = original a
    x, w = t64([1.0, 2.0]), t64([2.0, 5.0])
    a = x * 1
    a.mul_(w)
    a.sum().backward()
    close(x.grad, [2.0, 5.0])
    close(w.grad, [1.0, 2.0])


def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad():
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"add_.*leaf.*no_grad"):
        x.add_(1)
    with dg.no_grad():
        x.add_(1)
        x.mul_(2)
    close(x, [4.0, 6.0])
    assert x.is_leaf and x.requires_grad


def test_inplace_bumps_the_version_shared_with_views():
    x = dg.zeros(2, 3)
    v = x.view(6)
    before = x._version[0]
    v.add_(1)
    assert x._version[0] == before + 1
    assert to_numpy(x).tolist() == [[1.0] * 3] * 2


def test_inplace_through_a_reshape_view_of_saved_tensor_is_detected():
    x = t64([1.0, 2.0, 3.0, 4.0])
    y = x.exp()            # saves its output y
    v = y.view(2, 2)       # a view of y's storage
    v.mul_(2)
    with pytest.raises(RuntimeError, match="ExpBackward"):
        y.sum().backward()


def test_inplace_through_an_indexing_view_of_saved_tensor_is_detected():
    x = t64([1.0, 2.0, 3.0, 4.0])
    y = x.exp()
    y[1:3].mul_(2)
    with pytest.raises(RuntimeError, match="ExpBackward"):
        y.sum().backward()


# --- against PyTorch --------------------------------------------------------------------------
@requires_torch
def test_double_backward_matches_torch():
    import torch

    rng = np.random.default_rng(3)
    xv, wv = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (4,))

    def run(lib, x, w):
        out = ((x * w).exp() * x / (1 + w * w)).sum()
        (g,) = lib.autograd.grad(out, x, create_graph=True)
        (g ** 2).mean().backward()
        return out, w.grad, x.grad

    ours = run(dg, t64(xv), t64(wv))
    theirs = run(torch, torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(to_numpy(o), to_numpy(t), rtol=1e-10, atol=1e-12)


def test_leaves_given_the_same_gradient_get_grads_of_their_own():
    a, b = dg.ones(3, requires_grad=True), dg.ones(3, requires_grad=True)
    given = dg.ones(3)
    (a + b).backward(given)  # add's backward hands the same tensor to both sides
    a.grad.mul_(2)  # what gradient clipping does to each .grad in turn
    assert b.grad.tolist() == [1.0, 1.0, 1.0]
    assert given.tolist() == [1.0, 1.0, 1.0]


def test_grad_accumulates_in_place_without_create_graph_and_out_of_place_with_it():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    (x * x).sum().backward()
    assert x.grad is first and first.tolist() == [4.0, 8.0]  # as PyTorch: the same tensor
    (x * x).sum().backward(create_graph=True)
    assert x.grad is not first and x.grad.requires_grad and first.tolist() == [4.0, 8.0]
    assert x.grad.tolist() == [6.0, 12.0]

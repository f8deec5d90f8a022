"""The optimizers: PyTorch's numbers step by step, hand-computed updates, the quadratic bowl, errors.

With PyTorch installed, each optimizer runs next to torch.optim's from the same
parameters and gradients, with two param groups, and a state_dict round trip
into a fresh optimizer half way. Without it, updates computed by hand (and by
short NumPy transcriptions of the papers' formulas) check the numbers.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim

from helpers import requires_torch

SHAPES = [(3, 4), (5,), (2, 3)]  # group 0 gets the first two, group 1 the last


def _data(seed: int = 0, steps: int = 6):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _groups(params, group1):
    return [{"params": params[:2]}, {"params": params[2:], **group1}]


# (optimizer, constructor kwargs, overrides of the second group)
TORCH_CASES = [
    ("SGD", dict(lr=0.1), dict(momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.5, dampening=0.3, maximize=True), dict(weight_decay=0.1, lr=0.01)),
    ("Adam", dict(lr=0.1), dict(amsgrad=True, weight_decay=0.1, betas=(0.3, 0.9))),
    ("Adam", dict(lr=0.05, maximize=True, eps=1e-3), dict(weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.1), dict(amsgrad=True, weight_decay=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5), dict(weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01), dict(centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True), dict(alpha=0.3, momentum=0.2)),
    ("Adadelta", dict(), dict(lr=0.5, rho=0.5, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.1), dict(betas=(0.5, 0.9), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.1), dict(momentum_decay=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, maximize=True), dict(momentum_decay=0.1)),
    ("RAdam", dict(lr=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True, betas=(0.9, 0.5))),
    ("RAdam", dict(lr=0.1, weight_decay=0.1), dict(betas=(0.9, 0.5), maximize=True)),
]


def _torch_run(torch, name, kwargs, group1, init, grads, dtype, roundtrip_at=3):
    """Both frameworks side by side; returns the per-step parameters and the final optimizers."""
    np_dtype = {"float32": np.float32, "float64": np.float64}[dtype]
    dps = [dg.tensor(a.astype(np_dtype), requires_grad=True) for a in init]
    tps = [torch.tensor(a.astype(np_dtype), requires_grad=True) for a in init]
    dopt = getattr(optim, name)(_groups(dps, group1), **kwargs)
    topt = getattr(torch.optim, name)(_groups(tps, group1), **kwargs)
    history = []
    for step, gs in enumerate(grads):
        if step == roundtrip_at:  # resume from a saved state in a fresh optimizer
            saved = dopt.state_dict()
            dopt = getattr(optim, name)(_groups(dps, {}), lr=123.0)  # hyperparameters come from the save
            dopt.load_state_dict(pickle.loads(pickle.dumps(saved)))
            tsaved = topt.state_dict()
            topt = getattr(torch.optim, name)(_groups(tps, {}), lr=123.0)
            topt.load_state_dict(tsaved)
        for p, q, g in zip(dps, tps, gs):
            p.grad = dg.tensor(g.astype(np_dtype))
            q.grad = torch.tensor(g.astype(np_dtype))
        dopt.step()
        topt.step()
        history.append([(p.array.copy(), q.detach().numpy().copy()) for p, q in zip(dps, tps)])
    return history, dopt, topt


@requires_torch
@pytest.mark.parametrize("name,kwargs,group1", TORCH_CASES, ids=[c[0] + str(i) for i, c in enumerate(TORCH_CASES)])
def test_matches_torch_step_by_step(name, kwargs, group1):
    import torch

    init, grads = _data()
    history, dopt, topt = _torch_run(torch, name, kwargs, group1, init, grads, "float64")
    for step, pairs in enumerate(history):
        for i, (ours, theirs) in enumerate(pairs):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13,
                                       err_msg=f"{name} step {step + 1} parameter {i}")
    # The state, in PyTorch's format: same indices, names, values and group keys.
    ds, ts = dopt.state_dict(), topt.state_dict()
    assert ds["state"].keys() == ts["state"].keys()
    for k in ts["state"]:
        assert ds["state"][k].keys() == ts["state"][k].keys(), name
        for key, tv in ts["state"][k].items():
            dv = ds["state"][k][key]
            assert isinstance(dv, dg.Tensor)
            np.testing.assert_allclose(dv.numpy(), tv.numpy(), rtol=1e-12, atol=1e-13, err_msg=key)
            assert dv.numpy().dtype == tv.numpy().dtype, key
    for dg_group, t_group in zip(ds["param_groups"], ts["param_groups"]):
        assert dg_group.keys() == t_group.keys()
        for key in t_group:
            assert dg_group[key] == t_group[key], key


@requires_torch
@pytest.mark.parametrize("name,kwargs,group1", TORCH_CASES[::2], ids=[c[0] for c in TORCH_CASES[::2]])
def test_matches_torch_float32(name, kwargs, group1):
    import torch

    init, grads = _data(seed=1, steps=4)
    history, dopt, _ = _torch_run(torch, name, kwargs, group1, init, grads, "float32", roundtrip_at=2)
    for ours, theirs in history[-1]:
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    for state in dopt.state.values():
        for key, value in state.items():
            if key not in ("step", "mu_product"):
                assert value.array.dtype == np.float32, key


@requires_torch
def test_loads_a_torch_state_dict_and_continues_identically():
    import torch

    init, grads = _data(seed=2, steps=4)
    tps = [torch.tensor(a, requires_grad=True) for a in init]
    topt = torch.optim.Adam(_groups(tps, dict(lr=0.01)), lr=0.1, amsgrad=True)
    for gs in grads[:2]:
        for q, g in zip(tps, gs):
            q.grad = torch.tensor(g)
        topt.step()
    dps = [dg.tensor(q.detach().numpy().copy(), requires_grad=True) for q in tps]
    dopt = optim.Adam(_groups(dps, {}), amsgrad=True)
    dopt.load_state_dict(topt.state_dict())
    assert dopt.param_groups[1]["lr"] == 0.01
    for gs in grads[2:]:
        for p, q, g in zip(dps, tps, gs):
            p.grad, q.grad = dg.tensor(g), torch.tensor(g)
        dopt.step()
        topt.step()
    for p, q in zip(dps, tps):
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-12)


# --- without PyTorch: updates computed by hand --------------------------------------------

def _steps(opt_factory, p0, grads):
    p = dg.tensor(np.array(p0, dtype=np.float64), requires_grad=True)
    opt = opt_factory([p])
    out = []
    for g in grads:
        p.grad = dg.tensor(np.array(g, dtype=np.float64))
        opt.step()
        out.append(p.array.copy())
    return out


P0, G1, G2 = [1.0, -2.0], [0.5, 1.0], [-1.0, 0.5]


def test_sgd_momentum_by_hand():
    p1, p2 = _steps(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), P0, [G1, G2])
    # b1 = g1 = [0.5, 1]; p1 = p0 - 0.1 b1
    np.testing.assert_allclose(p1, [0.95, -2.1], rtol=1e-15)
    # b2 = 0.9 b1 + g2 = [-0.55, 1.4]; p2 = p1 - 0.1 b2
    np.testing.assert_allclose(p2, [1.005, -2.24], rtol=1e-15)


def test_sgd_nesterov_and_weight_decay_by_hand():
    p1, p2 = _steps(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True), P0, [G1, G2])
    np.testing.assert_allclose(p1, [0.905, -2.19], rtol=1e-15)  # d = g1 + 0.9 g1
    np.testing.assert_allclose(p2, [1.0545, -2.366], rtol=1e-15)  # d = g2 + 0.9 [-0.55, 1.4]
    (p1,) = _steps(lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.5), P0, [G1])
    np.testing.assert_allclose(p1, [1.0 - 0.1 * (0.5 + 0.5), -2.0 - 0.1 * (1.0 - 1.0)], rtol=1e-15)
    (p1,) = _steps(lambda ps: optim.SGD(ps, lr=0.1, maximize=True), P0, [G1])
    np.testing.assert_allclose(p1, [1.05, -1.9], rtol=1e-15)


def test_adam_by_hand():
    p1, p2 = _steps(lambda ps: optim.Adam(ps, lr=0.1), P0, [G1, G2])
    g1, g2 = np.array(G1), np.array(G2)
    # step 1: m_hat = g1, v_hat = g1^2, so the step is lr * sign(g1) (up to eps)
    np.testing.assert_allclose(p1, np.array(P0) - 0.1 * g1 / (np.abs(g1) + 1e-8), rtol=1e-14)
    m = 0.9 * (0.1 * g1) + 0.1 * g2                # [-0.055, 0.14]
    v = 0.999 * (0.001 * g1**2) + 0.001 * g2**2     # [0.00124975, 0.001249]
    np.testing.assert_allclose(m, [-0.055, 0.14], rtol=1e-14)
    np.testing.assert_allclose(v, [0.00124975, 0.001249], rtol=1e-14)
    expected = p1 - 0.1 / (1 - 0.9**2) * m / (np.sqrt(v) / np.sqrt(1 - 0.999**2) + 1e-8)
    np.testing.assert_allclose(p2, expected, rtol=1e-14)
    np.testing.assert_allclose(p2, [0.9 + 0.036610, -2.1 - 0.093218], atol=5e-7)  # the numbers themselves


def test_adamw_decays_before_the_step():
    (p1,) = _steps(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5), P0, [G1])
    g1 = np.array(G1)
    expected = np.array(P0) * (1 - 0.1 * 0.5) - 0.1 * g1 / (np.abs(g1) + 1e-8)
    np.testing.assert_allclose(p1, expected, rtol=1e-14)


def _reference(name, p, grads, **hp):
    """NumPy transcriptions of the update rules (one tensor, no weight decay)."""
    p = np.array(p, dtype=np.float64)
    lr = hp["lr"]
    state = {}
    out = []
    for t, g in enumerate(grads, start=1):
        g = np.array(g, dtype=np.float64)
        if name == "Adagrad":
            state["s"] = state.get("s", 0.0) + g * g
            p = p - lr / (1 + (t - 1) * hp["lr_decay"]) * g / (np.sqrt(state["s"]) + 1e-10)
        elif name == "RMSprop":
            a = hp["alpha"]
            state["v"] = a * state.get("v", 0.0) + (1 - a) * g * g
            state["ga"] = a * state.get("ga", 0.0) + (1 - a) * g
            state["b"] = 0.5 * state.get("b", 0.0) + g / (np.sqrt(state["v"] - state["ga"] ** 2) + 1e-8)
            p = p - lr * state["b"]
        elif name == "Adadelta":
            r = hp["rho"]
            state["v"] = r * state.get("v", 0.0) + (1 - r) * g * g
            delta = np.sqrt(state.get("u", 0.0) + 1e-6) / np.sqrt(state["v"] + 1e-6) * g
            state["u"] = r * state.get("u", 0.0) + (1 - r) * delta**2
            p = p - lr * delta
        elif name == "Adamax":
            state["m"] = 0.9 * state.get("m", 0.0) + 0.1 * g
            state["u"] = np.maximum(0.999 * state.get("u", 0.0), np.abs(g) + 1e-8)
            p = p - lr / (1 - 0.9**t) * state["m"] / state["u"]
        elif name == "NAdam":
            mu = lambda k: 0.9 * (1 - 0.5 * 0.96 ** (k * 4e-3))  # noqa: E731
            prod = np.float32(1.0)  # PyTorch keeps the product in step's dtype (float32 here)
            for k in range(1, t + 1):
                prod = np.float32(prod * np.float32(mu(k)))
            prod = float(prod)
            state["m"] = 0.9 * state.get("m", 0.0) + 0.1 * g
            state["v"] = 0.999 * state.get("v", 0.0) + 0.001 * g * g
            denom = np.sqrt(state["v"] / (1 - 0.999**t)) + 1e-8
            p = p - lr * (1 - mu(t)) / (1 - prod) * g / denom \
                - lr * mu(t + 1) / (1 - prod * mu(t + 1)) * state["m"] / denom
        elif name == "RAdam":
            b2 = hp["betas"][1]
            state["m"] = 0.9 * state.get("m", 0.0) + 0.1 * g
            state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
            m_hat = state["m"] / (1 - 0.9**t)
            rho_inf = 2 / (1 - b2) - 1
            rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
            if rho > 5:
                r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
                p = p - lr * m_hat * r * np.sqrt(1 - b2**t) / (np.sqrt(state["v"]) + 1e-8)
            else:
                p = p - lr * m_hat
        elif name == "Lion":
            b1, b2 = hp["betas"]
            m = state.get("m", 0.0)
            p = p * (1 - lr * hp["weight_decay"]) - lr * np.sign(b1 * m + (1 - b1) * g)
            state["m"] = b2 * m + (1 - b2) * g
        elif name == "LAMB":
            state["m"] = 0.9 * state.get("m", 0.0) + 0.1 * g
            state["v"] = 0.999 * state.get("v", 0.0) + 0.001 * g * g
            u = (state["m"] / (1 - 0.9**t)) / (np.sqrt(state["v"] / (1 - 0.999**t)) + 1e-6)
            u = u + hp["weight_decay"] * p
            wn, un = np.linalg.norm(p), np.linalg.norm(u)
            p = p - lr * (wn / un if wn > 0 and un > 0 else 1.0) * u
        out.append(p)
    return out


REFERENCE_CASES = [
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5)),
    ("Adadelta", dict(lr=1.0, rho=0.9)),
    ("Adamax", dict(lr=0.1)),
    ("NAdam", dict(lr=0.1)),
    ("RAdam", dict(lr=0.1, betas=(0.9, 0.999))),  # rho_t <= 5 for the first 5 steps, then rectified
    ("RAdam", dict(lr=0.1, betas=(0.9, 0.5))),    # rho_inf = 3: never rectified, plain momentum
    ("Lion", dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)),
    ("LAMB", dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize("name,kwargs", REFERENCE_CASES, ids=[c[0] + str(i) for i, c in enumerate(REFERENCE_CASES)])
def test_matches_the_formulas(name, kwargs):
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal(6)
    grads = [rng.standard_normal(6) for _ in range(8)]
    ours = _steps(lambda ps: getattr(optim, name)(ps, **kwargs), p0, grads)
    hp = {k: v for k, v in kwargs.items() if k in ("lr", "lr_decay", "alpha", "rho", "betas", "weight_decay")}
    expected = _reference(name, p0, grads, **hp)
    for step, (a, b) in enumerate(zip(ours, expected)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"{name} step {step + 1}")


@pytest.mark.parametrize("name,kwargs", [("Lion", dict(lr=0.01, weight_decay=0.1)), ("LAMB", dict(lr=0.01))])
def test_lion_and_lamb_groups_and_resume(name, kwargs):
    """Two groups with different lrs and a state_dict round trip give the same result as one long run."""
    init, grads = _data(seed=4)

    def run(roundtrip: bool):
        ps = [dg.tensor(a, requires_grad=True) for a in init]
        opt = getattr(optim, name)(_groups(ps, dict(lr=0.05)), **kwargs)
        for step, gs in enumerate(grads):
            if roundtrip and step == 3:
                saved = opt.state_dict()
                opt = getattr(optim, name)(_groups(ps, {}))
                opt.load_state_dict(saved)
            for p, g in zip(ps, gs):
                p.grad = dg.tensor(g)
            opt.step()
        return [p.array for p in ps]

    for a, b in zip(run(False), run(True)):
        np.testing.assert_array_equal(a, b)
    # group 1 moved with its own lr: Lion moves each coordinate by at most lr (+ decay) per step
    if name == "Lion":
        ps = run(False)
        assert np.max(np.abs(ps[2] - init[2])) > 6 * 0.02
        assert np.max(np.abs(ps[0] - init[0])) <= 6 * 0.01 * (1 + 0.1 * 3) + 1e-12


def test_lamb_trust_ratio_is_one_for_zero_weights():
    p = dg.tensor(np.zeros(4), requires_grad=True)
    opt = optim.LAMB([p], lr=0.1)
    p.grad = dg.tensor(np.array([1.0, -2.0, 3.0, 0.0]))
    opt.step()
    # step 1: u = g / (|g| + eps) = sign(g) (almost), trust ratio 1 since ||w|| = 0
    np.testing.assert_allclose(p.array, [-0.1, 0.1, -0.1, 0.0], rtol=1e-5)


# --- the lectures' picture: the quadratic bowl --------------------------------------------

A_DIAG = np.array([1.0, 10.0])  # f(x) = 0.5 x^T A x, L = 10


def _bowl(name, kwargs, steps):
    x = dg.tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = getattr(optim, name)([x], **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (dg.tensor(A_DIAG) * x * x).sum()
        loss.backward()
        opt.step()
    return 0.5 * float((A_DIAG * x.array**2).sum())


BOWL = [
    ("SGD", dict(lr=0.1), 100, 1e-8),
    ("SGD", dict(lr=0.19), 300, 1e-8),  # just below 2/L
    ("SGD", dict(lr=0.05, momentum=0.9), 200, 1e-6),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), 200, 1e-8),
    ("Adagrad", dict(lr=0.5), 200, 1e-8),
    ("RMSprop", dict(lr=0.01), 300, 1e-8),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5), 300, 1e-8),
    ("Adadelta", dict(rho=0.99), 500, 1e-3),
    ("Adam", dict(lr=0.1), 300, 1e-8),
    ("AdamW", dict(lr=0.1, weight_decay=0.01), 300, 1e-8),
    ("Adamax", dict(lr=0.1), 300, 1e-8),
    ("NAdam", dict(lr=0.1), 300, 1e-8),
    ("RAdam", dict(lr=0.1), 300, 1e-8),
    ("Lion", dict(lr=0.01), 300, 1e-8),
    ("LAMB", dict(lr=0.05), 300, 1e-8),
]


@pytest.mark.parametrize("name,kwargs,steps,tol", BOWL, ids=[f"{b[0]}-{b[1]}" for b in BOWL])
def test_quadratic_bowl_converges(name, kwargs, steps, tol):
    assert _bowl(name, kwargs, steps) < tol * 5.5  # f(x0) = 5.5


def test_sgd_above_two_over_L_diverges():
    assert _bowl("SGD", dict(lr=0.21), 100) > 1e6 * 5.5
    assert _bowl("SGD", dict(lr=0.19), 100) < 1e-3


# --- the base class ------------------------------------------------------------------------

def test_step_updates_in_place_without_a_graph():
    p = dg.tensor([1.0, 2.0], requires_grad=True)
    storage = p.array
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    version = p._version[0]
    opt.step()
    assert p.array is storage and p.grad_fn is None and p.requires_grad and p.is_leaf
    assert p._version[0] == version + 1
    assert not np.allclose(p.array, [1.0, 2.0])


def test_zero_grad():
    p = dg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and np.all(g.array == 0)
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: nothing happens
    np.testing.assert_array_equal(p.array, [1.0, 2.0])


def test_step_with_closure_returns_the_loss():
    p = dg.tensor([3.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with dg.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert float(loss) == 9.0
    np.testing.assert_allclose(p.array, [1.5])


def test_param_groups_hyperparameters_can_change():
    p = dg.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = dg.tensor([1.0])
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(p.array, [0.5])


def test_add_param_group_and_defaults():
    a, b = dg.tensor([1.0], requires_grad=True), dg.tensor([2.0], requires_grad=True)
    opt = optim.Adam([a], lr=0.1, betas=(0.8, 0.9))
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["betas"] == (0.8, 0.9)
    assert opt.param_groups[1]["params"] == [b] or opt.param_groups[1]["params"][0] is b
    with pytest.raises(ValueError, match=r"more than one parameter group.*param_groups\[0\]"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a, b]}, {"params": [b]}], lr=0.1)


def test_state_dict_format_and_named_parameters():
    a, b = dg.tensor([1.0], requires_grad=True), dg.tensor([2.0, 3.0], requires_grad=True)
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1, momentum=0.9)
    a.grad, b.grad = dg.tensor([1.0]), dg.tensor([1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["param_names"] == ["w", "b"]
    assert set(sd["state"]) == {0, 1} and set(sd["state"][1]) == {"momentum_buffer"}
    np.testing.assert_array_equal(sd["state"][1]["momentum_buffer"].numpy(), [1.0, 1.0])
    for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        assert clone.param_groups[0]["lr"] == 0.1 and clone.param_groups[0]["param_names"] == ["w", "b"]
        w = clone.param_groups[0]["params"][0]
        w.grad = dg.tensor([1.0])
        clone.step()  # momentum 0.9: buffer 0.9 * 1 + 1
        np.testing.assert_allclose(w.array, [1.0 - 0.1 - 0.19])
    np.testing.assert_allclose(a.array, [0.9], rtol=1e-7)  # the original is untouched


def test_load_state_dict_copies_and_checks_sizes():
    a = dg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    a.grad = dg.tensor([1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    b = dg.tensor([1.0, 2.0], requires_grad=True)
    other = optim.Adam([b])
    other.load_state_dict(sd)
    assert other.state[b]["exp_avg"] is not opt.state[a]["exp_avg"]
    assert other.param_groups[0]["lr"] == 0.1
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([dg.tensor([1.0], requires_grad=True), dg.tensor([1.0], requires_grad=True)]
                   ).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": [b]}, {"params": [dg.tensor([1.0], requires_grad=True)]}]).load_state_dict(sd)


def test_float32_stays_float32():
    p = dg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    for cls in (optim.SGD, optim.Adam, optim.RMSprop, optim.Adagrad, optim.Adadelta, optim.Adamax,
                optim.NAdam, optim.RAdam, optim.Lion, optim.LAMB):
        opt = cls([p], lr=0.01) if cls is not optim.Adadelta else cls([p])
        p.grad = dg.tensor(np.full(3, 0.5, dtype=np.float32))
        opt.step()
        assert p.array.dtype == np.float32, cls.__name__


# --- errors --------------------------------------------------------------------------------

INVALID = [
    (optim.SGD, dict(lr=-0.1), "lr=-0.1"),
    (optim.SGD, dict(lr=0.1, momentum=1.0), "momentum=1.0"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "momentum=-0.5"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1), "weight_decay=-1"),
    (optim.Adam, dict(lr=float("nan")), "lr=nan"),
    (optim.Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]=1.0"),
    (optim.AdamW, dict(betas=(0.9, -0.1)), r"betas\[1\]=-0.1"),
    (optim.Adam, dict(betas=(0.9,)), "betas"),
    (optim.Adam, dict(eps=-1e-8), "eps=-1e-08"),
    (optim.RMSprop, dict(momentum=1.5), "momentum=1.5"),
    (optim.RMSprop, dict(alpha=-0.1), "alpha=-0.1"),
    (optim.Adagrad, dict(lr_decay=-1), "lr_decay=-1"),
    (optim.Adagrad, dict(initial_accumulator_value=-1), "initial_accumulator_value=-1"),
    (optim.Adadelta, dict(rho=1.5), "rho=1.5"),
    (optim.Adamax, dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    (optim.NAdam, dict(momentum_decay=-1), "momentum_decay=-1"),
    (optim.RAdam, dict(betas=(-0.1, 0.9)), r"betas\[0\]"),
    (optim.Lion, dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    (optim.LAMB, dict(weight_decay=-0.1), "weight_decay=-0.1"),
]


@pytest.mark.parametrize("cls,kwargs,fragment", INVALID, ids=[f"{c.__name__}-{f}" for c, _, f in INVALID])
def test_invalid_hyperparameters_raise_at_construction(cls, kwargs, fragment):
    p = dg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=cls.__name__ + ".*" + fragment):
        cls([p], **kwargs)
    # the same value given for one group is refused too
    with pytest.raises(ValueError, match=cls.__name__):
        cls([{"params": [p], **kwargs}])


def test_bad_params_arguments():
    p = dg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors.*ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered collection"):
        optim.SGD({p}, lr=0.1)


def test_a_user_defined_optimizer():
    """Subclassing as in PyTorch: defaults with `required`, groups, and an own `step`."""
    from deepgrad.optim.optimizer import required

    class PlainGD(optim.Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, dict(lr=lr))

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        with dg.no_grad():
                            p -= group["lr"] * p.grad

    a, b = dg.tensor([1.0], requires_grad=True), dg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        PlainGD([a])
    opt = PlainGD([{"params": [a], "lr": 0.5}, {"params": [b], "lr": 0.25}])
    a.grad, b.grad = dg.tensor([1.0]), dg.tensor([1.0])
    scheduler = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.5, 0.75])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the optimizer was stepped first: no call-order warning
        scheduler.step()
    assert scheduler.get_last_lr() == [0.25, 0.125]


def test_trains_a_small_network_end_to_end():
    """Adam + a schedule + gradient clipping + an EMA of the weights on XOR: the loss falls."""
    from deepgrad import nn
    from deepgrad.nn.utils import clip_grad_norm_
    from deepgrad.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    x = dg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = dg.tensor([[0.0], [1.0], [1.0], [0.0]])
    opt = optim.Adam(model.parameters(), lr=0.05)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=300, eta_min=0.005)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
        scheduler.step()
        ema.update_parameters(model)
        losses.append(loss.item())
    assert losses[-1] < 0.01 * losses[0]
    with dg.no_grad():
        assert ((ema(x) - y) ** 2).mean().item() < 0.02


# Every optimizer that updates in cache-sized chunks, in each of its code paths.
CHUNKED = [
    ("Adam", {}), ("Adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"maximize": True}),
    ("RMSprop", {}), ("RMSprop", {"centered": True, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"momentum": 0.5, "maximize": True}),
    ("Adagrad", {"lr_decay": 0.1, "weight_decay": 0.1}),
    ("Adadelta", {"weight_decay": 0.1}),
    ("Adamax", {"weight_decay": 0.1}),
    ("NAdam", {}), ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {}), ("RAdam", {"weight_decay": 0.1}),
    ("Lion", {"weight_decay": 0.1}),
]


@pytest.mark.parametrize("name,kwargs", CHUNKED, ids=[f"{n}{k}" for n, k in CHUNKED])
def test_update_in_cache_sized_chunks_equals_update_in_one_piece(name, kwargs, monkeypatch):
    """A parameter larger than a chunk is updated in slices; every value as in one piece."""
    from deepgrad.optim import optimizer as base

    rng = np.random.default_rng(0)
    start = rng.standard_normal((300, 700)).astype(np.float32)  # 210,000 values: 4 chunks
    # RAdam rectifies from its 6th step on: 7 steps cover both of its branches
    grads = [rng.standard_normal(start.shape).astype(np.float32) for _ in range(7)]
    lr = 1e-4 if name == "Lion" else 0.01

    def run() -> np.ndarray:
        p = dg.tensor(start.copy(), requires_grad=True)
        opt = getattr(optim, name)([p], lr=lr, **kwargs)
        for g in grads:
            p.grad = dg.tensor(g)
            opt.step()
        return p.detach().numpy()

    chunked = run()
    monkeypatch.setattr(base, "_CHUNK", 10**9)
    np.testing.assert_array_equal(chunked, run())
    assert not np.array_equal(chunked, start)

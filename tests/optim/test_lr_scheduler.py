"""Learning-rate schedules: PyTorch's sequences exactly, state_dict round trips, and closed forms by hand."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim
from deepgrad.optim import lr_scheduler as sched

from helpers import requires_torch


def _optimizer(lib, kind: str = "SGD"):
    a = lib.zeros(2, requires_grad=True)
    b = lib.zeros(3, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.01}]
    if kind == "SGD":
        return getattr(lib.optim, "SGD")(groups, lr=0.1, momentum=0.9)
    return getattr(lib.optim, "Adam")(groups, lr=0.1)


# name -> (optimizer kind, steps, factory(lib_lr_scheduler, optimizer) -> scheduler)
SCHEDULES = {
    "StepLR": ("SGD", 20, lambda S, o: S.StepLR(o, step_size=3, gamma=0.5)),
    "MultiStepLR": ("SGD", 20, lambda S, o: S.MultiStepLR(o, milestones=[2, 5, 5, 8], gamma=0.3)),
    "ExponentialLR": ("SGD", 20, lambda S, o: S.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR": ("SGD", 25, lambda S, o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    "CosineAnnealingWarmRestarts": ("SGD", 25, lambda S, o: S.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=1e-4)),
    "LinearLR": ("SGD", 12, lambda S, o: S.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6)),
    "OneCycleLR": ("SGD", 19, lambda S, o: S.OneCycleLR(o, max_lr=[1.0, 0.1], total_steps=20)),
    "OneCycleLR-adam-3phase": ("Adam", 29, lambda S, o: S.OneCycleLR(
        o, max_lr=0.5, epochs=3, steps_per_epoch=10, anneal_strategy="linear", three_phase=True)),
    "LambdaLR": ("SGD", 15, lambda S, o: S.LambdaLR(o, [lambda e: 0.95**e, lambda e: 1.0 / (e + 1)])),
    "MultiplicativeLR": ("SGD", 15, lambda S, o: S.MultiplicativeLR(o, lambda e: 0.9)),
    "ConstantLR": ("SGD", 10, lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=3)),
    "PolynomialLR": ("SGD", 10, lambda S, o: S.PolynomialLR(o, total_iters=6, power=2.0)),
    "SequentialLR": ("SGD", 20, lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=3), S.CosineAnnealingLR(o, T_max=10)],
        milestones=[3])),
    "ChainedScheduler": ("SGD", 12, lambda S, o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.1, total_iters=4), S.ExponentialLR(o, gamma=0.9)])),
}


def _sequence(lib, name: str, roundtrip_at: int | None):
    kind, steps, factory = SCHEDULES[name]
    S = lib.optim.lr_scheduler
    opt = _optimizer(lib, kind)
    scheduler = factory(S, opt)
    lrs = [scheduler.get_last_lr()]
    momenta = []
    for step in range(steps):
        if step == roundtrip_at:  # save both, then resume in fresh objects
            saved_opt = pickle.loads(pickle.dumps(opt.state_dict())) if lib is dg else opt.state_dict()
            saved_sched = scheduler.state_dict()
            opt = _optimizer(lib, kind)
            scheduler = factory(S, opt)
            opt.load_state_dict(saved_opt)
            scheduler.load_state_dict(saved_sched)
        opt.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        g = opt.param_groups[0]
        momenta.append(g["betas"][0] if "betas" in g else g["momentum"])
        assert [float(x) for x in lrs[-1]] == [float(g["lr"]) for g in opt.param_groups]
    return lrs, momenta


@requires_torch
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_matches_torch_sequence(name):
    import torch

    for roundtrip in (None, 7):
        ours, our_momenta = _sequence(dg, name, roundtrip)
        theirs, their_momenta = _sequence(torch, name, roundtrip)
        assert ours == theirs, f"{name} (round trip at {roundtrip})"
        assert our_momenta == their_momenta


@requires_torch
def test_reduce_lr_on_plateau_matches_torch():
    import torch

    metrics = [1.0, 0.9, 0.95, 0.97, 0.96, 0.8, 0.85, 0.86, 0.87, 0.88, 0.5, 0.5, 0.6, 0.7, 0.7, 0.7]

    def run(lib, mode, threshold_mode):
        opt = _optimizer(lib)
        s = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=1, cooldown=1,
                                                     threshold=0.01, threshold_mode=threshold_mode,
                                                     min_lr=[0.02, 0.0])
        out = []
        for i, m in enumerate(metrics):
            if i == 8:
                state = s.state_dict()
                s = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode)
                s.load_state_dict(state)
            s.step(m if mode == "min" else -m)
            out.append(s.get_last_lr())
        return out

    for mode in ("min", "max"):
        for threshold_mode in ("rel", "abs"):
            assert run(dg, mode, threshold_mode) == run(torch, mode, threshold_mode)


# --- without PyTorch: the closed forms by hand ---------------------------------------------

def _lrs(factory, steps, kind="SGD"):
    opt = _optimizer(dg, kind)
    s = factory(opt)
    out = [s.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        s.step()
        out.append(s.get_last_lr()[0])
    return out


def test_step_multistep_exponential_by_hand():
    assert _lrs(lambda o: sched.StepLR(o, 2, gamma=0.5), 5) == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert _lrs(lambda o: sched.MultiStepLR(o, [1, 3], gamma=0.1), 4) == pytest.approx(
        [0.1, 0.01, 0.01, 0.001, 0.001])
    assert _lrs(lambda o: sched.ExponentialLR(o, 0.5), 3) == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_cosine_annealing_follows_the_closed_form():
    T, eta_min = 10, 0.001
    got = _lrs(lambda o: sched.CosineAnnealingLR(o, T_max=T, eta_min=eta_min), 2 * T)
    expected = [eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * t / T)) / 2 for t in range(2 * T + 1)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[T] == pytest.approx(eta_min) and got[2 * T] == pytest.approx(0.1)


def test_warm_restarts_restart():
    got = _lrs(lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2), 7)
    # T_cur: 0 1 | 0 1 2 3 | 0 1 with T_i = 2 then 4 then 8
    expected = [0.05 * (1 + math.cos(math.pi * c / t)) for c, t in
                [(0, 2), (1, 2), (0, 4), (1, 4), (2, 4), (3, 4), (0, 8), (1, 8)]]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    opt = _optimizer(dg)
    s = sched.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s.step(2.5)  # fractional epochs: T_i = 4, T_cur = 0.5
    assert s.get_last_lr()[0] == pytest.approx(0.05 * (1 + math.cos(math.pi * 0.5 / 4)))


def test_linear_warmup_then_cosine():
    got = _lrs(lambda o: sched.SequentialLR(
        o, [sched.LinearLR(o, start_factor=0.1, total_iters=4), sched.CosineAnnealingLR(o, T_max=5)],
        milestones=[4]), 9)
    np.testing.assert_allclose(got[:5], [0.01, 0.0325, 0.055, 0.0775, 0.1], rtol=1e-12)
    np.testing.assert_allclose(got[4:], [0.05 * (1 + math.cos(math.pi * t / 5)) for t in range(6)],
                               rtol=1e-12, atol=1e-15)


def test_one_cycle_shape():
    opt = _optimizer(dg)
    s = sched.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.3)
    lrs, momenta = [s.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    for _ in range(9):
        opt.step()
        s.step()
        lrs.append(s.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
    assert lrs[0] == pytest.approx(1.0 / 25) and max(lrs) == pytest.approx(1.0) and lrs.index(1.0) == 2
    assert lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert momenta[0] == pytest.approx(0.95) and momenta[2] == pytest.approx(0.85)
    assert momenta[-1] == pytest.approx(0.95)
    opt.step()
    s.step()
    with pytest.raises(ValueError, match="total steps is 10"):
        s.step()


def test_reduce_lr_on_plateau_by_hand():
    opt = _optimizer(dg)
    s = sched.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    lrs = []
    for m in [1.0, 1.0, 1.0, 1.0, 0.5, 0.6, 0.6, 0.6]:
        s.step(m)
        lrs.append(s.get_last_lr()[0])
    # 1.0 sets the best; three steps without improvement (> patience 2) halve the lr
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025])
    s.step(dg.tensor(0.1))  # a one-element tensor works as the metric
    assert s.best == pytest.approx(0.1)


def test_lambda_lr_and_state_dict():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, e):
            return min(1.0, (e + 1) / self.n)

    opt = _optimizer(dg)
    s = sched.LambdaLR(opt, Warmup(4))
    for _ in range(2):
        opt.step()
        s.step()
    state = s.state_dict()
    assert state["lr_lambdas"][0] == {"n": 4} and state["last_epoch"] == 2
    assert "optimizer" not in state
    fresh = sched.LambdaLR(opt, Warmup(100))
    fresh.load_state_dict(state)
    assert fresh.lr_lambdas[0].n == 4 and fresh.last_epoch == 2
    opt.step()
    fresh.step()
    assert fresh.get_last_lr()[0] == pytest.approx(0.1)  # (3 + 1) / 4


def test_warns_when_stepped_before_the_optimizer():
    opt = _optimizer(dg)
    s = sched.StepLR(opt, 1)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()
    opt2 = _optimizer(dg)
    s2 = sched.StepLR(opt2, 1)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2.step()


def test_scheduler_errors():
    opt = _optimizer(dg)
    with pytest.raises(TypeError, match="not an Optimizer"):
        sched.StepLR(object(), 1)
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(opt, 1, last_epoch=3)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        sched.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="one more scheduler than milestones"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 1)], milestones=[2])
    with pytest.raises(ValueError, match="total_steps"):
        sched.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="T_0"):
        sched.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="2 lr_lambdas"):
        sched.LambdaLR(opt, [lambda e: 1.0])
    adagrad = optim.Adagrad([dg.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="momentum or betas"):
        sched.OneCycleLR(adagrad, max_lr=1.0, total_steps=5)

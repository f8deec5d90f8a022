"""Weight averaging: AveragedModel (EMA, SWA/Polyak, custom avg_fn), update_bn and SWALR."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.optim import SGD
from deepgrad.optim.swa_utils import (
    SWALR, AveragedModel, get_ema_avg_fn, get_ema_multi_avg_fn, get_swa_avg_fn, get_swa_multi_avg_fn,
)

from helpers import requires_torch


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))


def _snapshots(n: int = 5):
    """Parameter values (and batches) for n updates, shared by both frameworks."""
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (4,), (4,), (4,), (2, 4), (2,)]
    return [([rng.standard_normal(s) for s in shapes], rng.standard_normal((6, 3))) for _ in range(n)]


def _set(lib, model, arrays, batch, dtype):
    with lib.no_grad():
        for p, a in zip(model.parameters(), arrays):
            p.copy_(lib.tensor(a.astype(dtype)))
    model.train()
    model(lib.tensor(batch.astype(dtype)))  # moves BatchNorm's running statistics


def _run(lib, swa_utils, kind: str, use_buffers: bool):
    model = _model(lib).double()
    fns = {
        "swa": {},
        "ema": {"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.8)},
        "ema_avg_fn": {"avg_fn": swa_utils.get_ema_avg_fn(0.8)},
        "swa_avg_fn": {"avg_fn": swa_utils.get_swa_avg_fn()},
    }
    averaged = swa_utils.AveragedModel(model, use_buffers=use_buffers, **fns[kind])
    for arrays, batch in _snapshots():
        _set(lib, model, arrays, batch, np.float64)
        averaged.update_parameters(model)
    tensors = list(averaged.module.parameters()) + list(averaged.module.buffers())
    out = averaged(lib.tensor(np.ones((2, 3))))
    return [np.array(t.detach().numpy()) for t in tensors], int(averaged.n_averaged), out.detach().numpy()


@requires_torch
@pytest.mark.parametrize("kind", ["swa", "ema", "ema_avg_fn", "swa_avg_fn"])
@pytest.mark.parametrize("use_buffers", [False, True])
def test_matches_torch(kind, use_buffers):
    import torch
    import torch.optim.swa_utils as torch_swa

    import deepgrad.optim.swa_utils as dg_swa

    ours, n_ours, out_ours = _run(dg, dg_swa, kind, use_buffers)
    theirs, n_theirs, out_theirs = _run(torch, torch_swa, kind, use_buffers)
    assert n_ours == n_theirs == 5
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out_ours, out_theirs, rtol=1e-10)


def test_swa_is_the_mean_and_ema_the_recursion():
    snaps = _snapshots(4)
    model = _model(dg).double()
    swa = AveragedModel(model)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.75))
    for arrays, batch in snaps:
        _set(dg, model, arrays, batch, np.float64)
        swa.update_parameters(model)
        ema.update_parameters(model)
    for i, (p_swa, p_ema) in enumerate(zip(swa.module.parameters(), ema.module.parameters())):
        values = [s[0][i] for s in snaps]
        np.testing.assert_allclose(p_swa.array, np.mean(values, axis=0), rtol=1e-13)
        expected = values[0]
        for v in values[1:]:
            expected = 0.75 * expected + 0.25 * v
        np.testing.assert_allclose(p_ema.array, expected, rtol=1e-13)
    # without use_buffers the buffers are the model's latest
    for b_avg, b_model in zip(swa.module.buffers(), model.buffers()):
        np.testing.assert_array_equal(b_avg.array, b_model.array)
    assert int(swa.n_averaged) == 4
    assert "n_averaged" in dict(swa.named_buffers())


def test_single_tensor_avg_fns():
    a, b = dg.tensor([1.0, 2.0]), dg.tensor([3.0, 6.0])
    np.testing.assert_allclose(get_ema_avg_fn(0.5)(a, b, 1).array, [2.0, 4.0])
    np.testing.assert_allclose(get_swa_avg_fn()(a, b, dg.tensor(3)).array, [1.5, 3.0])
    avg, cur = [dg.tensor([0.0, 4.0])], [dg.tensor([4.0, 0.0])]
    get_swa_multi_avg_fn()(avg, cur, 1)
    np.testing.assert_allclose(avg[0].array, [2.0, 2.0])


def test_averaged_copy_is_independent_and_errors():
    model = _model(dg)
    averaged = AveragedModel(model)
    assert averaged.module is not model
    first = next(averaged.module.parameters())
    assert first is not next(model.parameters())
    with pytest.raises(ValueError, match="not both"):
        AveragedModel(model, avg_fn=get_swa_avg_fn(), multi_avg_fn=get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="decay"):
        get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match="shape mismatch"):
        AveragedModel(nn.Linear(3, 4)).update_parameters(nn.Linear(4, 3))


def _bn_run(lib, swa_utils):
    model = _model(lib).double()
    arrays, batch = _snapshots(1)[0]
    _set(lib, model, arrays, batch, np.float64)
    rng = np.random.default_rng(5)
    loader = [(lib.tensor(rng.standard_normal((8, 3))), 0) for _ in range(4)]
    model.eval()
    swa_utils.update_bn(loader, model)
    bn = model[1]
    return model.training, bn.momentum, bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()


def test_update_bn_uses_the_cumulative_average():
    import deepgrad.optim.swa_utils as dg_swa

    training, momentum, mean, var = _bn_run(dg, dg_swa)
    assert training is False and momentum == 0.1
    model = _model(dg).double()
    arrays, batch = _snapshots(1)[0]
    _set(dg, model, arrays, batch, np.float64)
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((8, 3)) for _ in range(4)]
    with dg.no_grad():
        h = [model[0](dg.tensor(x)).array for x in xs]
    np.testing.assert_allclose(mean, np.mean([x.mean(0) for x in h], axis=0), rtol=1e-10)
    np.testing.assert_allclose(var, np.mean([x.var(0, ddof=1) for x in h], axis=0), rtol=1e-10)


@requires_torch
def test_update_bn_and_swalr_match_torch():
    import torch
    import torch.optim.swa_utils as torch_swa

    import deepgrad.optim.swa_utils as dg_swa

    ours, theirs = _bn_run(dg, dg_swa), _bn_run(torch, torch_swa)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-10)
    np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-10)

    def lrs(lib, swa_utils, **kwargs):
        opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.5)
        s = swa_utils.SWALR(opt, swa_lr=0.05, **kwargs)
        out = [s.get_last_lr()]
        for _ in range(8):
            opt.step()
            s.step()
            out.append(s.get_last_lr())
        return out

    for kwargs in (dict(anneal_epochs=4), dict(anneal_epochs=3, anneal_strategy="linear"),
                   dict(anneal_epochs=0)):
        assert lrs(dg, dg_swa, **kwargs) == lrs(torch, torch_swa, **kwargs)


def test_swalr_reaches_the_swa_lr():
    opt = SGD([dg.zeros(1, requires_grad=True)], lr=0.5)
    s = SWALR(opt, swa_lr=0.05, anneal_epochs=3, anneal_strategy="linear")
    for _ in range(5):
        opt.step()
        s.step()
    assert s.get_last_lr()[0] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="anneal_strategy"):
        SWALR(opt, swa_lr=0.05, anneal_strategy="exp")

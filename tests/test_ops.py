"""Every op declared with ``declare(OpCase(...))`` is checked here, four ways:

1. forward against its NumPy reference,
2. gradcheck (backward against finite differences, float64),
3. gradgradcheck (the backward of backward, for ``create_graph=True``),
4. forward values and gradients against PyTorch's, when PyTorch is installed.
"""

from __future__ import annotations

import importlib
import zlib

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.ops._registry import CASES, OpCase

from helpers import flatten_outputs, requires_torch, to_numpy

# Packages outside deepgrad.ops that declare cases of their own.
for _extra in ("deepgrad.nn.functional",):
    if importlib.util.find_spec(_extra.rsplit(".", 1)[0]) is not None:
        importlib.import_module(_extra)


def make_arrays(case: OpCase) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    arrays = []
    for spec in case.specs:
        if spec.kind == "float":
            arrays.append(rng.uniform(spec.low, spec.high, spec.shape))
        elif spec.kind == "int":
            arrays.append(rng.integers(int(spec.low), int(spec.high), spec.shape, dtype=np.int64))
        elif spec.kind == "bool":
            arrays.append(rng.random(spec.shape) < 0.5)
        else:
            raise ValueError(f"{case.id}: unknown argument kind {spec.kind!r}")
    return arrays


def deepgrad_inputs(case: OpCase, arrays: list, requires_grad: bool = True) -> list:
    return [
        dg.Tensor(a.copy(), requires_grad=requires_grad and spec.kind == "float")
        for a, spec in zip(arrays, case.specs)
    ]


def ids(cases):
    return [c.id for c in cases]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_matches_numpy(case: OpCase) -> None:
    if case.ref is None:
        pytest.skip(f"{case.id} declares no NumPy reference")
    arrays = make_arrays(case)
    got = [to_numpy(o) for o in flatten_outputs(case.fn(*deepgrad_inputs(case, arrays, False)))]
    want = [np.asarray(w) for w in flatten_outputs(case.ref(*[a.copy() for a in arrays]))]
    assert len(got) == len(want), f"{case.id}: {len(got)} outputs, reference has {len(want)}"
    for g, w in zip(got, want):
        assert g.shape == w.shape, f"{case.id}: shape {g.shape}, reference {w.shape}"
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8, err_msg=case.id)


GRAD_CASES = [c for c in CASES if c.grad]
GRADGRAD_CASES = [c for c in GRAD_CASES if c.gradgrad]


@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_gradcheck(case: OpCase) -> None:
    inputs = deepgrad_inputs(case, make_arrays(case))
    assert gradcheck(case.fn, inputs, atol=case.atol, rtol=case.rtol)


@pytest.mark.parametrize("case", GRADGRAD_CASES, ids=ids(GRADGRAD_CASES))
def test_gradgradcheck(case: OpCase) -> None:
    inputs = deepgrad_inputs(case, make_arrays(case))
    assert gradgradcheck(case.fn, inputs, atol=case.atol, rtol=case.rtol)


TORCH_CASES = [c for c in CASES if c.torch]


@requires_torch
@pytest.mark.parametrize("case", TORCH_CASES, ids=ids(TORCH_CASES))
def test_against_torch(case: OpCase) -> None:
    import torch

    arrays = make_arrays(case)
    ours_in = deepgrad_inputs(case, arrays, case.grad)
    theirs_in = [
        torch.tensor(a, requires_grad=case.grad and spec.kind == "float")
        for a, spec in zip(arrays, case.specs)
    ]
    ours = flatten_outputs(case.fn(*ours_in))
    theirs = flatten_outputs((case.torch_fn or case.fn)(*theirs_in))
    assert len(ours) == len(theirs), f"{case.id}: {len(ours)} outputs, PyTorch gives {len(theirs)}"
    for o, t in zip(ours, theirs):
        o_np, t_np = to_numpy(o), to_numpy(t)
        assert o_np.shape == t_np.shape, f"{case.id}: shape {o_np.shape}, PyTorch {t_np.shape}"
        assert o_np.dtype == t_np.dtype, f"{case.id}: dtype {o_np.dtype}, PyTorch {t_np.dtype}"
        np.testing.assert_allclose(o_np, t_np, rtol=1e-6, atol=1e-8, err_msg=case.id)
    if not case.grad:
        return
    rng = np.random.default_rng(1)
    pairs = [(o, t) for o, t in zip(ours, theirs) if getattr(t, "requires_grad", False)]
    weights = [rng.standard_normal(to_numpy(t).shape) for _, t in pairs]
    our_loss = sum((o * dg.tensor(w)).sum() for (o, _), w in zip(pairs, weights))
    their_loss = sum((t * torch.tensor(w)).sum() for (_, t), w in zip(pairs, weights))
    our_loss.backward()
    their_loss.backward()
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        if t.grad is None:
            assert o.grad is None or not np.any(to_numpy(o.grad)), f"{case.id}: input {i}"
            continue
        assert o.grad is not None, f"{case.id}: no gradient for input {i}; PyTorch has one"
        np.testing.assert_allclose(to_numpy(o.grad), to_numpy(t.grad), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{case.id}: gradient of input {i}")



# Where PyTorch's graph of the backward pass differs from ours in which gradients it records,
# with the reason; every other case must agree.
CREATE_GRAPH_DIFFERENCES = {
    "prod[0d]": "PyTorch's prod of a 0-d tensor passes the gradient through unrecorded",
    "batch_norm[eval]": "ours is composite in eval mode, so the bias gradient is a plain sum",
}


TORCH_GRAD_CASES = [c for c in TORCH_CASES if c.grad]


@requires_torch
@pytest.mark.parametrize("case", TORCH_GRAD_CASES, ids=ids(TORCH_GRAD_CASES))
def test_create_graph_records_what_torch_records(case: OpCase) -> None:
    """With create_graph=True a gradient is itself differentiable exactly where PyTorch's is,
    even when its derivative is zero everywhere (ReLU's mask, a pool's choice, a conv's bias):
    differentiating it again then gives zeros rather than a 'does not require grad' error."""
    import torch

    if case.id in CREATE_GRAPH_DIFFERENCES:
        pytest.skip(CREATE_GRAPH_DIFFERENCES[case.id])
    arrays = make_arrays(case)
    recorded = []
    for lib in (dg, torch):
        if lib is dg:
            inputs = deepgrad_inputs(case, arrays)
            outputs = flatten_outputs(case.fn(*inputs))
        else:
            inputs = [torch.tensor(a, requires_grad=spec.kind == "float")
                      for a, spec in zip(arrays, case.specs)]
            outputs = flatten_outputs((case.torch_fn or case.fn)(*inputs))
        loss = sum(o.sum() for o in outputs if getattr(o, "requires_grad", False))
        wrt = [t for t in inputs if t.requires_grad]
        grads = lib.autograd.grad(loss, wrt, create_graph=True, allow_unused=True)
        recorded.append([None if g is None else g.requires_grad for g in grads])
    assert recorded[0] == recorded[1], f"{case.id}: ours {recorded[0]}, PyTorch {recorded[1]}"


def test_second_derivative_through_relu_is_zero_not_an_error() -> None:
    x = dg.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    (g,) = dg.autograd.grad(x.relu().sum(), x, create_graph=True)
    (gg,) = dg.autograd.grad(g.sum(), x)
    assert gg.tolist() == [0.0, 0.0, 0.0]

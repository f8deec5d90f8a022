"""Convolution layers: the same state_dict gives PyTorch's outputs and gradients, the default
initialization draws PyTorch's distribution, and mistakes fail with messages naming the layer."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F

from helpers import requires_torch, to_numpy

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.")


def compare_with_torch(ours, theirs, *shapes, seed=0, forward_kwargs=None, atol=1e-10,
                       train=True):
    """Give ``ours`` the state of ``theirs`` (float64, parameters randomized) and compare
    outputs, input gradients, parameter gradients, and buffers after the forward."""
    import torch

    forward_kwargs = forward_kwargs or {}
    rng = np.random.default_rng(seed)
    theirs = theirs.double().train(train)
    ours = ours.double().train(train)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.uniform(-1.5, 1.5, tuple(p.shape))))
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    arrays = [rng.standard_normal(s) for s in shapes]
    our_in = [dg.tensor(a, requires_grad=True) for a in arrays]
    their_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    our_out, their_out = ours(*our_in, **forward_kwargs), theirs(*their_in, **forward_kwargs)
    assert tuple(our_out.shape) == tuple(their_out.shape)
    np.testing.assert_allclose(to_numpy(our_out), to_numpy(their_out), rtol=1e-9, atol=atol)
    weight = rng.standard_normal(tuple(their_out.shape))
    (our_out * dg.tensor(weight)).sum().backward()
    (their_out * torch.tensor(weight)).sum().backward()
    for o, t in zip(our_in, their_in):
        np.testing.assert_allclose(to_numpy(o.grad), to_numpy(t.grad), rtol=1e-9, atol=atol)
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(to_numpy(p.grad), to_numpy(their_params[name].grad),
                                   rtol=1e-9, atol=atol, err_msg=name)
    their_buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(to_numpy(b), to_numpy(their_buffers[name]), rtol=1e-9,
                                   atol=atol, err_msg=name)
    return our_out


CONV_CONFIGS = [
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 9)),
    ("Conv1d", (4, 6, 4), dict(padding="same", dilation=2, groups=2), (2, 4, 7)),
    ("Conv1d", (2, 3, 2), dict(bias=False), (2, 5)),
    ("Conv2d", (3, 6, 5), dict(padding=2), (2, 3, 8, 8)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
     (2, 4, 7, 6)),
    ("Conv2d", (2, 3, 4), dict(padding="same", bias=False), (1, 2, 6, 5)),
    ("Conv2d", (2, 3, 3), dict(padding="valid", stride=3), (2, 6, 7)),
    ("Conv2d", (2, 2, 3), dict(padding=(2, 1), padding_mode="reflect"), (2, 2, 5, 4)),
    ("Conv2d", (2, 2, 3), dict(padding=1, padding_mode="replicate", stride=2), (1, 2, 5, 5)),
    ("Conv2d", (2, 2, 3), dict(padding="same", padding_mode="circular"), (1, 2, 4, 5)),
    ("ConvTranspose1d", (3, 2, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 5)),
    ("ConvTranspose2d", (4, 2, 3), dict(stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 3, 4)),
    ("ConvTranspose2d", (2, 3, (2, 3)), dict(stride=(1, 2), dilation=(2, 1), bias=False),
     (2, 3, 3)),
]


@requires_torch
@pytest.mark.parametrize("name,args,kwargs,shape", CONV_CONFIGS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CONV_CONFIGS)])
def test_conv_modules_match_torch(name, args, kwargs, shape):
    import torch

    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    compare_with_torch(ours, theirs, shape)
    assert repr(ours) == repr(theirs)


@requires_torch
def test_conv_transpose_output_size_matches_torch():
    import torch

    ours = nn.ConvTranspose2d(2, 3, 3, stride=2)
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2)
    out = compare_with_torch(ours, theirs, (1, 2, 4, 4), forward_kwargs={"output_size": (10, 9)})
    assert out.shape == (1, 3, 10, 9)


@requires_torch
def test_float32_matches_torch_on_a_lenet_sized_layer():
    """float32 end to end, with the geometry of LeNet's second convolution."""
    import torch

    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 6, 14, 14)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    ours = [dg.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y, ty = F.conv2d(*ours), torch.nn.functional.conv2d(*theirs)
    assert y.dtype == dg.float32
    np.testing.assert_allclose(to_numpy(y), to_numpy(ty), rtol=1e-4, atol=1e-4)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    y.backward(dg.tensor(g))
    ty.backward(torch.tensor(g))
    for o, t in zip(ours, theirs):
        assert o.grad.dtype == dg.float32
        np.testing.assert_allclose(to_numpy(o.grad), to_numpy(t.grad), rtol=1e-4, atol=2e-3)


def test_conv2d_matches_a_direct_sum():
    """Without PyTorch: one output element of a strided, dilated, grouped convolution."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2))
    y = to_numpy(F.conv2d(dg.tensor(x), dg.tensor(w), stride=(2, 1), padding=1, dilation=(1, 2),
                          groups=2))
    xp_ = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, o, i, j = 1, 4, 2, 3  # output channel 4 is in group 1 (input channels 2, 3)
    want = sum(xp_[n, 2 + c, i * 2 + a, j + 2 * b] * w[o, c, a, b]
               for c in range(2) for a in range(3) for b in range(2))
    assert y.shape == (2, 6, 5, 8)
    assert y[n, o, i, j] == pytest.approx(want)


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x, w), g> == <x, conv_transpose(g, w)> for matching geometry."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3))
    y = F.conv2d(dg.tensor(x), dg.tensor(w), stride=2, padding=1, groups=2)
    g = rng.standard_normal(y.shape)
    back = F.conv_transpose2d(dg.tensor(g), dg.tensor(w), stride=2, padding=1, groups=2,
                              output_padding=(0, 1))
    assert back.shape == x.shape
    assert np.sum(to_numpy(y) * g) == pytest.approx(np.sum(x * to_numpy(back)))


def test_default_init_draws_pytorchs_distribution():
    dg.manual_seed(0)
    layer = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)
    for p in (layer.weight, layer.bias):
        values = to_numpy(p)
        assert values.dtype == np.float32
        assert np.abs(values).max() <= bound
    w = to_numpy(layer.weight)
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert to_numpy(nn.ConvTranspose2d(4, 6, 3, groups=2).weight).shape == (4, 3, 3, 3)


def test_wrong_channels_names_the_layer_and_its_path():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU())

        def forward(self, x):
            return self.features(x)

    with pytest.raises(RuntimeError) as error:
        Net()(dg.zeros(8, 1, 28, 28))
    message = str(error.value)
    assert message.startswith(
        "Conv2d 'features.0' (in_channels=3) got input of shape (8, 1, 28, 28)")
    assert "expected 3 channels in dimension 1" in message and "in_channels=1" in message


def test_wrong_rank_and_too_small_inputs():
    with pytest.raises(RuntimeError, match=r"Conv2d \(in_channels=1\) got input of shape "
                                           r"\(28, 28\): expected a 4-d input"):
        nn.Conv2d(1, 2, 3)(dg.zeros(28, 28))
    with pytest.raises(RuntimeError, match=r"Conv1d .*got input of shape \(1, 2, 2\).*too small"):
        nn.Conv1d(2, 2, 3)(dg.zeros(1, 2, 2))
    with pytest.raises(RuntimeError,
                       match="dtype deepgrad.float64 but its weights are deepgrad.float32"):
        nn.Conv2d(1, 2, 3)(dg.zeros(1, 1, 5, 5, dtype=dg.float64))
    with pytest.raises(ValueError, match=r"conv2d: expected input with 4 channels"):
        F.conv2d(dg.zeros(1, 3, 5, 5), dg.zeros(2, 2, 3, 3), groups=2)


@pytest.mark.parametrize("kwargs,match", [
    (dict(in_channels=-1, out_channels=2, kernel_size=3), "in_channels must be at least 1"),
    (dict(in_channels=4, out_channels=6, kernel_size=3, groups=4),
     "out_channels=6 must be divisible"),
    (dict(in_channels=2, out_channels=2, kernel_size=0), "kernel_size must be at least 1"),
    (dict(in_channels=2, out_channels=2, kernel_size=3, padding=-1), "padding must be at least 0"),
    (dict(in_channels=2, out_channels=2, kernel_size=3, padding="full"), "padding must be"),
    (dict(in_channels=2, out_channels=2, kernel_size=3, padding="same", stride=2),
     "not supported for strided"),
    (dict(in_channels=2, out_channels=2, kernel_size=3, padding_mode="mirror"), "padding_mode"),
])
def test_invalid_constructor_arguments_fail_at_construction(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        nn.Conv2d(**kwargs)


def test_conv_transpose_rejects_large_output_padding():
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)


def test_blocked_matrix_products_keep_gradients_exact(monkeypatch):
    """The products are cut into blocks of output rows for large inputs; force tiny blocks
    so that gradcheck and gradgradcheck run through that path."""
    from deepgrad.autograd import gradcheck, gradgradcheck
    from deepgrad.nn.functional import _im2col

    monkeypatch.setattr(_im2col, "_BLOCK_COLUMNS", 8)
    rng = np.random.default_rng(3)
    x, w, b = (dg.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((2, 2, 5, 4), (3, 2, 3, 3), (3,)))
    assert _im2col.row_blocks(_im2col.Geometry((5, 4), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1),
                                               (5, 4)), 2, 1) == 5
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b))
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b))
    g = dg.tensor(rng.standard_normal((2, 3, 3, 2)), requires_grad=True)
    wt = dg.tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    assert gradgradcheck(lambda g, w: F.conv_transpose2d(g, w, stride=2, padding=1), (g, wt))


@requires_torch
def test_large_inputs_match_torch():
    """Big enough for blocked products, with padding, stride, and a transposed convolution."""
    import torch

    compare_with_torch(nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(3, 4, 3, padding=1),
                       (8, 3, 20, 20), atol=1e-9)
    compare_with_torch(nn.ConvTranspose2d(3, 2, 3, stride=2), torch.nn.ConvTranspose2d(3, 2, 3, 2),
                       (8, 3, 18, 17), atol=1e-9)

"""The Module API: registration, traversal, state_dict, modes, hooks, dtype, copying,
containers and reprs, with PyTorch's behaviour (compared directly when torch is installed)."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from helpers import requires_torch


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.register_buffer("steps", dg.zeros(()))
        self.register_buffer("cache", dg.ones(2), persistent=False)

    def forward(self, x):
        return self.act(self.fc(x))


def build(nn, lib):
    """The same nested architecture in either framework."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(OrderedDict(
                fc1=nn.Linear(6, 5), act=nn.Tanh(), drop=nn.Dropout(0.1), fc2=nn.Linear(5, 4)))
            self.heads = nn.ModuleList([nn.Linear(4, 2), nn.Linear(4, 2), nn.Linear(4, 3)])
            self.extra = nn.ModuleDict({"prelu": nn.PReLU(4), "emb": nn.Embedding(7, 4, padding_idx=0)})
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4, 10), nn.ReLU(), nn.Dropout())
            self.scale = nn.Parameter(lib.ones(3))
            self.register_buffer("running", lib.zeros(4))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)

        def forward(self, x):
            return self.classifier(self.extra["prelu"](self.features(x)))

    return Net()


# --- registration and traversal ------------------------------------------------------------
def test_attribute_assignment_registers_parameters_buffers_and_modules() -> None:
    b = Block()
    assert [n for n, _ in b.named_parameters()] == ["fc.weight", "fc.bias"]
    assert [n for n, _ in b.named_buffers()] == ["steps", "cache"]
    assert [n for n, _ in b.named_children()] == ["fc", "act"]
    assert [n for n, _ in b.named_modules()] == ["", "fc", "act"]
    assert list(b.state_dict()) == ["steps", "fc.weight", "fc.bias"]  # own entries first
    assert b.fc.weight is b._modules["fc"]._parameters["weight"]
    assert isinstance(b.fc.weight, nn.Parameter) and b.fc.weight.requires_grad
    assert [n for n, _ in b.named_parameters(prefix="model")] == ["model.fc.weight", "model.fc.bias"]
    assert list(b.named_parameters(recurse=False)) == []


def test_reassignment_moves_between_registries() -> None:
    m = nn.Module()
    m.w = nn.Parameter(dg.ones(2))
    m.w = None  # a registered parameter may be set to None
    assert "w" in m._parameters and m.w is None
    with pytest.raises(TypeError, match="cannot assign 'deepgrad.Tensor' as parameter 'w'"):
        m.w = dg.ones(2)
    m.sub = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="child module 'sub'"):
        m.sub = dg.ones(1)
    m.register_buffer("buf", dg.zeros(1))
    m.buf = dg.ones(3)
    assert m._buffers["buf"].shape == (3,)
    del m.buf, m.sub, m.w
    assert not m._buffers and not m._modules and not m._parameters
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'missing'"):
        _ = m.missing
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__


def test_registration_errors() -> None:
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", dg.zeros(1))
    with pytest.raises(KeyError, match="empty string"):
        m.register_parameter("", None)
    m.x = 1
    with pytest.raises(KeyError, match="attribute 'x' already exists"):
        m.register_buffer("x", dg.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("y", object())
    with pytest.raises(TypeError, match="Parameter or None required"):
        m.register_parameter("z", dg.zeros(1))
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("z", _nonleaf_parameter())

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(dg.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def _nonleaf_parameter() -> nn.Parameter:
    p = nn.Parameter(dg.ones(2))
    p.grad_fn = (dg.ones(2, requires_grad=True) * 2).grad_fn
    return p


def test_shared_modules_and_parameters_are_listed_once() -> None:
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.named_modules(remove_duplicate=False))) == 4
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_get_submodule_parameter_buffer() -> None:
    net = build(nn, dg)
    assert net.get_submodule("features.fc2") is net.features.fc2
    assert net.get_parameter("heads.2.bias") is net.heads[2].bias
    assert net.get_buffer("running") is net.running
    with pytest.raises(AttributeError, match="has no submodule `nope`"):
        net.get_submodule("features.nope")


# --- state_dict ------------------------------------------------------------------------------
@requires_torch
def test_state_dict_keys_and_module_names_match_torch() -> None:
    import torch

    ours, theirs = build(nn, dg), build(torch.nn, torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert repr(ours) == repr(theirs)
    for (_, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert tuple(a.shape) == tuple(b.shape)


@requires_torch
def test_torch_weights_load_and_give_the_same_outputs() -> None:
    import torch

    theirs = build(torch.nn, torch).eval()
    ours = build(nn, dg).eval()
    result = ours.load_state_dict({k: dg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    assert repr(result) == "<All keys matched successfully>"
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(ours(dg.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_state_dict_shares_storage_and_round_trips() -> None:
    a, b = build(nn, dg), build(nn, dg)
    sd = a.state_dict()
    assert not sd["features.fc1.weight"].requires_grad
    assert sd["features.fc1.weight"].array is a.features.fc1.weight.array
    assert "scratch" not in sd and "running" in sd
    b.load_state_dict(sd)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=k)
    keep = a.state_dict(keep_vars=True)
    assert keep["scale"] is a.scale


def test_load_state_dict_strict_and_non_strict() -> None:
    net = Block()
    sd = dict(net.state_dict())
    del sd["fc.bias"]
    sd["fc.extra"] = dg.zeros(1)
    sd["other.weight"] = dg.zeros(1)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    message = str(info.value)
    assert message.startswith("Error(s) in loading state_dict for Block:")
    assert 'Missing key(s) in state_dict: "fc.bias".' in message
    assert 'Unexpected key(s) in state_dict: "other.weight", "fc.extra".' in message  # torch's order
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc.bias"]
    assert sorted(result.unexpected_keys) == ["fc.extra", "other.weight"]


def test_load_state_dict_shape_mismatch_names_key_and_shapes() -> None:
    net = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight: copying a param with "
                                           r"shape \(3, 5\) from checkpoint, the shape in current "
                                           r"model is \(3, 4\)"):
        net.load_state_dict({"0.weight": dg.zeros(3, 5), "0.bias": dg.zeros(3)}, strict=False)


def test_load_state_dict_copies_in_place_and_accepts_arrays() -> None:
    lin = nn.Linear(2, 2)
    weight = lin.weight
    lin.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    assert lin.weight is weight and lin.weight.dtype is dg.float32
    np.testing.assert_array_equal(lin.weight.detach().numpy(), np.eye(2))
    lin.load_state_dict({"weight": dg.ones(2, 2), "bias": dg.ones(2)}, assign=True)
    assert lin.weight is not weight and isinstance(lin.weight, nn.Parameter)


# --- modes, gradients, dtype --------------------------------------------------------------------
def test_train_eval_propagate_and_change_dropout() -> None:
    net = build(nn, dg)
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    x = dg.randn(4, 10)
    np.testing.assert_array_equal(net.classifier[3](x).numpy(), x.numpy())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_zero_grad_and_requires_grad() -> None:
    lin = nn.Linear(3, 2)
    lin(dg.randn(4, 3)).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is not None and not np.any(lin.weight.grad.numpy())
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None
    lin.requires_grad_(False)
    assert not any(p.requires_grad for p in lin.parameters())
    assert not lin(dg.randn(1, 3)).requires_grad


def test_to_double_float_casts_parameters_buffers_and_grads() -> None:
    net = build(nn, dg)
    net(dg.randn(2, 6)).sum().backward()
    weight = net.features.fc1.weight
    assert net.double() is net
    assert weight is net.features.fc1.weight  # the same Parameter object
    assert all(p.dtype is dg.float64 for p in net.parameters())
    assert all(b.dtype is dg.float64 for b in net.buffers())
    assert weight.grad.dtype is dg.float64
    assert net.extra["emb"].weight.dtype is dg.float64
    assert net(dg.randn(2, 6, dtype=dg.float64)).dtype is dg.float64
    net.float()
    assert all(p.dtype is dg.float32 for p in net.parameters())
    net.to(dg.float64)
    assert net.scale.dtype is dg.float64
    net.to("cpu")
    with pytest.raises(TypeError, match="floating point"):
        net.to(dg.int64)


def test_apply_visits_children_first() -> None:
    seen = []
    net = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]

    def reset(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    net.apply(reset)
    assert float(net[0].weight.item()) == 0.5


# --- hooks ----------------------------------------------------------------------------------------
def test_forward_pre_hook_and_forward_hook() -> None:
    lin = nn.Linear(2, 2)
    calls = []
    pre = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = lin.register_forward_hook(lambda m, args, out: calls.append((m, out.shape)) or out + 1)
    out = lin(dg.ones(3, 2))
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(lin.bias.detach().numpy() + 1, (3, 2)))
    assert calls == [(lin, (3, 2))]
    pre.remove()
    post.remove()
    x = dg.ones(1, 2)
    np.testing.assert_allclose(lin(x).detach().numpy(), (x @ lin.weight.t() + lin.bias).detach().numpy())
    assert len(calls) == 1


def test_hooks_with_kwargs_prepend_and_single_returns() -> None:
    order = []
    m = nn.Identity()
    m.register_forward_hook(lambda mod, args, out: order.append("second"))
    m.register_forward_hook(lambda mod, args, out: order.append("first"), prepend=True)
    m.register_forward_pre_hook(lambda mod, args: args[0] * 2)  # a single value is wrapped
    m.register_forward_pre_hook(lambda mod, args, kwargs: ((args[0] + 1,), kwargs), with_kwargs=True)
    assert m(dg.tensor(1.0)).item() == 3.0
    assert order == ["first", "second"]
    with nn.Identity().register_forward_hook(lambda *a: None) as handle:
        assert handle is not None


# --- paths, copying, pickling -------------------------------------------------------------------------
def test_every_module_knows_its_path() -> None:
    net = build(nn, dg)
    assert net.classifier[1]._path == "classifier.1"
    assert net.classifier[1]._describe() == "Linear 'classifier.1'"
    assert net.extra["emb"]._describe() == "Embedding 'extra.emb'"
    assert net._path == "" and net._describe() == "Net"
    assert nn.Linear(1, 1)._describe() == "Linear"
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    tanh = seq[1]
    del seq[0]
    assert tanh._path == "0"  # renumbered, as PyTorch's Sequential does
    removed = seq.pop(0)
    assert removed._path == ""


def test_paths_with_shared_modules_and_slices() -> None:
    import gc

    net = build(nn, dg)
    head = net.classifier[1:]  # a slice shares the layers
    assert net.classifier[1]._path == "1"  # named from the latest holder (keys are kept)
    del head
    gc.collect()
    assert net.classifier[1]._path == "classifier.1"
    wrapper = nn.Sequential(OrderedDict(backbone=net.features))
    assert net.features.fc1._path == "backbone.fc1"
    del wrapper.backbone
    assert net.features.fc1._path == "features.fc1"


def test_deepcopy_is_independent_and_keeps_paths() -> None:
    net = build(nn, dg)
    clone = copy.deepcopy(net)
    assert clone.features.fc1.weight is not net.features.fc1.weight
    np.testing.assert_array_equal(clone.features.fc1.weight.detach().numpy(),
                                  net.features.fc1.weight.detach().numpy())
    assert isinstance(clone.scale, nn.Parameter) and clone.scale.requires_grad
    assert clone.classifier[1]._path == "classifier.1"
    part = copy.deepcopy(net.classifier)
    assert part[1]._path == "1"  # a copied submodule is a root of its own
    with dg.no_grad():
        clone.features.fc1.weight.add_(1.0)
    assert not np.allclose(clone.features.fc1.weight.detach().numpy(),
                           net.features.fc1.weight.detach().numpy())


def test_pickle_round_trip() -> None:
    seq = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Sequential(nn.Linear(2, 2)))
    back = pickle.loads(pickle.dumps(seq))
    assert repr(back) == repr(seq)
    assert back[2][0]._path == "2.0"
    x = dg.randn(4, 3)
    np.testing.assert_allclose(back(x).detach().numpy(), seq(x).detach().numpy())


# --- containers --------------------------------------------------------------------------------------------
def test_sequential_indexing_slicing_and_editing() -> None:
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert list(seq[::-1]) == [c, b, a]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and [k for k, _ in seq.named_children()] == ["0", "1", "2", "3"]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[1]
    assert [k for k in seq._modules] == ["0", "1", "2"] and seq[1] is c
    seq.insert(1, nn.ReLU())
    assert isinstance(seq[1], nn.ReLU) and seq[2] is c
    named = nn.Sequential(OrderedDict(first=a, second=b))
    assert named.first is a and list(named.state_dict()) == ["first.weight", "first.bias"]
    both = named + nn.Sequential(c)
    assert len(both) == 3
    y = nn.Sequential(a, b, c)(dg.randn(5, 2))
    assert y.shape == (5, 1)
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.Linear(1, 1), dg.relu)


def test_module_list_and_dict() -> None:
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    assert len(layers) == 5 and isinstance(layers[-1], nn.Tanh)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    assert len(list(layers.parameters())) == 6
    layers.insert(0, nn.Sigmoid())
    assert isinstance(layers[0], nn.Sigmoid) and layers[1]._path == "1"
    del layers[0]
    assert isinstance(layers[0], nn.Linear)
    with pytest.raises(NotImplementedError):
        layers(dg.ones(1))
    d = nn.ModuleDict({"a": nn.Linear(1, 1)})
    d["b"] = nn.ReLU()
    d.update([("c", nn.Tanh())])
    assert list(d) == ["a", "b", "c"] and "b" in d and len(d) == 3
    assert list(d.keys()) == ["a", "b", "c"]
    assert isinstance(d.pop("b"), nn.ReLU) and "b" not in d
    assert list(d.state_dict()) == ["a.weight", "a.bias"]


def test_parameter_list_and_dict() -> None:
    plist = nn.ParameterList([nn.Parameter(dg.ones(2)), dg.zeros(3)])
    assert isinstance(plist[1], nn.Parameter) and plist[1].requires_grad
    plist.append(nn.Parameter(dg.ones(1)))
    assert len(plist) == 3 and len(list(plist.parameters())) == 3
    assert list(plist.state_dict()) == ["0", "1", "2"]
    assert repr(plist).startswith(
        "ParameterList(\n    (0): Parameter containing: [deepgrad.float32 of size 2]\n    (1): ")
    pdict = nn.ParameterDict({"w": dg.ones(2)})
    pdict["b"] = nn.Parameter(dg.zeros(1))
    assert list(pdict.keys()) == ["w", "b"] and isinstance(pdict["w"], nn.Parameter)
    assert [n for n, _ in pdict.named_parameters()] == ["w", "b"]


@requires_torch
def test_container_reprs_match_torch() -> None:
    import torch

    def make(nn):
        return nn.Sequential(
            nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.5),
            nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)]),
            nn.ModuleDict({"out": nn.Linear(256, 10), "act": nn.LogSoftmax(dim=1)}),
            nn.Sequential(), nn.ModuleList(),
        )

    assert repr(make(nn)) == repr(make(torch.nn))


def test_parameter_basics() -> None:
    p = nn.Parameter(dg.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert p.is_leaf and p.requires_grad
    frozen = nn.Parameter(dg.ones(2), requires_grad=False)
    assert not frozen.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(dg.tensor([1, 2]))
    source = dg.ones(3)
    assert nn.Parameter(source).array is source.array  # shares storage, as PyTorch
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [2.0, 4.0])
    clone = copy.deepcopy(p)
    assert isinstance(clone, nn.Parameter) and clone.grad is not p.grad
    assert isinstance(pickle.loads(pickle.dumps(p)), nn.Parameter)


def test_forward_must_be_defined() -> None:
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(dg.ones(1))

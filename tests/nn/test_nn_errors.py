"""Error messages of the layers: which layer (by its path in the model), what it expected,
what it got, and the likely fix; bad constructor arguments fail at construction."""

from __future__ import annotations

from collections import OrderedDict

import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(10, 10), nn.ReLU())
        self.classifier = nn.Sequential(nn.Linear(784, 10))

    def forward(self, x):
        return self.classifier(x)


def test_linear_inside_a_model_names_its_path_and_suggests_flatten() -> None:
    message = ("Linear 'classifier.0' (in_features=784) got input of shape (128, 1, 28, 28): its "
               "last dimension is 28, expected 784; add nn.Flatten() before it?")
    with pytest.raises(RuntimeError) as info:
        Net()(dg.zeros(128, 1, 28, 28))
    assert str(info.value) == message


def test_linear_path_in_nested_containers() -> None:
    model = nn.Sequential(OrderedDict(
        body=nn.Sequential(nn.Linear(8, 16), nn.ReLU()),
        head=nn.ModuleList([nn.Linear(32, 2)]),
    ))
    x = model.body(dg.zeros(4, 8))
    with pytest.raises(RuntimeError, match=r"^Linear 'head\.0' \(in_features=32\) got input of shape "
                                           r"\(4, 16\): its last dimension is 16, expected 32; the "
                                           r"layer before it gives 16 features: make in_features=16"):
        model.head[0](x)


def test_standalone_linear_and_flatten_mismatch() -> None:
    with pytest.raises(RuntimeError, match=r"^Linear \(in_features=10\) got input of shape \(2, 3, 4\): "
                                           r"its last dimension is 4, expected 10; flatten it first "
                                           r"\(nn.Flatten\(\) gives 12 features per sample\)"):
        nn.Linear(10, 2)(dg.zeros(2, 3, 4))


def test_linear_dtype_mismatch_says_which_conversion() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match=r"Linear '0' got input of dtype deepgrad.float64 but its "
                                           r"weights are deepgrad.float32"):
        model(dg.zeros(1, 3, dtype=dg.float64))
    with pytest.raises(TypeError, match="expected a Tensor input, got list"):
        model([[1.0, 2.0, 3.0]])


def test_functional_linear_errors() -> None:
    with pytest.raises(RuntimeError, match=r"linear: input of shape \(2, 5\) has last dimension 5, "
                                           r"but the weight of shape \(3, 4\) expects 4 features"):
        F.linear(dg.zeros(2, 5), dg.zeros(3, 4))
    with pytest.raises(RuntimeError, match=r"bias must have shape \(3,\)"):
        F.linear(dg.zeros(2, 4), dg.zeros(3, 4), dg.zeros(4))


def test_embedding_errors_name_the_layer() -> None:
    model = nn.Sequential(OrderedDict(embed=nn.Embedding(100, 8)))
    with pytest.raises(IndexError, match=r"Embedding 'embed' \(100, 8\) got input of shape \(2,\): "
                                         r"embedding: index 100 is out of range for a table of 100 "
                                         r"embeddings \(valid: 0..99\)"):
        model(dg.tensor([3, 100]))
    with pytest.raises(TypeError, match=r"Embedding 'embed'.*indices must be an integer tensor.*\.long\(\)"):
        model(dg.tensor([1.0, 2.0]))


def test_prelu_channel_mismatch() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.PReLU(8))
    with pytest.raises(RuntimeError, match=r"PReLU '1' \(num_parameters=8\) got input of shape \(2, 4\): "
                                           r"its dimension 1 \(channels\) is 4, expected 8"):
        model(dg.zeros(2, 4))


def test_flatten_and_unflatten_errors() -> None:
    with pytest.raises(RuntimeError, match=r"Flatten \(start_dim=1, end_dim=-1\) got input of shape \(3,\): "
                                           r"dimension 1 is out of range for a 1-d input"):
        nn.Flatten()(dg.zeros(3))
    with pytest.raises(RuntimeError, match=r"Unflatten '0' \(dim=1, unflattened_size=\(2, 4\)\) got input "
                                           r"of shape \(3, 6\): dimension 1 has size 6"):
        nn.Sequential(nn.Unflatten(1, (2, 4)))(dg.zeros(3, 6))


def test_dropout2d_wrong_rank() -> None:
    with pytest.raises(RuntimeError, match=r"Dropout2d '0' \(p=0.5, inplace=False\) got input of shape "
                                           r"\(2, 3\): expected a 4-d input"):
        nn.Sequential(nn.Dropout2d())(dg.zeros(2, 3))


def test_bilinear_errors() -> None:
    with pytest.raises(RuntimeError, match="the second input's last dimension is 3, expected 4"):
        nn.Bilinear(2, 4, 1)(dg.zeros(5, 2), dg.zeros(5, 3))


@pytest.mark.parametrize("make,error,pattern", [
    (lambda: nn.Linear(-1, 3), ValueError, "Linear: in_features must be at least 0, got -1"),
    (lambda: nn.Linear(3, 2.5), TypeError, "Linear: out_features must be an integer, got 2.5"),
    (lambda: nn.Bilinear(2, -2, 3), ValueError, "Bilinear: in2_features must be at least 0"),
    (lambda: nn.Embedding(10, -1), ValueError, "Embedding: embedding_dim must be at least 0"),
    (lambda: nn.Embedding(10, 3, padding_idx=10), ValueError, "padding_idx must be within num_embeddings"),
    (lambda: nn.Dropout(1.5), ValueError,
     "Dropout: dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: nn.Dropout2d(-0.1), ValueError, "Dropout2d: dropout probability"),
    (lambda: nn.GELU("fast"), ValueError, "approximate must be 'none' or 'tanh', got 'fast'"),
    (lambda: nn.PReLU(0), ValueError, "num_parameters must be a positive integer"),
    (lambda: nn.Hardtanh(1.0, -1.0), ValueError, "min_val .* cannot be greater than max_val"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError, "label_smoothing must be in"),
    (lambda: nn.CrossEntropyLoss(reduction="mean_"), ValueError, "is not a valid value for reduction"),
    (lambda: nn.HuberLoss(delta=0), ValueError, "delta must be positive"),
    (lambda: nn.TripletMarginLoss(margin=0), ValueError, "margin must be greater than 0"),
    (lambda: nn.Unflatten(1, (2, -2)), ValueError, "invalid unflattened_size"),
])
def test_invalid_constructor_arguments(make, error, pattern) -> None:
    with pytest.raises(error, match=pattern):
        make()


def test_functional_argument_errors() -> None:
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.dropout(dg.ones(2), p=2.0)
    with pytest.raises(TypeError, match="gelu: expected a floating point tensor"):
        F.gelu(dg.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="prelu: weight has 3 slopes"):
        F.prelu(dg.zeros(2, 4), dg.zeros(3))
    with pytest.raises(RuntimeError, match=r"dropout2d: expected a 4-d input"):
        F.dropout2d(dg.zeros(2, 3, 4, 5, 6))


def test_inplace_activation_on_a_leaf_is_refused() -> None:
    x = dg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad can't be changed in place"):
        nn.ReLU(inplace=True)(x)

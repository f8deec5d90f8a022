"""The playground's network, built with deepgrad from a :class:`PlaygroundState`.

The model is a ``deepgrad.nn.Sequential`` described by a *layer spec* (a list of
``(class name, args)``), so the export script rebuilds exactly the same model
from the same spec. Hidden layer ``k`` is ``Linear -> [BatchNorm1d] -> activation
-> [Dropout]``; the output is one unit through ``Tanh`` (classification with
squared error, as the TensorFlow Playground), one linear unit (regression) or
two logits (softmax cross-entropy). Weights start as the playground's:
``U(-0.5, 0.5)``, biases ``0.1``, drawn from the state's seed.

Everything over many points is one batched forward: the 100x100 decision map,
every neuron's map (read off the same forward) and the losses.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.backend import xp

from .state import FEATURES, PlaygroundState

__all__ = ["GRID", "THUMB", "feature_matrix", "layer_spec", "PlaygroundNet", "grid_points", "quantize"]

GRID = 100          # the decision map is GRID x GRID over [-6, 6]^2
THUMB = 25          # neuron thumbnails: every 4th row and column of the grid
EXTENT = 6.0
ACTIVATION_MODULES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": "Identity"}
_FEATURE_FUNCS = {
    "x": lambda a, b: a, "y": lambda a, b: b, "xSquared": lambda a, b: a * a,
    "ySquared": lambda a, b: b * b, "xTimesY": lambda a, b: a * b,
    "sinX": lambda a, b: np.sin(a), "sinY": lambda a, b: np.sin(b),
}


def feature_matrix(points: np.ndarray, features: list[str]) -> np.ndarray:
    """``(n, 2)`` points -> ``(n, len(features))`` float32 inputs (X1, X2, X1^2, ...)."""
    a, b = points[:, 0].astype(np.float32), points[:, 1].astype(np.float32)
    return np.stack([_FEATURE_FUNCS[name](a, b) for name in features], axis=1).astype(np.float32)


def grid_points(n: int = GRID) -> np.ndarray:
    """The ``(n*n, 2)`` grid in row-major image order: row 0 is y = +6, column 0 is x = -6."""
    axis = np.linspace(-EXTENT, EXTENT, n, dtype=np.float32)
    gx, gy = np.meshgrid(axis, axis[::-1])
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def quantize(values: np.ndarray) -> str:
    """Values in [-1, 1] (clipped; NaN -> 0) as base64 bytes, 0 -> -1 and 255 -> +1."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return base64.b64encode(np.round((np.clip(v, -1, 1) + 1) * 127.5).astype(np.uint8).tobytes()).decode()


def layer_spec(state: PlaygroundState) -> list[tuple[str, tuple]]:
    """The model as ``(nn class name, constructor args)``, in order."""
    spec: list[tuple[str, tuple]] = []
    width = len(state.features)
    for size in state.networkShape:
        spec.append(("Linear", (width, size)))
        if state.batchNorm:
            spec.append(("BatchNorm1d", (size,)))
        spec.append((ACTIVATION_MODULES[state.activation], ()))
        if state.dropout > 0:
            spec.append(("Dropout", (state.dropout,)))
        width = size
    spec.append(("Linear", (width, 2 if state.softmax else 1)))
    if state.classify and not state.softmax:
        spec.append(("Tanh", ()))
    return spec


def _np(tensor: dg.Tensor) -> np.ndarray:
    return np.asarray(tensor.detach().numpy())


class PlaygroundNet:
    """The model, its optimizer and the playground's training rules for one session."""

    def __init__(self, state: PlaygroundState) -> None:
        self.state = state
        self.spec = layer_spec(state)
        self.model = nn.Sequential(*[getattr(nn, name)(*args) for name, args in self.spec])
        children = list(self.model.children())
        self.linears: list[nn.Linear] = [m for m in children if isinstance(m, nn.Linear)]
        # where each hidden layer's neuron outputs are read: right after its activation
        act_names = set(ACTIVATION_MODULES.values())
        self.taps = [i for i, (name, _) in enumerate(self.spec) if name in act_names][: len(state.networkShape)]
        self.reset_parameters(state.seed)
        self.optimizer = self._make_optimizer()

    # --- parameters ------------------------------------------------------------
    def reset_parameters(self, seed: int) -> None:
        """The playground's initialization: weights ``U(-0.5, 0.5)``, biases 0.1."""
        rng = np.random.default_rng([seed, 7])
        for layer in self.linears:
            layer.weight.array[...] = xp.asarray(rng.uniform(-0.5, 0.5, tuple(layer.weight.shape)), dtype=xp.float32)
            layer.bias.array[...] = 0.1

    def _make_optimizer(self) -> Any:
        params, lr, kind = list(self.model.parameters()), self.state.learningRate, self.state.optimizer
        if kind == "sgd":
            return dg.optim.SGD(params, lr=lr)
        if kind == "momentum":
            return dg.optim.SGD(params, lr=lr, momentum=0.9)
        if kind == "adam":
            return dg.optim.Adam(params, lr=lr)
        return dg.optim.RMSprop(params, lr=lr)

    def update_hyperparameters(self, state: PlaygroundState) -> None:
        """Apply settings that need no new network: learning rate, optimizer, regularization."""
        if state.optimizer != self.state.optimizer:
            self.state = state
            self.optimizer = self._make_optimizer()
        self.state = state
        for group in self.optimizer.param_groups:
            group["lr"] = state.learningRate

    def weights(self) -> list[list[list[float]]]:
        """Each layer's ``(out, in)`` weight matrix as nested lists."""
        return [_np(layer.weight).tolist() for layer in self.linears]

    def biases(self) -> list[list[float]]:
        return [_np(layer.bias).tolist() for layer in self.linears]

    def set_weight(self, layer: int, dst: int, src: int, value: float) -> None:
        self.linears[layer].weight.array[dst, src] = value

    def set_bias(self, layer: int, node: int, value: float) -> None:
        self.linears[layer].bias.array[node] = value

    # --- training --------------------------------------------------------------
    def loss(self, output: dg.Tensor, target: dg.Tensor) -> dg.Tensor:
        """Squared error ``0.5 (out - y)^2`` (the playground's), or softmax cross-entropy."""
        if self.state.softmax:
            return F.cross_entropy(output, target)
        return 0.5 * F.mse_loss(output, target)

    def target(self, labels: np.ndarray) -> dg.Tensor:
        if self.state.softmax:
            return dg.tensor((labels > 0).astype(np.int64))
        return dg.tensor(labels.astype(np.float32)[:, None])

    def train_step(self, inputs: np.ndarray, labels: np.ndarray) -> tuple[float, list[float]]:
        """One optimizer step on a mini-batch; returns the loss and each layer's weight-gradient norm."""
        self.model.train()
        loss = self.loss(self.model(dg.tensor(inputs)), self.target(labels))
        self.optimizer.zero_grad()
        loss.backward()
        norms = [float(np.linalg.norm(_np(layer.weight.grad))) for layer in self.linears]
        self.optimizer.step()
        self._regularize()
        return float(loss.item()), norms

    def _regularize(self) -> None:
        """The playground's weight decay, applied after the step: ``w -= lr * rate * dR/dw``.

        L2 uses ``R = w^2 / 2``; L1 uses ``R = |w|`` and sets to 0 a weight the step
        pushed across zero, as the playground does.
        """
        kind, rate = self.state.regularization, self.state.regularizationRate
        if kind == "none" or rate == 0:
            return
        shrink = self.state.learningRate * rate
        for layer in self.linears:
            w = layer.weight.array
            if kind == "L2":
                w -= shrink * w
            else:
                new = w - shrink * xp.sign(w)
                new[new * w < 0] = 0.0
                w[...] = new

    # --- evaluation ------------------------------------------------------------
    def forward_all(self, inputs: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Evaluation forward over many points: the output in [-1, 1] terms and each
        hidden layer's ``(n, neurons)`` outputs. ``output`` is the tanh / linear unit, or
        ``2 p(+1) - 1`` with softmax."""
        self.model.eval()
        hidden: list[np.ndarray] = []
        taps = set(self.taps)
        with dg.no_grad():
            h = dg.tensor(inputs)
            for i, module in enumerate(self.model.children()):
                h = module(h)
                if i in taps:
                    hidden.append(_np(h))
            if self.state.softmax:
                out = _np(F.softmax(h, dim=1))[:, 1] * 2 - 1
            else:
                out = _np(h)[:, 0]
        return out, hidden

    def evaluate(self, inputs: np.ndarray, labels: np.ndarray) -> float:
        """The mean loss over a data set (evaluation mode, no dropout)."""
        if len(inputs) == 0:
            return float("nan")
        self.model.eval()
        with dg.no_grad():
            return float(self.loss(self.model(dg.tensor(inputs)), self.target(labels)).item())

    def dead_relu_fraction(self, inputs: np.ndarray) -> list[float] | None:
        """Per hidden ReLU layer, the fraction of neurons that output 0 on every training point."""
        if self.state.activation != "relu" or not self.state.networkShape or len(inputs) == 0:
            return None
        _, hidden = self.forward_all(inputs)
        return [float(np.mean(np.all(h <= 0, axis=0))) for h in hidden]

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The model's ``state_dict`` as NumPy arrays (copies)."""
        return {name: np.array(_np(t)) for name, t in self.model.state_dict().items()}

"""Keras's activation functions, by name: ``Dense(64, activation='relu')``.

Each takes and returns a deepgrad ``Tensor``; ``get(name_or_callable)`` resolves
what a layer's ``activation=`` argument holds (``None`` and ``'linear'`` are the
identity).
"""

from __future__ import annotations

from typing import Any, Callable

import deepgrad.nn.functional as F
from deepgrad.tensor import Tensor


def linear(x: Tensor) -> Tensor:
    """The identity."""
    return x


def relu(x: Tensor) -> Tensor:
    return F.relu(x)


def relu6(x: Tensor) -> Tensor:
    return F.relu6(x)


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.log_softmax(axis)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return F.elu(x, alpha)


def selu(x: Tensor) -> Tensor:
    return F.selu(x)


def softplus(x: Tensor) -> Tensor:
    return F.softplus(x)


def softsign(x: Tensor) -> Tensor:
    return F.softsign(x)


def gelu(x: Tensor, approximate: bool = False) -> Tensor:
    return F.gelu(x, approximate="tanh" if approximate else "none")


def silu(x: Tensor) -> Tensor:
    return F.silu(x)


swish = silu


def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    return F.leaky_relu(x, negative_slope)


def exponential(x: Tensor) -> Tensor:
    return x.exp()


def hard_sigmoid(x: Tensor) -> Tensor:
    """relu6(x + 3) / 6, Keras 3's definition."""
    return F.relu6(x + 3.0) * (1.0 / 6.0)


def mish(x: Tensor) -> Tensor:
    return F.mish(x)


_ACTIVATIONS: dict[str, Callable[..., Tensor]] = {
    "linear": linear, "relu": relu, "relu6": relu6, "sigmoid": sigmoid, "tanh": tanh,
    "softmax": softmax, "log_softmax": log_softmax, "elu": elu, "selu": selu,
    "softplus": softplus, "softsign": softsign, "gelu": gelu, "silu": silu, "swish": swish,
    "leaky_relu": leaky_relu, "exponential": exponential, "hard_sigmoid": hard_sigmoid,
    "mish": mish,
}


def get(identifier: Any) -> Callable[..., Tensor]:
    """The activation function named ``identifier`` (or ``identifier`` itself if callable)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _ACTIVATIONS.get(identifier.lower())
        if fn is None:
            raise ValueError(f"Unknown activation {identifier!r}; known: {sorted(_ACTIVATIONS)} "
                             "(or pass a callable)")
        return fn
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name or a callable, got {identifier!r}")


def serialize(fn: Callable[..., Tensor]) -> str:
    """The name under which ``get`` finds ``fn`` (for configs)."""
    for name, known in _ACTIVATIONS.items():
        if known is fn:
            return name
    return getattr(fn, "__name__", repr(fn))


__all__ = ["get", "serialize", *_ACTIVATIONS]

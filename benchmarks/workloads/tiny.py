"""tiny: the playground's 2-8-8-1 tanh network, batch 10, squared error, plain SGD.

At this size the arithmetic is nothing; what is timed is each framework's
per-step overhead (Python, dispatch, graph recording).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads._common import linear_flops, sequential_linear_shapes

NAME = "tiny"
TITLE = "playground 2-8-8-1 tanh, batch 10, SGD"
OPTIMIZER = ("sgd", {"lr": 0.03})
BATCH = 10
SIZES = [2, 8, 8, 1]


def param_shapes() -> dict[str, tuple[int, ...]]:
    return sequential_linear_shapes(SIZES)


def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return (rng.standard_normal((BATCH, 2)).astype(np.float32),
            rng.standard_normal((BATCH, 1)).astype(np.float32))


def forward_flops() -> int:
    return sum(linear_flops(BATCH, a, b) for a, b in zip(SIZES, SIZES[1:]))


def build(lib: Any) -> Any:
    nn = lib.nn
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))


def loss(lib: Any, model: Any, x: Any, y: Any) -> Any:
    return lib.nn.functional.mse_loss(model(x), y)


def jax_loss(p: dict, x: Any, y: Any) -> Any:
    import jax.numpy as jnp

    h = jnp.tanh(x @ p["0.weight"].T + p["0.bias"])
    h = jnp.tanh(h @ p["2.weight"].T + p["2.bias"])
    out = h @ p["4.weight"].T + p["4.bias"]
    return jnp.mean((out - y) ** 2)

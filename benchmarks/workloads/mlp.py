"""mlp: 784-512-256-10 with ReLU, softmax cross-entropy, batch 128, Adam."""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads._common import linear_flops, sequential_linear_shapes

NAME = "mlp"
TITLE = "MLP 784-512-256-10, batch 128, Adam"
OPTIMIZER = ("adam", {"lr": 1e-3})
BATCH = 128
SIZES = [784, 512, 256, 10]


def param_shapes() -> dict[str, tuple[int, ...]]:
    return sequential_linear_shapes(SIZES)


def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return (rng.standard_normal((BATCH, SIZES[0])).astype(np.float32),
            rng.integers(0, SIZES[-1], BATCH).astype(np.int64))


def forward_flops() -> int:
    return sum(linear_flops(BATCH, a, b) for a, b in zip(SIZES, SIZES[1:]))


def build(lib: Any) -> Any:
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def loss(lib: Any, model: Any, x: Any, y: Any) -> Any:
    return lib.nn.functional.cross_entropy(model(x), y)


def jax_loss(p: dict, x: Any, y: Any) -> Any:
    import jax
    import jax.numpy as jnp

    h = jax.nn.relu(x @ p["0.weight"].T + p["0.bias"])
    h = jax.nn.relu(h @ p["2.weight"].T + p["2.bias"])
    logits = h @ p["4.weight"].T + p["4.bias"]
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

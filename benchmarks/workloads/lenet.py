"""lenet: LeNet-5 on 1x28x28, batch 128, SGD with momentum.

conv 5x5 (6, padding 2) + ReLU + max-pool 2, conv 5x5 (16) + ReLU + max-pool 2,
then 400-120-84-10 with ReLU; softmax cross-entropy. NCHW everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads._common import conv_flops, linear_flops

NAME = "lenet"
TITLE = "LeNet-5 1x28x28, batch 128, SGD momentum"
OPTIMIZER = ("sgd", {"lr": 0.01, "momentum": 0.9})
BATCH = 128


def param_shapes() -> dict[str, tuple[int, ...]]:
    return {"0.weight": (6, 1, 5, 5), "0.bias": (6,),
            "3.weight": (16, 6, 5, 5), "3.bias": (16,),
            "7.weight": (120, 400), "7.bias": (120,),
            "9.weight": (84, 120), "9.bias": (84,),
            "11.weight": (10, 84), "11.bias": (10,)}


def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return (rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32),
            rng.integers(0, 10, BATCH).astype(np.int64))


def forward_flops() -> int:
    return (conv_flops(BATCH, 1, 6, 5, 28, 28) + conv_flops(BATCH, 6, 16, 5, 10, 10)
            + linear_flops(BATCH, 400, 120) + linear_flops(BATCH, 120, 84)
            + linear_flops(BATCH, 84, 10))


def build(lib: Any) -> Any:
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def loss(lib: Any, model: Any, x: Any, y: Any) -> Any:
    return lib.nn.functional.cross_entropy(model(x), y)


def _conv(x: Any, w: Any, b: Any, padding: int) -> Any:
    from jax import lax

    y = lax.conv_general_dilated(x, w, (1, 1), [(padding, padding)] * 2,
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + b[None, :, None, None]


def _pool(x: Any) -> Any:
    import jax.numpy as jnp
    from jax import lax

    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def jax_loss(p: dict, x: Any, y: Any) -> Any:
    import jax
    import jax.numpy as jnp

    h = _pool(jax.nn.relu(_conv(x, p["0.weight"], p["0.bias"], 2)))
    h = _pool(jax.nn.relu(_conv(h, p["3.weight"], p["3.bias"], 0)))
    h = h.reshape(h.shape[0], -1)
    h = jax.nn.relu(h @ p["7.weight"].T + p["7.bias"])
    h = jax.nn.relu(h @ p["9.weight"].T + p["9.bias"])
    logp = jax.nn.log_softmax(h @ p["11.weight"].T + p["11.bias"])
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

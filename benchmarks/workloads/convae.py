"""convae: the lectures' convolutional autoencoder (the Keras blog's) on 28x28x1, batch 128, Adam.

Encoder conv 16, pool, conv 8, pool, conv 8, pool (28 -> 14 -> 7 -> 4); decoder
conv 8, up, conv 8, up, conv 16 'valid', up, conv 1 + sigmoid (4 -> 8 -> 16 ->
14 -> 28); all 3x3, ReLU, binary cross-entropy against the input. The Keras
program is NHWC with padding='same'; here it is NCHW with the equivalent
padding: padding=1 for the 'same' convolutions, and ceil_mode=True for the
'same' 2x2 pools (Keras pads 7 -> 8 at the bottom/right, which is what
ceil_mode does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads._common import conv_flops

NAME = "convae"
TITLE = "conv autoencoder 28x28x1, batch 128, Adam"
OPTIMIZER = ("adam", {"lr": 1e-3})
BATCH = 128
# (sequential index, c_in, c_out, padding, output side)
CONVS = [(0, 1, 16, 1, 28), (3, 16, 8, 1, 14), (6, 8, 8, 1, 7), (9, 8, 8, 1, 4),
         (12, 8, 8, 1, 8), (15, 8, 16, 0, 14), (18, 16, 1, 1, 28)]


def param_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {}
    for i, c_in, c_out, _, _ in CONVS:
        shapes[f"{i}.weight"] = (c_out, c_in, 3, 3)
        shapes[f"{i}.bias"] = (c_out,)
    return shapes


def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0.0, 1.0, (BATCH, 1, 28, 28)).astype(np.float32)
    return x, x.copy()


def forward_flops() -> int:
    return sum(conv_flops(BATCH, c_in, c_out, 3, side, side) for _, c_in, c_out, _, side in CONVS)


def build(lib: Any) -> Any:
    nn = lib.nn
    layers: list = []
    for i, c_in, c_out, padding, _ in CONVS:
        layers += [nn.Conv2d(c_in, c_out, 3, padding=padding),
                   nn.Sigmoid() if i == 18 else nn.ReLU()]
        if i in (0, 3, 6):
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        elif i in (9, 12, 15):
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
    return nn.Sequential(*layers)


def loss(lib: Any, model: Any, x: Any, y: Any) -> Any:
    return lib.nn.functional.binary_cross_entropy(model(x), y)


def jax_loss(p: dict, x: Any, y: Any) -> Any:
    import jax
    import jax.numpy as jnp
    from jax import lax

    h = x
    for i, _, _, padding, _ in CONVS:
        h = lax.conv_general_dilated(h, p[f"{i}.weight"], (1, 1), [(padding, padding)] * 2,
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        h = h + p[f"{i}.bias"][None, :, None, None]
        h = jax.nn.sigmoid(h) if i == 18 else jax.nn.relu(h)
        if i in (0, 3, 6):
            h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "SAME")
        elif i in (9, 12, 15):
            h = jnp.repeat(jnp.repeat(h, 2, axis=2), 2, axis=3)
    # binary cross-entropy with PyTorch's clamp of the logs at -100
    log_p = jnp.maximum(jnp.log(h), -100.0)
    log_q = jnp.maximum(jnp.log1p(-h), -100.0)
    return -jnp.mean(y * log_p + (1 - y) * log_q)

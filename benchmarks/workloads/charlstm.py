"""charlstm: embedding 65 -> 64, one LSTM layer of 256, read-out to 65; sequence 64, batch 32.

Cross-entropy over all 64 x 32 positions, Adam. PyTorch's gate order (i, f, g, o).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads._common import linear_flops

NAME = "charlstm"
TITLE = "char-LSTM 65-64-256, seq 64, batch 32, Adam"
OPTIMIZER = ("adam", {"lr": 2e-3})
VOCAB, EMBED, HIDDEN, SEQ, BATCH = 65, 64, 256, 64, 32


def param_shapes() -> dict[str, tuple[int, ...]]:
    return {"embed.weight": (VOCAB, EMBED),
            "lstm.weight_ih_l0": (4 * HIDDEN, EMBED), "lstm.weight_hh_l0": (4 * HIDDEN, HIDDEN),
            "lstm.bias_ih_l0": (4 * HIDDEN,), "lstm.bias_hh_l0": (4 * HIDDEN,),
            "head.weight": (VOCAB, HIDDEN), "head.bias": (VOCAB,)}


def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    text = rng.integers(0, VOCAB, size=(BATCH, SEQ + 1), dtype=np.int64)
    return text[:, :-1].copy(), text[:, 1:].reshape(-1).copy()


def forward_flops() -> int:
    rows = BATCH * SEQ
    return (linear_flops(rows, EMBED, 4 * HIDDEN) + linear_flops(rows, HIDDEN, 4 * HIDDEN)
            + linear_flops(rows, HIDDEN, VOCAB))


def build(lib: Any) -> Any:
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, HIDDEN, batch_first=True)
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, x: Any) -> Any:
            out, _ = self.lstm(self.embed(x))
            return self.head(out)

    return CharLSTM()


def loss(lib: Any, model: Any, x: Any, y: Any) -> Any:
    return lib.nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y)


def jax_loss(p: dict, x: Any, y: Any) -> Any:
    import jax
    import jax.numpy as jnp
    from jax import lax

    e = p["embed.weight"][x]                                   # (B, T, E)
    gx = e @ p["lstm.weight_ih_l0"].T + p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"]
    w_hh = p["lstm.weight_hh_l0"].T

    def cell(carry, g):
        h, c = carry
        g = g + h @ w_hh
        i, f, gg, o = jnp.split(g, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((BATCH, HIDDEN), e.dtype)
    _, hs = lax.scan(cell, (zeros, zeros), jnp.swapaxes(gx, 0, 1))   # (T, B, H)
    out = jnp.swapaxes(hs, 0, 1) @ p["head.weight"].T + p["head.bias"]
    logp = jax.nn.log_softmax(out.reshape(-1, VOCAB))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

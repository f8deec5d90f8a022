"""What the workloads share: parameters from one seed, the PyTorch-style step, the JAX step."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

SEED = 0


def init(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """float32 parameters in PyTorch's layouts, the same in every framework.

    Weights are uniform in +-1/sqrt(fan_in) (fan_in = product of all but the
    first dimension), biases in +-0.05, embedding tables standard normal.
    """
    rng = np.random.default_rng(SEED)
    params = {}
    for name, shape in shapes.items():
        if "embed" in name:
            value = rng.standard_normal(shape)
        elif len(shape) >= 2:
            bound = 1.0 / math.sqrt(math.prod(shape[1:]))
            value = rng.uniform(-bound, bound, shape)
        else:
            value = rng.uniform(-0.05, 0.05, shape)
        params[name] = value.astype(np.float32)
    return params


def torchlike_step(lib: Any, workload: Any) -> Callable[[], float]:
    """One training step (zero_grad, forward, loss, backward, optimizer step) on deepgrad or torch.

    Returns a closure that runs one step and returns the loss *before* the update.
    """
    model = workload.build(lib)
    expected = workload.param_shapes()
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if got != expected:
        raise RuntimeError(f"{workload.NAME}: {lib.__name__} model has parameters {got}, "
                           f"expected {expected}")
    model.load_state_dict({k: lib.tensor(v) for k, v in init(expected).items()})
    kind, kwargs = workload.OPTIMIZER
    optimizer = (lib.optim.Adam if kind == "adam" else lib.optim.SGD)(model.parameters(), **kwargs)
    x_np, y_np = workload.data(np.random.default_rng(SEED + 1))
    x, y = lib.tensor(x_np), lib.tensor(y_np)

    def step() -> float:
        optimizer.zero_grad()
        loss = workload.loss(lib, model, x, y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _hand_optimizer(kind: str, kwargs: dict) -> tuple[Callable, Callable]:
    """(init, update) of Adam or SGD with momentum in jax.numpy, as torch.optim computes them."""
    import jax
    import jax.numpy as jnp

    lr = kwargs["lr"]
    if kind == "adam":
        b1, b2, eps = 0.9, 0.999, 1e-8

        def opt_init(p):
            zeros = jax.tree_util.tree_map(jnp.zeros_like, p)
            return (jnp.zeros((), jnp.int32), zeros, zeros)

        def opt_update(g, s, p):
            t, m, v = s
            t = t + 1
            m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
            v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
            c1, c2 = 1 - b1 ** t, 1 - b2 ** t
            p = jax.tree_util.tree_map(
                lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), p, m, v)
            return p, (t, m, v)
    else:
        mu = kwargs.get("momentum", 0.0)

        def opt_init(p):
            return jax.tree_util.tree_map(jnp.zeros_like, p)

        def opt_update(g, s, p):
            s = jax.tree_util.tree_map(lambda b, g: mu * b + g, s, g)
            return jax.tree_util.tree_map(lambda p, b: p - lr * b, p, s), s

    return opt_init, opt_update


def jax_step(workload: Any) -> tuple[Callable[[], float], str]:
    """The workload's step as one jit-compiled JAX function (parameters and state donated).

    Returns (step closure returning the loss before the update, optimizer description).
    """
    import jax
    import jax.numpy as jnp

    kind, kwargs = workload.OPTIMIZER
    try:
        import optax

        tx = (optax.adam(kwargs["lr"]) if kind == "adam"
              else optax.sgd(kwargs["lr"], momentum=kwargs.get("momentum") or None))

        def opt_init(p):
            return tx.init(p)

        def opt_update(g, s, p):
            updates, s = tx.update(g, s, p)
            return optax.apply_updates(p, updates), s

        how = "optax"
    except ImportError:
        opt_init, opt_update = _hand_optimizer(kind, kwargs)
        how = "hand-written jax.numpy optimizer"

    params = {k: jnp.asarray(v) for k, v in init(workload.param_shapes()).items()}
    x_np, y_np = workload.data(np.random.default_rng(SEED + 1))
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)

    def train_step(p, s, x, y):
        loss, g = jax.value_and_grad(lambda p: workload.jax_loss(p, x, y))(p)
        p, s = opt_update(g, s, p)
        return p, s, loss

    compiled = jax.jit(train_step, donate_argnums=(0, 1))
    state = [params, opt_init(params)]

    def step() -> float:
        state[0], state[1], loss = compiled(state[0], state[1], x, y)
        return float(loss)  # waits for the result

    return step, how


def conv_flops(batch: int, c_in: int, c_out: int, k: int, h_out: int, w_out: int) -> int:
    """Multiply-adds x 2 of a k x k convolution's forward pass."""
    return 2 * batch * c_out * h_out * w_out * c_in * k * k


def linear_flops(rows: int, n_in: int, n_out: int) -> int:
    """Multiply-adds x 2 of a (rows, n_in) @ (n_in, n_out) product."""
    return 2 * rows * n_in * n_out


def sequential_linear_shapes(sizes: list[int]) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of ``nn.Sequential(Linear, activation, Linear, ...)`` through ``sizes``,
    with its state_dict keys (``0.weight``, ``0.bias``, ``2.weight``, ...)."""
    shapes = {}
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        shapes[f"{2 * i}.weight"] = (n_out, n_in)
        shapes[f"{2 * i}.bias"] = (n_out,)
    return shapes

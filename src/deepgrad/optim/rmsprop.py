"""RMSprop (Hinton's lecture 6e): steps divided by a running RMS of the gradient."""

from __future__ import annotations

from typing import Any, Iterable

from deepgrad.backend import xp
from deepgrad.optim.optimizer import (
    Optimizer, bump_version, in_chunks, lerp_, step_tensor, zeros_state,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, PyTorch's rule and defaults.

    .. math::
        v_t &\leftarrow \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
        \bar g_t &\leftarrow \alpha \bar g_{t-1} + (1 - \alpha) g_t \quad (\text{centered}) \\
        d_t &\leftarrow \sqrt{v_t - \bar g_t^2} + \epsilon \quad
            (\sqrt{v_t} + \epsilon \text{ when not centered}) \\
        b_t &\leftarrow \mu b_{t-1} + g_t / d_t, \quad \theta_t \leftarrow \theta_{t-1} - \gamma b_t
            \quad (\text{with momentum } \mu > 0) \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma g_t / d_t \quad (\text{without})

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor, in [0, 1) (default 0).
        centered: normalize by the estimated variance instead of the second moment.
        maximize: maximize the objective instead of minimizing it.
        capturable, foreach, differentiable: accepted for PyTorch compatibility; ignored.

    State per parameter: ``step``, ``square_avg`` (and ``momentum_buffer``, ``grad_avg``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        self._check_range(group, "lr", 0.0)
        self._check_range(group, "eps", 0.0)
        self._check_range(group, "momentum", 0.0, 1.0)
        self._check_range(group, "weight_decay", 0.0)
        self._check_range(group, "alpha", 0.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        momentum = float(group["momentum"])
        centered, maximize = group["centered"], group["maximize"]
        for p in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["square_avg"] = zeros_state(p)
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = zeros_state(p)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = zeros_state(p)
            s0, s1 = self._scratch(p.array, 2)
            state["step"].array += 1
            grad = self._grad(p, s0, weight_decay, maximize)

            extra = ([state["grad_avg"].array] if centered else []) + (
                [state["momentum_buffer"].array] if momentum > 0 else [])
            for param, g, square_avg, t0, t1, *rest in in_chunks(
                    p.array, grad, state["square_avg"].array, s0, s1, *extra):
                grad_avg = rest[0] if centered else None  # the optional states, in order
                buf = rest[-1] if momentum > 0 else None
                square_avg *= alpha
                xp.multiply(g, 1.0 - alpha, out=t1)
                t1 *= g
                square_avg += t1
                if grad_avg is not None:
                    lerp_(grad_avg, g, 1.0 - alpha, t1)
                    xp.multiply(grad_avg, grad_avg, out=t1)
                    xp.subtract(square_avg, t1, out=t1)
                    avg = xp.sqrt(t1, out=t1)
                else:
                    avg = xp.sqrt(square_avg, out=t1)
                avg += eps

                if buf is not None:
                    buf *= momentum
                    xp.divide(g, avg, out=t1)
                    buf += t1
                    xp.multiply(buf, lr, out=t1)
                    param -= t1
                else:
                    xp.multiply(g, -lr, out=t0)  # t0 may hold g: it is used up
                    t0 /= avg
                    param += t0
            bump_version(p)

"""LAMB (You et al., 2019, "Large Batch Optimization for Deep Learning"): Adam with a layer-wise trust ratio."""

from __future__ import annotations

from typing import Any, Iterable

from deepgrad.backend import xp
from deepgrad.optim.optimizer import Optimizer, bump_version, lerp_, step_tensor, zeros_state

__all__ = ["LAMB"]


class LAMB(Optimizer):
    r"""LAMB, the paper's rule as Optax and Keras implement it.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        u_t &\leftarrow \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}
            + \lambda \theta_{t-1} \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma \frac{\lVert\theta_{t-1}\rVert}{\lVert u_t\rVert} u_t

    with norms per parameter tensor, and a trust ratio of 1 when either norm is 0.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates, each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-6).
        weight_decay: decay :math:`\lambda` added to the update before the trust ratio (default 0).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        self._check_range(group, "lr", 0.0)
        self._check_range(group, "eps", 0.0)
        self._check_betas(group)
        self._check_range(group, "weight_decay", 0.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        maximize = group["maximize"]
        for p in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["exp_avg"] = zeros_state(p)
                state["exp_avg_sq"] = zeros_state(p)
            s0, s1 = self._scratch(p.array, 2)
            step_t = state["step"].array
            step_t += 1
            step = step_t.item()
            grad = self._grad(p, s0, 0.0, maximize)

            exp_avg, exp_avg_sq = state["exp_avg"].array, state["exp_avg_sq"].array
            lerp_(exp_avg, grad, 1.0 - beta1, s1)
            exp_avg_sq *= beta2
            xp.multiply(grad, 1.0 - beta2, out=s1)
            s1 *= grad
            exp_avg_sq += s1

            denom = xp.divide(exp_avg_sq, 1.0 - beta2**step, out=s1)
            xp.sqrt(denom, out=denom)
            denom += eps
            update = xp.divide(exp_avg, 1.0 - beta1**step, out=s0)
            update /= denom
            if weight_decay != 0:
                xp.multiply(p.array, weight_decay, out=s1)
                update += s1
            w = p.array.reshape(-1)
            u = update.reshape(-1)
            w_norm = float(xp.sqrt(xp.dot(w, w)))
            u_norm = float(xp.sqrt(xp.dot(u, u)))
            trust = w_norm / u_norm if w_norm > 0.0 and u_norm > 0.0 else 1.0
            update *= lr * trust
            p.array -= update
            bump_version(p)

"""Adamax (Kingma & Ba, 2015, section 7.1): Adam with the infinity norm."""

from __future__ import annotations

from typing import Any, Iterable

from deepgrad.backend import xp
from deepgrad.optim.optimizer import (
    Optimizer, bump_version, in_chunks, lerp_, step_tensor, zeros_state,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax, PyTorch's rule and defaults.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        u_t &\leftarrow \max(\beta_2 u_{t-1}, |g_t| + \epsilon) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t} \frac{m_t}{u_t}

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 2e-3).
        betas: decay rates, each in [0, 1) (default (0.9, 0.999)).
        eps: added to :math:`|g|` (default 1e-8).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, capturable: accepted for PyTorch compatibility; ignored.

    State per parameter: ``step``, ``exp_avg``, ``exp_inf``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
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
                state["exp_inf"] = zeros_state(p)
            s0, s1 = self._scratch(p.array, 2)
            step_t = state["step"].array
            step_t += 1
            step = step_t.item()
            grad = self._grad(p, s0, weight_decay, maximize)

            clr = lr / (1.0 - beta1**step)
            for param, g, exp_avg, exp_inf, t0, t1 in in_chunks(
                    p.array, grad, state["exp_avg"].array, state["exp_inf"].array, s0, s1):
                lerp_(exp_avg, g, 1.0 - beta1, t1)
                exp_inf *= beta2
                xp.abs(g, out=t1)
                t1 += eps
                xp.maximum(exp_inf, t1, out=exp_inf)
                xp.multiply(exp_avg, -clr, out=t0)  # t0 may hold g: it is used up
                t0 /= exp_inf
                param += t0
            bump_version(p)

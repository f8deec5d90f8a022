"""RAdam (Liu et al., 2020): Adam with the variance of the adaptive step rectified."""

from __future__ import annotations

from typing import Any, Iterable

from deepgrad.backend import xp
from deepgrad.optim.optimizer import (
    Optimizer, bump_version, in_chunks, moments_, step_tensor, zeros_state,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam, PyTorch's rule and defaults.

    .. math::
        \rho_\infty &= 2 / (1 - \beta_2) - 1, \quad
        \rho_t = \rho_\infty - 2 t \beta_2^t / (1 - \beta_2^t) \\
        \hat m_t &= m_t / (1 - \beta_1^t) \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma \hat m_t \, r_t
            \frac{\sqrt{1 - \beta_2^t}}{\sqrt{v_t} + \epsilon} \quad \text{if } \rho_t > 5,
        \quad \theta_{t-1} - \gamma \hat m_t \text{ otherwise}

    with :math:`r_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}{(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}}`.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates, each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: weight decay (default 0).
        decoupled_weight_decay: decay the parameters as AdamW does instead of L2.
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: accepted for PyTorch compatibility; ignored.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable)
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
        maximize, decoupled = group["maximize"], group["decoupled_weight_decay"]
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

            if weight_decay != 0 and decoupled:
                p.array *= 1.0 - lr * weight_decay
                grad = self._grad(p, s0, 0.0, maximize)
            else:
                grad = self._grad(p, s0, weight_decay, maximize)

            bias_correction1 = 1.0 - beta1**step
            bias_correction2 = 1.0 - beta2**step
            rho_inf = 2.0 / (1.0 - beta2) - 1.0
            rho_t = rho_inf - 2.0 * step * (beta2**step) / bias_correction2
            rect = None
            if rho_t > 5.0:
                rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5
            bias_correction2_sqrt = bias_correction2**0.5
            for param, g, exp_avg, exp_avg_sq, t0, t1 in in_chunks(
                    p.array, grad, state["exp_avg"].array, state["exp_avg_sq"].array, s0, s1):
                moments_(exp_avg, exp_avg_sq, g, beta1, beta2, t1)
                # the bias-corrected exp_avg (t0 may hold g: it is used up)
                update = xp.divide(exp_avg, bias_correction1, out=t0)
                update *= lr
                if rect is not None:
                    adaptive = xp.sqrt(exp_avg_sq, out=t1)
                    adaptive += eps
                    xp.divide(bias_correction2_sqrt, adaptive, out=adaptive)
                    update *= adaptive
                    update *= rect
                param -= update
            bump_version(p)

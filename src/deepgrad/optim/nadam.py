"""NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum-decay schedule."""

from __future__ import annotations

from typing import Any, Iterable

from deepgrad.backend import xp
from deepgrad.optim.optimizer import (
    Optimizer, bump_version, in_chunks, moments_, scalar_dtype, step_tensor, zeros_state,
)
from deepgrad.tensor import Tensor

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam, PyTorch's rule and defaults.

    .. math::
        \mu_t &\leftarrow \beta_1 \left(1 - \tfrac12 \, 0.96^{t \psi}\right) \quad (\psi: \text{momentum\_decay}) \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \theta_t &\leftarrow \theta_{t-1}
            - \gamma \frac{(1 - \mu_t)}{1 - \prod_{i \le t} \mu_i} \frac{g_t}{\sqrt{\hat v_t} + \epsilon}
            - \gamma \frac{\mu_{t+1}}{1 - \prod_{i \le t+1} \mu_i} \frac{m_t}{\sqrt{\hat v_t} + \epsilon}

    with :math:`\hat v_t = v_t / (1 - \beta_2^t)`.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 2e-3).
        betas: decay rates, each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: weight decay (default 0).
        momentum_decay: :math:`\psi` (default 4e-3).
        decoupled_weight_decay: decay the parameters as AdamW does instead of L2.
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: accepted for PyTorch compatibility; ignored.

    State per parameter: ``step``, ``mu_product`` (kept in ``step``'s dtype, as
    PyTorch does), ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        self._check_range(group, "lr", 0.0)
        self._check_range(group, "eps", 0.0)
        self._check_betas(group)
        self._check_range(group, "weight_decay", 0.0)
        self._check_range(group, "momentum_decay", 0.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        momentum_decay = float(group["momentum_decay"])
        maximize, decoupled = group["maximize"], group["decoupled_weight_decay"]
        for p in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["mu_product"] = Tensor(xp.asarray(1.0, dtype=scalar_dtype()))
                state["exp_avg"] = zeros_state(p)
                state["exp_avg_sq"] = zeros_state(p)
            s0, s1 = self._scratch(p.array, 2)
            step_t = state["step"].array
            step_t += 1
            step = step_t.item()
            bias_correction2 = 1.0 - beta2**step

            if weight_decay != 0 and decoupled:
                p.array *= 1.0 - lr * weight_decay
                grad = self._grad(p, s0, 0.0, maximize)
            else:
                grad = self._grad(p, s0, weight_decay, maximize)

            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
            mu_product_t = state["mu_product"].array
            mu_product_t *= mu  # in the state's dtype, as PyTorch rounds it
            mu_product = mu_product_t.item()
            mu_product_next = mu_product * mu_next

            grad_scale = -lr * (1.0 - mu) / (1.0 - mu_product)
            avg_scale = (-lr * mu_next) / (1.0 - mu_product_next)
            for param, g, exp_avg, exp_avg_sq, t0, t1 in in_chunks(
                    p.array, grad, state["exp_avg"].array, state["exp_avg_sq"].array, s0, s1):
                moments_(exp_avg, exp_avg_sq, g, beta1, beta2, t1)
                denom = xp.divide(exp_avg_sq, bias_correction2, out=t1)
                xp.sqrt(denom, out=denom)
                denom += eps

                xp.multiply(g, grad_scale, out=t0)  # t0 may hold g: it is used up
                t0 /= denom
                param += t0
                xp.multiply(exp_avg, avg_scale, out=t0)
                t0 /= denom
                param += t0
            bump_version(p)

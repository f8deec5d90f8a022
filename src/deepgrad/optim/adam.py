"""Adam (Kingma & Ba, 2015) and AdamW (decoupled weight decay, Loshchilov & Hutter, 2019)."""

from __future__ import annotations

from typing import Any, Iterable

from deepgrad.backend import xp
from deepgrad.optim.optimizer import (
    Optimizer, bump_version, in_chunks, moments_, step_tensor, zeros_state,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam, PyTorch's rule and defaults.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t}
            \frac{m_t}{\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`v_t` replaced by its running maximum when ``amsgrad``. Weight
    decay :math:`\lambda` is added to the gradient (L2), or, with
    ``decoupled_weight_decay=True`` (AdamW), applied as
    :math:`\theta \leftarrow \theta (1 - \gamma\lambda)` before the step.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the two moment estimates, each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: weight decay (default 0).
        amsgrad: use the running maximum of the second moment (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: AdamW's decay instead of L2.
        foreach, capturable, differentiable, fused: accepted for PyTorch compatibility; ignored.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
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
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        for p in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["exp_avg"] = zeros_state(p)
                state["exp_avg_sq"] = zeros_state(p)
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = zeros_state(p)
            s0, s1 = self._scratch(p.array, 2)
            step_t = state["step"].array
            step_t += 1
            step = step_t.item()

            if weight_decay != 0 and decoupled:
                p.array *= 1.0 - lr * weight_decay
                grad = self._grad(p, s0, 0.0, maximize)
            else:
                grad = self._grad(p, s0, weight_decay, maximize)

            step_size = lr / (1.0 - beta1**step)
            bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
            arrays = (p.array, grad, state["exp_avg"].array, state["exp_avg_sq"].array, s0, s1)
            if amsgrad:
                arrays += (state["max_exp_avg_sq"].array,)
            for param, g, exp_avg, exp_avg_sq, t0, t1, *max_sq in in_chunks(*arrays):
                moments_(exp_avg, exp_avg_sq, g, beta1, beta2, t1)
                if amsgrad:
                    second = xp.maximum(max_sq[0], exp_avg_sq, out=max_sq[0])
                else:
                    second = exp_avg_sq
                denom = xp.sqrt(second, out=t1)
                denom /= bias_correction2_sqrt
                denom += eps
                xp.multiply(exp_avg, -step_size, out=t0)  # t0 may hold g: it is used up
                t0 /= denom
                param += t0
            bump_version(p)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's rule and defaults.

    Each step first shrinks the parameters, :math:`\theta \leftarrow \theta(1 - \gamma\lambda)`,
    then takes Adam's step without weight decay in the gradient. Same arguments
    as :class:`Adam`, with ``weight_decay`` defaulting to 1e-2.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True

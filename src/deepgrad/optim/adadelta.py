"""Adadelta (Zeiler, 2012): steps scaled by the ratio of running RMS of updates and of gradients."""

from __future__ import annotations

from typing import Any, Iterable

from deepgrad.backend import xp
from deepgrad.optim.optimizer import Optimizer, bump_version, in_chunks, step_tensor, zeros_state

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta, PyTorch's rule and defaults.

    .. math::
        v_t &\leftarrow \rho v_{t-1} + (1 - \rho) g_t^2 \\
        \Delta_t &\leftarrow \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}} g_t \\
        u_t &\leftarrow \rho u_{t-1} + (1 - \rho) \Delta_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma \Delta_t

    Args:
        params: tensors or param-group dicts to optimize.
        lr: coefficient :math:`\gamma` scaling delta before it is applied (default 1.0).
        rho: decay of the running averages, in [0, 1] (default 0.9).
        eps: added inside the square roots (default 1e-6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: accepted for PyTorch compatibility; ignored.

    State per parameter: ``step``, ``square_avg``, ``acc_delta``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        self._check_range(group, "lr", 0.0)
        self._check_range(group, "rho", 0.0, 1.0, high_open=False)
        self._check_range(group, "eps", 0.0)
        self._check_range(group, "weight_decay", 0.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        rho = float(group["rho"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        maximize = group["maximize"]
        for p in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["square_avg"] = zeros_state(p)
                state["acc_delta"] = zeros_state(p)
            s0, s1, s2 = self._scratch(p.array, 3)
            state["step"].array += 1
            grad = self._grad(p, s0, weight_decay, maximize)

            for param, g, square_avg, acc_delta, t1, t2 in in_chunks(
                    p.array, grad, state["square_avg"].array, state["acc_delta"].array, s1, s2):
                square_avg *= rho
                xp.multiply(g, 1.0 - rho, out=t1)
                t1 *= g
                square_avg += t1
                std = xp.add(square_avg, eps, out=t1)
                xp.sqrt(std, out=std)
                delta = xp.add(acc_delta, eps, out=t2)
                xp.sqrt(delta, out=delta)
                delta /= std
                delta *= g
                acc_delta *= rho
                xp.multiply(delta, 1.0 - rho, out=t1)
                t1 *= delta
                acc_delta += t1
                delta *= lr
                param -= delta
            bump_version(p)

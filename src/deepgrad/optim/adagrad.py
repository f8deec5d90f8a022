"""Adagrad (Duchi, Hazan & Singer, 2011): per-coordinate steps shrinking with the summed squared gradients."""

from __future__ import annotations

from typing import Any, Iterable

from deepgrad.backend import xp
from deepgrad.optim.optimizer import Optimizer, bump_version, in_chunks, step_tensor
from deepgrad.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, PyTorch's rule and defaults.

    .. math::
        \tilde\gamma &\leftarrow \gamma / (1 + (t - 1)\eta) \quad (\eta: \text{lr\_decay}) \\
        s_t &\leftarrow s_{t-1} + g_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \tilde\gamma \frac{g_t}{\sqrt{s_t} + \epsilon}

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay :math:`\eta` (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of :math:`s` (default 0).
        eps: added to the denominator (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, fused: accepted for PyTorch compatibility; ignored.

    State per parameter (created at construction, as PyTorch does): ``step``, ``sum``.
    A group's own ``initial_accumulator_value`` is honoured (PyTorch uses the
    constructor's value for every group).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        state["step"] = step_tensor()
        state["sum"] = Tensor(xp.full_like(p.array, group["initial_accumulator_value"]))
        return state

    def _check_group(self, group: dict[str, Any]) -> None:
        self._check_range(group, "lr", 0.0)
        self._check_range(group, "lr_decay", 0.0)
        self._check_range(group, "weight_decay", 0.0)
        self._check_range(group, "initial_accumulator_value", 0.0)
        self._check_range(group, "eps", 0.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        lr_decay = float(group["lr_decay"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        maximize = group["maximize"]
        for p in self._params_with_grad(group):
            state = self.state[p]
            if "sum" not in state:  # a parameter added after construction
                state = self._init_state(p, group)
            s0, s1 = self._scratch(p.array, 2)
            step_t = state["step"].array
            step_t += 1
            step = step_t.item()
            grad = self._grad(p, s0, weight_decay, maximize)
            clr = lr / (1.0 + (step - 1.0) * lr_decay)

            for param, g, acc, t0, t1 in in_chunks(p.array, grad, state["sum"].array, s0, s1):
                xp.multiply(g, g, out=t1)
                acc += t1
                std = xp.sqrt(acc, out=t1)
                std += eps
                xp.multiply(g, -clr, out=t0)  # t0 may hold g: it is used up
                t0 /= std
                param += t0
            bump_version(p)

"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any, Iterable

from deepgrad.backend import xp
from deepgrad.optim.optimizer import Optimizer, bump_version
from deepgrad.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), PyTorch's rule and defaults.

    With gradient :math:`g_t` (negated when ``maximize``):

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1} \quad (\text{weight decay } \lambda) \\
        b_t &\leftarrow \mu b_{t-1} + (1 - \tau) g_t \quad (b_1 = g_1) \\
        g_t &\leftarrow g_t + \mu b_t \text{ (nesterov) or } b_t \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma g_t

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate :math:`\gamma` (default 1e-3, as PyTorch 2.x).
        momentum: momentum factor :math:`\mu`, in [0, 1) (default 0).
        dampening: dampening :math:`\tau` for momentum (default 0).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, fused: accepted for PyTorch compatibility; ignored.

    State per parameter: ``momentum_buffer`` (when momentum is not 0).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        self._check_range(group, "lr", 0.0)
        self._check_range(group, "momentum", 0.0, 1.0)
        self._check_range(group, "weight_decay", 0.0)
        if group.get("nesterov") and (group.get("momentum", 0) <= 0 or group.get("dampening", 0) != 0):
            raise ValueError(
                f"SGD: nesterov=True requires a momentum > 0 and zero dampening, got "
                f"momentum={group.get('momentum')!r}, dampening={group.get('dampening')!r}"
            )

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = float(group["weight_decay"])
        nesterov, maximize = group["nesterov"], group["maximize"]
        for p in self._params_with_grad(group):
            s0, s1 = self._scratch(p.array, 2)
            d = self._grad(p, s0, weight_decay, maximize)
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    state["momentum_buffer"] = buf = Tensor(xp.array(d, copy=True))
                else:
                    b = buf.array
                    b *= momentum
                    if dampening != 0:  # then not nesterov, so d is not needed after this
                        xp.multiply(d, 1.0 - dampening, out=s1)
                        b += s1
                    else:
                        b += d
                if nesterov:
                    xp.multiply(buf.array, momentum, out=s1)
                    s1 += d
                    d = s1
                else:
                    d = buf.array
            xp.multiply(d, lr, out=s1)
            p.array -= s1
            bump_version(p)

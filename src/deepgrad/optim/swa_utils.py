"""Weight averaging: ``AveragedModel`` (EMA or Polyak/SWA averages of a model's weights), ``SWALR``, ``update_bn``.

The lectures' "averaging updates": the average of the iterates of SGD is a
better estimate of the minimum than the last iterate. PyTorch's
``torch.optim.swa_utils``:

    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    for batch in loader:
        ...; optimizer.step()
        ema.update_parameters(model)      # ema(x) is the averaged model

The averages are updated in place on the arrays, outside autograd.
"""

from __future__ import annotations

import itertools
import math
import warnings
from copy import deepcopy
from typing import Any, Callable, Iterable, Sequence

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.backend import xp
from deepgrad.nn.modules.module import Module
from deepgrad.optim._lr_base import LRScheduler, format_param
from deepgrad.optim.optimizer import Optimizer, bump_version, lerp_
from deepgrad.tensor import Tensor

__all__ = [
    "AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
    "get_ema_avg_fn", "get_swa_avg_fn",
]

MultiAvgFn = Callable[[Sequence[Tensor], Sequence[Tensor], Any], None]


def _lerp_all(averaged: Sequence[Tensor], current: Sequence[Tensor], weight: float) -> None:
    """``avg += weight * (cur - avg)`` for each pair, in place (floating tensors)."""
    scratch = xp.empty(max(t.array.size for t in averaged), dtype=averaged[0].array.dtype)
    for avg, cur in zip(averaged, current):
        a = avg.array
        lerp_(a, cur.array, weight, scratch[: a.size].reshape(a.shape))
        bump_version(avg)


def _store(avg: Tensor, value: Any) -> None:
    avg.array[...] = value
    bump_version(avg)


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """An exponential moving average: ``avg = decay * avg + (1 - decay) * param`` (in place, lists of tensors)."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"get_ema_multi_avg_fn: invalid decay={decay!r}; expected 0 <= decay <= 1")

    def ema_update(ema_params: Sequence[Tensor], current_params: Sequence[Tensor], _: Any) -> None:
        if ema_params[0].array.dtype.kind == "f":
            _lerp_all(ema_params, current_params, 1.0 - decay)
        else:
            for ema, cur in zip(ema_params, current_params):
                _store(ema, ema.array * decay + cur.array * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """The running (Polyak) mean: ``avg += (param - avg) / (n + 1)`` (in place, lists of tensors)."""

    def swa_update(averaged_params: Sequence[Tensor], current_params: Sequence[Tensor],
                   num_averaged: Any) -> None:
        n = float(num_averaged)
        if averaged_params[0].array.dtype.kind == "f":
            _lerp_all(averaged_params, current_params, 1.0 / (n + 1.0))
        else:
            for avg, cur in zip(averaged_params, current_params):
                _store(avg, avg.array + (cur.array - avg.array) / (n + 1.0))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The exponential moving average of one tensor, returned (not in place)."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"get_ema_avg_fn: invalid decay={decay!r}; expected 0 <= decay <= 1")

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        return Tensor(decay * ema_param.array + (1 - decay) * current_param.array)

    return ema_update


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The running mean of one tensor, returned (not in place)."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        a = averaged_param.array
        return Tensor(a + (current_param.array - a) / (float(num_averaged) + 1))

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose weights are an average of ``model``'s over training.

    Args:
        model: the model to average (deep-copied; the copy is ``self.module``).
        device: accepted for PyTorch compatibility; moves the copy with ``.to(device)``.
        avg_fn: ``avg_fn(averaged, current, num_averaged) -> new averaged`` for one tensor.
        multi_avg_fn: ``multi_avg_fn(averaged_list, current_list, num_averaged)``
            updating lists in place (faster); e.g. ``get_ema_multi_avg_fn(0.999)``.
            With neither, the running mean (SWA, Polyak averaging).
        use_buffers: average buffers too (e.g. BatchNorm's running statistics)
            instead of copying them from ``model``.

    ``update_parameters(model)`` folds the current weights in; the first call
    copies them. ``n_averaged`` (a buffer) counts the calls. Calling the
    averaged model runs ``self.module``.
    """

    def __init__(self, model: Module, device: Any = None, avg_fn: Callable | None = None,
                 multi_avg_fn: MultiAvgFn | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", Tensor(xp.asarray(0, dtype=xp.int64)))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters (and buffers with ``use_buffers``) into the average."""
        if self.use_buffers:
            mine = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            theirs = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            mine = list(self.module.parameters())
            theirs = list(model.parameters())
        if len(mine) != len(theirs):
            raise ValueError(
                f"AveragedModel.update_parameters: the model has {len(theirs)} tensors to average "
                f"but the averaged copy has {len(mine)}; pass the model this average was made from"
            )
        for a, m in zip(mine, theirs):
            if a.shape != m.shape:
                raise ValueError(
                    f"AveragedModel.update_parameters: shape mismatch, averaged {tuple(a.shape)} vs "
                    f"model {tuple(m.shape)}; pass the model this average was made from"
                )
        n = int(self.n_averaged.array)
        if n == 0:
            for a, m in zip(mine, theirs):
                _store(a, m.array)
        else:
            with no_grad():
                self._average(mine, theirs, n)
        if not self.use_buffers:
            for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                _store(b_avg, b_model.array)
        self.n_averaged.array += 1
        bump_version(self.n_averaged)

    def _average(self, mine: list[Tensor], theirs: list[Tensor], n: int) -> None:
        num = Tensor(xp.asarray(n, dtype=xp.int64))
        if self.multi_avg_fn is not None or self.avg_fn is None:
            fn = self.multi_avg_fn or get_swa_multi_avg_fn()
            groups: dict[Any, tuple[list[Tensor], list[Tensor]]] = {}
            for a, m in zip(mine, theirs):
                ga, gm = groups.setdefault(a.array.dtype, ([], []))
                ga.append(a.detach())
                gm.append(m.detach())
            for ga, gm in groups.values():
                fn(ga, gm, num)
        else:
            for a, m in zip(mine, theirs):
                _store(a, self.avg_fn(a.detach(), m.detach(), num).array)


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute BatchNorm running statistics with one pass over ``loader`` (after SWA).

    Each batch (or its first element, for (input, target) pairs) is fed to the
    model in training mode with cumulative averaging; the model's mode is restored.
    """
    momenta = {}
    for module in model.modules():
        if hasattr(module, "reset_running_stats") and hasattr(module, "momentum") \
                and getattr(module, "running_mean", None) is not None:
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None and hasattr(batch, "to"):
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate to ``swa_lr`` over ``anneal_epochs`` steps, then hold it.

    Args:
        optimizer: the optimizer.
        swa_lr: the target learning rate (one value or one per group).
        anneal_epochs: steps of annealing (default 10; 0 jumps at once).
        anneal_strategy: 'cos' (default) or 'linear'.
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | list[float], anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        for lr, group in zip(format_param("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self._anneal_strategy = anneal_strategy
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be an integer >= 0, got {anneal_epochs!r}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2 if self._anneal_strategy == "cos" else t

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[Any]:
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use "
                          "`get_last_lr()`.", UserWarning, stacklevel=2)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha)
                    for g in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev_lrs)]

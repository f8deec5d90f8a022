"""``LRScheduler``: the base class of the learning-rate schedules (PyTorch's).

A schedule owns nothing but a counter (``last_epoch``) and the base learning
rates; each ``step()`` advances the counter and writes the new learning rate
into every ``optimizer.param_groups[i]['lr']``. Constructing a schedule takes
its first step (``last_epoch`` becomes 0), as in PyTorch, so the sequence of
``get_last_lr()`` values after ``k`` calls of ``step()`` is PyTorch's exactly.
"""

from __future__ import annotations

import warnings
from typing import Any

from deepgrad.optim.optimizer import Optimizer
from deepgrad.tensor import Tensor

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where "
    "possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if "
    "epoch is different from None, the closed form is used instead of the new chainable form, "
    "where available."
)


def _copy(value: Any) -> Any:
    return Tensor(value.array.copy()) if isinstance(value, Tensor) else value


def format_param(name: str, optimizer: Optimizer, param: Any) -> list[Any]:
    """One value per param group: a list of that length as it is, or one value repeated."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. {name} has "
                f"{len(param)} values, param_groups has {len(optimizer.param_groups)}."
            )
    else:
        param = [param] * len(optimizer.param_groups)
    return [_copy(p) for p in param]


def group_values(optimizer: Optimizer, key: str) -> list[Any]:
    """``group[key]`` of every param group (tensors copied, so they never alias)."""
    return [_copy(group[key]) for group in optimizer.param_groups]


def set_group_value(group: dict[str, Any], key: str, value: Any) -> None:
    """Set ``group[key]``, in place when it is a tensor (so no one holding it is surprised)."""
    current = group[key]
    if isinstance(current, Tensor):
        current.array[...] = float(value)
    else:
        group[key] = value


class LRScheduler:
    """Base class of the learning-rate schedules (``torch.optim.lr_scheduler.LRScheduler``).

    Args:
        optimizer: the optimizer whose ``param_groups[i]['lr']`` this schedule sets.
        last_epoch: index of the last step taken; -1 (the default) starts afresh.
            Use another value only when resuming, with ``initial_lr`` in every group.

    Subclasses implement ``get_lr()`` (the next learning rates, called inside
    ``step``) and may implement ``_get_closed_form_lr()`` (the rates at
    ``last_epoch`` directly, used by the deprecated ``step(epoch)``).
    """

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", _copy(group["lr"]))
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param 'initial_lr' is not specified in "
                        f"param_groups[{i}] when resuming with last_epoch={last_epoch}; load the "
                        "optimizer's state_dict first, or start with last_epoch=-1"
                    )
        self.base_lrs: list[Any] = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take the first step (``last_epoch`` -1 -> 0)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)

    def get_last_lr(self) -> list[Any]:
        """The learning rates the last ``step()`` set, one per param group."""
        return self._last_lr

    def get_lr(self) -> list[Any]:
        """The next learning rates (called by ``step``; use ``get_last_lr()`` to read them)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def _warn_get_lr_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=3,
            )

    def step(self, epoch: int | None = None) -> None:
        """Advance one step (call it after ``optimizer.step()``). ``epoch`` is deprecated."""
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", True):
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`. Call them in "
                "the opposite order: `optimizer.step()` before `lr_scheduler.step()`, or the "
                "first value of the learning rate schedule is skipped.",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values):
            set_group_value(group, "lr", lr)
        self._last_lr: list[Any] = group_values(self.optimizer, "lr")

"""Whether ops record the graph: ``no_grad`` and ``enable_grad``, as in PyTorch.

The switch is per thread (a data-loading thread never turns off a training
thread's graph), and both classes work as context managers and as decorators.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled


def set_grad_enabled(mode: bool) -> bool:
    """Set grad mode for this thread; returns the previous mode."""
    previous = _state.enabled
    _state.enabled = bool(mode)
    return previous


class _GradMode:
    mode: bool

    def __enter__(self) -> None:
        self._previous = set_grad_enabled(self.mode)

    def __exit__(self, *exc: object) -> None:
        set_grad_enabled(self._previous)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Ops inside do not record the graph: for evaluation and in-place updates."""

    mode = False


class enable_grad(_GradMode):
    """Turn graph recording back on inside a ``no_grad`` block."""

    mode = True

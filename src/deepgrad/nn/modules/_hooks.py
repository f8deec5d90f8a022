"""Calling a module: forward pre-hooks, ``forward``, forward hooks (as ``torch.nn.Module``)."""

from __future__ import annotations

from typing import Any, Callable


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends; ``remove()`` takes the hook off."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class HooksMixin:
    """``Module.__call__`` and the forward hooks; the hook registries are set up by
    ``Module.__init__`` (``_forward_pre_hooks``, ``_forward_hooks`` and their with_kwargs sets)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            f"forward pre-hook of {self._describe()} registered with_kwargs=True "
                            f"must return None or a tuple (args, kwargs), got {result!r}"
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook_id, hook in list(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before forward; it may return new args (or one input).

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs)`` and may
        return ``(args, kwargs)``.
        """
        return _register(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs, hook,
                         prepend, with_kwargs)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after forward; it may return a new output."""
        return _register(self._forward_hooks, self._forward_hooks_with_kwargs, hook, prepend,
                         with_kwargs)


def _register(hooks: Any, with_kwargs_ids: set, hook: Callable, prepend: bool,
              with_kwargs: bool) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if with_kwargs:
        with_kwargs_ids.add(handle.id)
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle

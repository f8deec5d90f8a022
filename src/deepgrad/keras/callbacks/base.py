"""``Callback``, ``CallbackList``, ``History`` and ``LambdaCallback`` (Keras's protocol).

Order of calls in ``fit``: on_train_begin; per epoch on_epoch_begin, per batch
on_train_batch_begin / on_train_batch_end, then (with validation data)
on_test_begin, on_test_batch_begin / _end ..., on_test_end, then on_epoch_end;
finally on_train_end. Callbacks run in the order given, then History, then the
progress bar, as in Keras. ``logs`` hold the running means of the loss and
metrics (and ``val_*`` at epoch end).

For checkpoints a callback may implement ``get_state()`` (JSON-able data, arrays
allowed) and ``set_state(state)``: BackupAndRestore saves and restores them.
"""

from __future__ import annotations

from typing import Any, Callable


class Callback:
    """Base class: override the hooks you need; ``self.model`` and ``self.params`` are set by fit."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    # Keras's aliases for the training batch hooks
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def _close(self) -> None:
        """Release resources (files, progress bars) when training stops abnormally."""


_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
          "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
          "on_predict_batch_begin", "on_predict_batch_end", "on_batch_begin", "on_batch_end")


def _overrides(cb: Callback, hook: str) -> bool:
    """Whether ``cb`` implements ``hook`` (in its class or, as LambdaCallback, on the instance)."""
    if hook in cb.__dict__:
        return True
    method = getattr(type(cb), hook, None)
    return method is not None and method is not getattr(Callback, hook)


class CallbackList:
    """Dispatches each hook to the callbacks that override it (so per-batch hooks cost
    nothing when no callback uses them). Adds History and the progress bar as Keras does."""

    def __init__(self, callbacks: list[Callback] | None = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None, **params: Any) -> None:
        from deepgrad.keras.callbacks.progress import ProgbarLogger

        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback instances, got "
                                f"{type(cb).__name__}")
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        self.progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if self.progbar is None and add_progbar:
            self.progbar = ProgbarLogger()
            self.callbacks.append(self.progbar)
        self.params = params
        for cb in self.callbacks:
            if model is not None:
                cb.set_model(model)
            cb.set_params(params)
        self._by_hook = {h: [cb for cb in self.callbacks if _overrides(cb, h)] for h in _HOOKS}
        # backups run after every other callback: they restore state after the others reset
        # theirs (on_train_begin) and save it after the others updated it (on_epoch_end)
        for hook in ("on_train_begin", "on_epoch_end", "on_train_batch_end"):
            late = [cb for cb in self._by_hook[hook] if getattr(cb, "_runs_last", False)]
            self._by_hook[hook] = [cb for cb in self._by_hook[hook] if cb not in late] + late
        self.train_batch_hooks = bool(self._by_hook["on_train_batch_begin"] or
                                      self._by_hook["on_train_batch_end"] or
                                      self._by_hook["on_batch_begin"] or self._by_hook["on_batch_end"])

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.callbacks)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self._by_hook[hook]:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_train_batch_begin", batch, logs)
        self._call("on_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_train_batch_end", batch, logs)
        self._call("on_batch_end", batch, logs)

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_predict_batch_end", batch, logs)

    def close(self) -> None:
        for cb in self.callbacks:
            cb._close()

    def stateful(self) -> list[tuple[str, Callback]]:
        """(key, callback) of the callbacks with checkpointable state, keys stable across runs."""
        out, counts = [], {}
        for cb in self.callbacks:
            if hasattr(cb, "get_state") and hasattr(cb, "set_state"):
                name = type(cb).__name__
                counts[name] = counts.get(name, 0) + 1
                out.append((f"{name}#{counts[name] - 1}", cb))
        return out


class History(Callback):
    """Records the epoch-end logs: ``history.history['loss']`` ... (returned by ``fit``).

    After a resumed run (BackupAndRestore) it also holds the epochs before the interruption.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def get_state(self) -> dict[str, Any]:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def set_state(self, state: dict[str, Any]) -> None:
        self.epoch = list(state["epoch"])
        self.history = {k: list(v) for k, v in state["history"].items()}


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None,
                 on_train_batch_end: Callable | None = None, **kwargs: Any) -> None:
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin or kwargs.pop("on_batch_begin", None),
                     on_train_batch_end=on_train_batch_end or kwargs.pop("on_batch_end", None))
        if kwargs:
            raise TypeError(f"LambdaCallback: unexpected argument(s) {sorted(kwargs)}")
        for hook, fn in given.items():
            if fn is not None:
                setattr(self, hook, fn)

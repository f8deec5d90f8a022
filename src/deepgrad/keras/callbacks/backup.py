"""Callbacks that write files: ModelCheckpoint and BackupAndRestore.

BackupAndRestore keeps one training checkpoint (``<backup_dir>/training_state.safetensors``,
see :mod:`deepgrad.checkpoint`): weights, optimizer state, RNG states, the data
order, epoch and step, metric accumulators and every callback's state. Run the
same ``fit`` again after a crash or Ctrl-C and it resumes exactly where the
checkpoint was taken; the weights come out bit-identical to an uninterrupted run.
When training finishes the checkpoint is deleted (``delete_checkpoint=True``).
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

from deepgrad.keras.callbacks.base import Callback
from deepgrad.keras.callbacks.monitor import _direction


class ModelCheckpoint(Callback):
    """Save the model (or its weights) at the end of each epoch or every ``save_freq`` batches.

    Args (Keras's): filepath (may hold ``{epoch:02d}`` and log keys, e.g. ``{val_loss:.2f}``),
    monitor='val_loss', verbose=0, save_best_only=False, save_weights_only=False,
    mode='auto', save_freq='epoch', initial_value_threshold=None. Full models are saved as
    ``.keras`` files (or directories), weights as safetensors; every write is atomic.
    """

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: Any = "epoch", initial_value_threshold: float | None = None) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        if save_freq != "epoch" and (not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive integer, got "
                             f"{save_freq!r}")
        self.save_freq = save_freq
        self.mode = _direction(mode, monitor, "ModelCheckpoint")
        self.best = initial_value_threshold if initial_value_threshold is not None else \
            (math.inf if self.mode == "min" else -math.inf)
        self._batches = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch: int, batch: int | None, logs: dict) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, batch=None if batch is None else batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: the filepath {self.filepath!r} refers to {e}, which is "
                           f"not in the logs (available: {sorted(logs)})") from None

    def _save(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        logs = dict(logs or {})
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save the best model only with {self.monitor!r} "
                              f"available, skipping (logs: {sorted(logs)})", stacklevel=2)
                return
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = float(current)
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def get_state(self) -> dict[str, Any]:
        return {"best": self.best, "batches": self._batches}

    def set_state(self, state: dict[str, Any]) -> None:
        self.best, self._batches = float(state["best"]), int(state["batches"])


class BackupAndRestore(Callback):
    """Back up the whole training state so an interrupted ``fit`` resumes exactly.

    Args (Keras's): backup_dir, save_freq='epoch' (or every N batches),
    delete_checkpoint=True (remove the backup once training finishes). Ctrl-C during
    fit saves a checkpoint after the current batch whatever ``save_freq`` is.
    """

    _runs_last = True
    FILENAME = "training_state.safetensors"

    def __init__(self, backup_dir: str | os.PathLike[str], save_freq: Any = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive integer, got "
                             f"{save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.delete_checkpoint = save_freq, delete_checkpoint
        self.path = os.path.join(self.backup_dir, self.FILENAME)

    def _state(self) -> Any:
        state = getattr(self.model, "_fit_state", None)
        if state is None:
            raise RuntimeError("BackupAndRestore works inside model.fit() only")
        return state

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not os.path.exists(self.path):
            return
        from deepgrad import checkpoint

        state = self._state()
        info = checkpoint.load_checkpoint(self.path, self.model, self.model.optimizer)
        extra = info["extra"] or {}
        state.set_state(_plain(extra["fit"]))
        saved = extra.get("callbacks", {})
        for key, cb in state.callbacks.stateful():
            if cb is not self and key in saved:
                cb.set_state(saved[key])
        state.resumed_from = self.path
        if self.params.get("verbose", 1):
            where = f"epoch {state.epoch + 1}" + (f", batch {state.step + 1}" if state.step else "")
            print(f"BackupAndRestore: resuming from {self.path} at {where}")

    def save(self, epoch: int, step: int) -> str:
        """Write the checkpoint for resuming at (epoch, step), atomically; returns its path."""
        from deepgrad import checkpoint

        state = self._state()
        fit = state.get_state()
        fit["epoch"], fit["step"] = epoch, step
        if not step:
            fit["metrics"] = None
        callbacks = {key: cb.get_state() for key, cb in state.callbacks.stateful() if cb is not self}
        config = None
        try:
            from deepgrad.keras.saving import serialize_layer

            config = serialize_layer(self.model)
        except (NotImplementedError, ValueError, TypeError):
            pass
        checkpoint.save_checkpoint(self.path, self.model, self.model.optimizer, epoch=epoch,
                                   step=step, extra={"fit": fit, "callbacks": callbacks},
                                   config=config)
        return self.path

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self.save(epoch + 1, 0)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq != "epoch":
            state = self._state()
            if state.global_step % self.save_freq == 0:
                self.save(state.epoch, state.step)

    def _save_interrupted(self, state: Any) -> str:
        return self.save(state.epoch, state.step)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


def _plain(value: Any) -> Any:
    """Decoded checkpoint data back to plain Python (tensors -> NumPy arrays)."""
    from deepgrad.tensor import Tensor

    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value

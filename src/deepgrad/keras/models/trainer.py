"""The loops behind ``fit``, ``evaluate`` and ``predict``.

Per batch ``fit`` does one slice (or gather) per array, the model's
``train_step`` (forward, loss, backward, optimizer step, metric update) and the
callbacks that implement batch hooks; nothing else runs per batch.

Reproducibility: the order of samples comes from a generator owned by the run
(seeded from deepgrad's global generator when ``fit`` starts), whose state is
recorded at the start of each epoch. A training checkpoint (BackupAndRestore)
stores that state with the global RNG state, the optimizer, the weights, the
metric accumulators and the callbacks' state, so a resumed run replays the
same batches with the same dropout masks: its weights are bit-identical to
those of a run that was never interrupted.

A loss that becomes NaN or infinite stops training at once (that batch's update
is skipped) with a message naming the epoch and batch. Ctrl-C finishes the batch
in progress, saves a checkpoint (through the run's BackupAndRestore, else into
``INTERRUPTED_DIR``) and raises ``TrainingInterrupted`` (a KeyboardInterrupt): caught, it
says where the checkpoint is; uncaught, the program exits without a traceback, the
message printed. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import numpy

from deepgrad import random as _random
from deepgrad.autograd.grad_mode import no_grad
from deepgrad.backend import to_host, xp
from deepgrad.keras.callbacks.base import CallbackList
from deepgrad.keras.layers.tree import flatten, pack_like
from deepgrad.keras.models.data import ArrayData, is_array_data, make_data
from deepgrad.tensor import Tensor


class TrainingInterrupted(KeyboardInterrupt):
    """``fit`` stopped by Ctrl-C after finishing a batch; ``checkpoint`` is the file saved, if any."""

    def __init__(self, message: str, checkpoint: str | None = None, epoch: int = 0, step: int = 0) -> None:
        super().__init__(message)
        self.checkpoint, self.epoch, self.step = checkpoint, epoch, step


class FitState:
    """Where a ``fit`` run stands; what training checkpoints save besides weights and optimizer."""

    def __init__(self, model: Any, data: Any, shuffle: bool, epochs: int) -> None:
        self.model, self.data, self.shuffle, self.epochs = model, data, shuffle, epochs
        self.epoch = 0
        self.step = 0              # the next batch to run in ``epoch``
        self.global_step = 0
        self.generator = _random.Generator(int(_random.rng().integers(2**63)))
        self.epoch_generator_state: dict | None = None
        self.loader_epoch_state: dict | None = None
        self.metrics_state: dict | None = None
        self.interrupt_requested = False
        self.callbacks: CallbackList | None = None
        self.resumed_from: str | None = None

    def _loader_generator(self) -> Any:
        gen = getattr(self.data, "generator", None)
        return gen if isinstance(gen, _random.Generator) else None

    def get_state(self) -> dict[str, Any]:
        loader = self._loader_generator()
        return {"epoch": self.epoch, "step": self.step, "global_step": self.global_step,
                "generator": self.generator.get_state(),
                "epoch_generator": self.epoch_generator_state,
                "loader_generator": loader.get_state() if loader is not None else None,
                "loader_epoch": self.loader_epoch_state,
                "metrics": self.model._compiled.get_state() if self.step else None}

    def set_state(self, state: dict[str, Any]) -> None:
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.global_step = int(state["global_step"])
        self.generator.set_state(state["generator"])
        self.epoch_generator_state = state.get("epoch_generator")
        self.metrics_state = state.get("metrics")
        self.loader_epoch_state = state.get("loader_epoch")
        loader = self._loader_generator()
        if loader is not None and state.get("loader_generator") is not None:
            loader.set_state(state["loader_generator"])


@contextmanager
def _sigint_guard(state: FitState) -> Iterator[None]:
    """During fit, the first Ctrl-C only asks to stop after the current batch."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if state.interrupt_requested:
            signal.signal(signal.SIGINT, previous if callable(previous) else signal.default_int_handler)
            raise KeyboardInterrupt
        state.interrupt_requested = True
        print("\nInterrupted: finishing the current batch (Ctrl-C again to stop at once)...",
              file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# Where Ctrl-C saves the training state of a fit that has no BackupAndRestore callback.
INTERRUPTED_DIR = "deepgrad-interrupted"


def _interrupt(state: FitState, cbs: CallbackList, epoch: int, step: int) -> None:
    saved = None
    for cb in cbs:
        save = getattr(cb, "_save_interrupted", None)
        if save is not None:
            saved = save(state) or saved
    resume = "Run the same fit (with the same BackupAndRestore) again"
    if not saved:
        from deepgrad.keras.callbacks.backup import BackupAndRestore

        fallback = BackupAndRestore(INTERRUPTED_DIR)
        fallback.set_model(state.model)
        saved = fallback.save(state.epoch, state.step)
        resume = (f"Add callbacks=[keras.callbacks.BackupAndRestore({INTERRUPTED_DIR!r})] to the "
                  "same fit and run it again")
    cbs.close()
    message = (f"Training interrupted at epoch {epoch + 1}, after batch {step}; checkpoint saved to "
               f"{saved}. {resume} to resume exactly where it stopped.")
    print(message, file=sys.stderr, flush=True)
    _exit_quietly_if_uncaught()
    raise TrainingInterrupted(message, saved, epoch, step)


def _exit_quietly_if_uncaught() -> None:
    """An uncaught TrainingInterrupted ends the program with status 1 and no traceback: the
    message saying where the checkpoint is has been printed already."""
    previous = sys.excepthook
    if getattr(previous, "_deepgrad_quiet", False):
        return

    def hook(kind: type, value: BaseException, tb: Any) -> None:
        if not issubclass(kind, TrainingInterrupted):
            previous(kind, value, tb)

    hook._deepgrad_quiet = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _nonfinite(model: Any, value: float, epoch: int, step: int, global_step: int) -> None:
    message = (f"fit: the loss became {value} at epoch {epoch + 1}, batch {step + 1} (step "
               f"{global_step + 1}); training stopped and that batch's update was skipped, so the "
               "weights are those after the previous batch. Usual causes: a learning rate that is "
               "too large, exploding gradients (try clipnorm=1.0 or a smaller learning rate), the "
               "log or division of zero in a custom loss or layer, or NaN/inf values in the data.")
    print(message, file=sys.stderr, flush=True)
    model.stop_training = True
    model._stopped_reason = message


def _params(verbose: Any, epochs: int, data: Any, mode: str) -> dict[str, Any]:
    return {"verbose": 1 if verbose == "auto" else verbose, "epochs": epochs, "steps": data.steps,
            "samples": data.n if isinstance(data, ArrayData) else None,
            "batch_size": data.batch_size, "mode": mode}


def _class_weights(data: ArrayData, class_weight: dict) -> None:
    if data.y is None or len(data.y) != 1:
        raise ValueError("fit: class_weight needs a single target array")
    y = to_host(data.y[0])
    labels = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    table = numpy.ones(int(max(max(class_weight), labels.max())) + 1, dtype=numpy.float32)
    for k, v in class_weight.items():
        table[int(k)] = v
    weights = xp.asarray(table[labels.astype(numpy.int64)])
    data.sw = weights if data.sw is None else data.sw * weights


def _validation(validation_data: Any, batch_size: int, steps: int | None) -> Any:
    if validation_data is None:
        return None
    if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3) and \
            is_array_data(validation_data[0]):
        vx, vy = validation_data[0], validation_data[1]
        vsw = validation_data[2] if len(validation_data) == 3 else None
        return make_data(vx, vy, vsw, batch_size, steps, "fit (validation_data)")
    return make_data(validation_data, None, None, batch_size, steps, "fit (validation_data)")


def _batches(data: Any, state: FitState | None, order: Any, start: int, steps: int | None,
             persistent: list | None = None) -> Iterator[tuple[int, Any]]:
    if isinstance(data, ArrayData):
        for step in range(start, data.steps if steps is None else min(steps, data.steps)):
            yield step, data.batch(order, step)
        return
    source = data.source
    if persistent is not None and iter(source) is source:  # a one-shot generator: keep going
        iterator = persistent[0] if persistent else iter(data)
        if not persistent:
            persistent.append(iterator)
    else:
        iterator = iter(data)
    step = 0
    for batch in iterator:
        if steps is not None and step >= steps:
            break
        if step >= start:
            yield step, batch
        step += 1
        if steps is not None and step >= steps:
            break


def fit(model: Any, x: Any, y: Any, *, batch_size: int | None, epochs: int, verbose: Any,
        callbacks: list | None, validation_split: float, validation_data: Any, shuffle: bool,
        class_weight: dict | None, sample_weight: Any, initial_epoch: int,
        steps_per_epoch: int | None, validation_steps: int | None,
        validation_batch_size: int | None, validation_freq: int) -> Any:
    model._assert_compiled("fit")
    data = make_data(x, y, sample_weight, batch_size or 32, steps_per_epoch, "fit")
    val = None
    if validation_split and validation_data is None:
        if not isinstance(data, ArrayData):
            raise ValueError("fit: validation_split works with arrays only; pass validation_data "
                             "for datasets and generators")
        data, val = data.split(float(validation_split))
    if val is None:
        val = _validation(validation_data, validation_batch_size or data.batch_size or 32, validation_steps)
    if class_weight:
        _class_weights(data, class_weight)
    sample_x, sample_y = data.sample()
    model._prepare(sample_x, sample_y, training=True)

    state = FitState(model, data, shuffle, epochs)
    state.epoch = int(initial_epoch)
    model._fit_state = state
    model.stop_training = False
    model._stopped_reason = None
    params = _params(verbose, epochs, data, "fit")
    if steps_per_epoch is not None:
        params["steps"] = steps_per_epoch
    cbs = CallbackList(callbacks, add_history=True, add_progbar=params["verbose"] != 0, model=model,
                       **params)
    state.callbacks = cbs
    compiled = model._compiled
    persistent: list = []
    logs: dict[str, Any] = {}
    try:
        with _sigint_guard(state):
            cbs.on_train_begin()
            while state.epoch < epochs and not model.stop_training:
                epoch = state.epoch
                if state.step == 0:
                    compiled.reset()
                    state.epoch_generator_state = state.generator.get_state()
                    loader = state._loader_generator()
                    state.loader_epoch_state = loader.get_state() if loader is not None else None
                else:  # resuming inside an epoch: replay its order, keep its running metrics
                    state.generator.set_state(state.epoch_generator_state)
                    loader = state._loader_generator()
                    if loader is not None and state.loader_epoch_state is not None:
                        loader.set_state(state.loader_epoch_state)
                    compiled.reset()
                    if state.metrics_state:
                        compiled.set_state(state.metrics_state)
                cbs.on_epoch_begin(epoch)
                order = None
                if shuffle and isinstance(data, ArrayData):
                    order = xp.asarray(state.generator.np.permutation(data.n))
                batch_hooks = cbs.train_batch_hooks
                for step, (bx, by, bsw) in _batches(data, state, order, state.step,
                                                     steps_per_epoch, persistent):
                    if batch_hooks:
                        cbs.on_train_batch_begin(step)
                    value = model.train_step(bx, by, bsw)
                    if value != value or value in (math.inf, -math.inf):
                        _nonfinite(model, value, epoch, step, state.global_step)
                        break
                    state.step = step + 1
                    state.global_step += 1
                    if batch_hooks:
                        cbs.on_train_batch_end(step, compiled.results())
                    if state.interrupt_requested:
                        _interrupt(state, cbs, epoch, step + 1)
                    if model.stop_training:
                        break
                logs = compiled.results()
                if val is not None and (epoch + 1) % validation_freq == 0 and \
                        model._stopped_reason is None:
                    val_logs = _test_loop(model, val, cbs, validation_steps)
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, logs)
                state.epoch, state.step = epoch + 1, 0
                state.metrics_state = None
                if state.interrupt_requested:
                    _interrupt(state, cbs, state.epoch, 0)
            cbs.on_train_end(logs)
    except BaseException:
        cbs.close()
        raise
    finally:
        model._fit_state = None
    return cbs.history


def _test_loop(model: Any, data: Any, cbs: CallbackList, steps: int | None = None) -> dict[str, float]:
    compiled = model._compiled
    compiled.reset()
    cbs.on_test_begin()
    hooks = bool(cbs._by_hook["on_test_batch_begin"] or cbs._by_hook["on_test_batch_end"])
    for step, (bx, by, bsw) in _batches(data, None, None, 0, steps):
        if hooks:
            cbs.on_test_batch_begin(step)
        model.test_step(bx, by, bsw)
        if hooks:
            cbs.on_test_batch_end(step, compiled.results())
    logs = compiled.results()
    cbs.on_test_end(logs)
    return logs


def evaluate(model: Any, x: Any, y: Any, *, batch_size: int | None, verbose: Any, sample_weight: Any,
             steps: int | None, callbacks: list | None, return_dict: bool) -> Any:
    model._assert_compiled("evaluate")
    data = make_data(x, y, sample_weight, batch_size or 32, steps, "evaluate")
    sample_x, sample_y = data.sample()
    model._prepare(sample_x, sample_y, training=False)
    params = _params(verbose, 1, data, "test")
    cbs = CallbackList(callbacks, add_progbar=params["verbose"] != 0, model=model, **params)
    try:
        logs = _test_loop(model, data, cbs, steps)
    except BaseException:
        cbs.close()
        raise
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model: Any, x: Any, *, batch_size: int | None, verbose: Any, steps: int | None = None,
            callbacks: list | None = None) -> Any:
    if batch_size is None and not isinstance(x, (list, tuple, dict)) and hasattr(x, "shape"):
        batch_size = 32 if verbose != 0 or x.shape[0] > 32 else x.shape[0]
    data = make_data(x, None, None, batch_size or 32, steps, "predict")
    sample_x, _ = data.sample()
    model._ensure_built(sample_x)
    params = _params(verbose, 1, data, "predict")
    cbs = CallbackList(callbacks, add_progbar=params["verbose"] != 0, model=model, **params)
    outputs: list[list[Any]] = []
    struct: Any = None
    cbs.on_predict_begin()
    try:
        with no_grad():
            for step, (bx, _, _) in _batches(data, None, None, 0, steps):
                cbs.on_predict_batch_begin(step)
                out = model(bx, training=False)
                struct = out
                outputs.append([to_host(t.array) for t in flatten(out)])
                cbs.on_predict_batch_end(step, None)
    except BaseException:
        cbs.close()
        raise
    cbs.on_predict_end()
    if not outputs:
        raise ValueError("predict: got no batches to predict on")
    merged = [numpy.concatenate(parts, axis=0) for parts in zip(*outputs)]
    if isinstance(struct, Tensor):
        return merged[0]
    return pack_like(struct, merged)


def on_batch(model: Any, x: Any, y: Any, sample_weight: Any, training: bool, return_dict: bool) -> Any:
    model._assert_compiled("train_on_batch" if training else "test_on_batch")
    data = make_data(x, y, sample_weight, None, None, "train_on_batch")
    if not isinstance(data, ArrayData):
        raise ValueError("train_on_batch / test_on_batch take arrays")
    data.batch_size = data.n
    bx, by, bsw = data.batch(None, 0)
    model._prepare(bx, by, training=training)
    value = model.train_step(bx, by, bsw) if training else model.test_step(bx, by, bsw)
    if training and not math.isfinite(value):
        _nonfinite(model, value, 0, 0, 0)
    logs = model._compiled.results()
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values

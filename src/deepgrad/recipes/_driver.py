"""Run a recipe into a run directory, resume one, and evaluate one.

``train`` seeds everything (``keras.utils.set_random_seed``), loads the
recipe's data, builds and compiles its Keras model, and calls ``fit`` with
four callbacks:

* ``RunLogger`` (below): each epoch's seconds, ``metrics.json`` and, for
  recipes of many short epochs, one line every tenth of the run;
* ``keras.callbacks.CSVLogger``: ``metrics.csv``;
* ``keras.callbacks.ModelCheckpoint``: ``model.weights.safetensors``;
* ``keras.callbacks.BackupAndRestore``: the full training checkpoint, from
  which ``resume=True`` continues (it also stores RunLogger's history).

The last two save after every epoch, or, for recipes of many short epochs
(xor: 200, spiral: 100), about ``SAVES`` times per run and after the last one.

Then it evaluates on the test data and draws the curves and sample predictions.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import deepgrad as dg
from deepgrad import keras
from deepgrad.recipes import get_recipe
from deepgrad.recipes.base import Config
from deepgrad.runs import RunDir, plot_curves

__all__ = ["train", "evaluate", "default_out", "make_optimizer", "RunLogger"]

# Recipes with more epochs than this print one line per tenth of the run (RunLogger)
# instead of Keras's progress bar for every epoch.
QUIET_EPOCHS = 20
# The weights and the training checkpoint are written after every epoch, or, for
# recipes of more than this many epochs, about this many times (and after the last).
SAVES = 20


def default_out(name: str) -> Path:
    """Where ``deepgrad train NAME`` writes without ``--out``: ``runs/NAME``."""
    return Path("runs") / name


def make_optimizer(name: str, learning_rate: Any) -> keras.optimizers.Optimizer:
    """The Keras optimizer called ``name`` (``adam``, ``sgd`` ...) with this learning rate
    (a number or a ``keras.optimizers.schedules`` schedule)."""
    try:
        cls = type(keras.optimizers.get(name))
    except ValueError as exc:
        raise ValueError(f"unknown optimizer {name!r}: {exc}") from None
    return cls(learning_rate=learning_rate)


def _fmt(logs: dict[str, Any]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if isinstance(v, float))


class RunLogger(keras.callbacks.Callback):
    """Times each epoch, rewrites ``metrics.json`` every ``save_every`` epochs (and after
    the last) and, when ``every`` > 0, prints every ``every``-th epoch (and the first and
    last). Its history is part of the training checkpoint (``get_state`` / ``set_state``),
    so a resumed run keeps the epochs before the interruption."""

    def __init__(self, run: RunDir, summary: dict[str, Any], every: int, save_every: int = 1) -> None:
        super().__init__()
        self.run, self.summary, self.every, self.save_every = run, summary, every, save_every
        self.history: list[dict[str, Any]] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        row = {"epoch": epoch, **(logs or {}), "seconds": time.perf_counter() - self._start}
        self.history.append(row)
        epochs = self.params.get("epochs", 0)
        if (epoch + 1) % self.save_every == 0 or epoch + 1 == epochs:
            self.run.write_metrics(self.history, self.summary)
        if self.every and (epoch == 0 or (epoch + 1) % self.every == 0 or epoch + 1 == epochs):
            print(f"epoch {epoch + 1}/{epochs} - {_fmt(logs or {})} ({row['seconds']:.2f}s)", flush=True)

    def get_state(self) -> dict[str, Any]:
        return {"history": self.history}

    def set_state(self, state: dict[str, Any]) -> None:
        self.history = [dict(row) for row in state["history"]]


class _EveryK:
    """Mixin: run the callback's epoch-end save only every ``every`` epochs and after the last
    (a recipe of 200 tiny epochs would otherwise spend most of its time writing files)."""

    every = 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.params.get("epochs"):
            super().on_epoch_end(epoch, logs)  # type: ignore[misc]


class _ModelCheckpoint(_EveryK, keras.callbacks.ModelCheckpoint):
    pass


class _BackupAndRestore(_EveryK, keras.callbacks.BackupAndRestore):
    pass


def _say(verbose: bool, *args: Any) -> None:
    if verbose:
        print(*args, flush=True)


def _command(name: str, options: dict[str, Any], out: Path, resume: bool) -> str:
    flags = {"epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr",
             "optimizer": "--optimizer", "seed": "--seed", "data": "--data", "limit": "--limit"}
    parts = ["deepgrad", "train", name]
    parts += [f"{flags[k]} {v}" for k, v in options.items() if v is not None]
    if out != default_out(name):
        parts.append(f"--out {out}")
    return " ".join(parts + (["--resume"] if resume else []))


def _config(name: str, run: RunDir, resume: bool, options: dict[str, Any]) -> tuple[Config, bool]:
    """The run's settings and whether it resumes: the saved ones when resuming, else the
    recipe's defaults; either way overridden by the options given."""
    recipe = get_recipe(name)
    given = {k: v for k, v in options.items() if v is not None}
    if "data" in given:
        given["data"] = str(Path(given["data"]).expanduser().resolve())
    if resume and run.checkpoint.is_file():
        saved = run.read_config()
        if saved.get("recipe") != name:
            raise ValueError(f"{run.path} holds a run of recipe {saved.get('recipe')!r}, not {name!r}; "
                             "resume it with that recipe, or pick another --out")
        return Config.from_dict({**saved, **given}), True
    cfg = Config(recipe=name, **{**recipe.DEFAULTS, **given})
    if cfg.epochs < 1 or cfg.batch_size < 1 or not cfg.lr > 0:
        raise ValueError(f"epochs and batch_size must be >= 1 and lr > 0; got epochs={cfg.epochs}, "
                         f"batch_size={cfg.batch_size}, lr={cfg.lr}")
    return cfg, False


def _build(recipe: Any, cfg: Config, steps_per_epoch: int) -> Any:
    """The recipe's model, compiled with its loss and metrics and the configured optimizer."""
    model = recipe.build_model(cfg)
    schedule = getattr(recipe, "learning_rate", None)
    lr = schedule(cfg, steps_per_epoch) if schedule is not None else cfg.lr
    model.compile(optimizer=make_optimizer(cfg.optimizer, lr), loss=recipe.LOSS,
                  metrics=list(getattr(recipe, "METRICS", [])))
    return model


def train(name: str, *, out: str | os.PathLike[str] | None = None, resume: bool = False,
          epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
          optimizer: str | None = None, seed: int | None = None, data: str | None = None,
          limit: int | None = None, plots: bool = True, verbose: bool = True) -> dict[str, Any]:
    """Train recipe ``name`` into run directory ``out`` (default ``runs/NAME``).

    Options left ``None`` take the recipe's defaults (or, with ``resume``, the
    interrupted run's settings; a larger ``epochs`` extends a finished run).
    Returns the summary written to ``metrics.json``: the test metrics
    (``test_loss``, ``test_accuracy``), the times, the target and the machine.
    """
    recipe = get_recipe(name)
    options = dict(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, seed=seed,
                   data=data, limit=limit)
    run = RunDir(out if out is not None else default_out(name))
    cfg, resuming = _config(name, run, resume, options)
    if resume and not resuming:
        _say(verbose, f"no training checkpoint in {run.path}: starting a fresh run")
    wall_start = time.perf_counter()
    keras.utils.set_random_seed(cfg.seed)
    arrays = recipe.load_data(cfg)
    steps = math.ceil(len(arrays.x_train) / cfg.batch_size)
    model = _build(recipe, cfg, steps)
    run.prepare(resume=resuming)
    run.write_config(cfg.to_dict())
    n_params = sum(p.numel() for p in model.parameters())
    _say(verbose, f"{name}: {len(arrays.x_train)} training and {len(arrays.x_test)} test samples, "
                  f"{n_params:,} parameters, {cfg.optimizer} lr {cfg.lr:g}, batch size {cfg.batch_size}, "
                  f"{cfg.epochs} epochs")
    if resuming:
        _say(verbose, f"resuming from {run.checkpoint}")

    summary: dict[str, Any] = {"recipe": name, "command": _command(name, options, run.path, resume),
                               "config": cfg.to_dict()}
    quiet = cfg.epochs > QUIET_EPOCHS
    save_every = max(1, cfg.epochs // SAVES)
    logger = RunLogger(run, summary, every=max(1, cfg.epochs // 10) if (verbose and quiet) else 0,
                       save_every=save_every)
    weights = _ModelCheckpoint(run.weights, save_weights_only=True)
    backup = _BackupAndRestore(run.backup_dir, delete_checkpoint=False)
    weights.every = backup.every = save_every
    callbacks = [logger, keras.callbacks.CSVLogger(run.metrics_csv, append=resuming), weights, backup]
    try:
        model.fit(arrays.x_train, arrays.y_train, batch_size=cfg.batch_size, epochs=cfg.epochs,
                  verbose=1 if (verbose and not quiet) else 0, callbacks=callbacks, shuffle=True,
                  validation_data=(arrays.x_test, arrays.y_test))
    except keras.TrainingInterrupted:
        print(f"continue with: deepgrad train {name} --out {run.path} --resume", file=sys.stderr)
        raise
    if model.stop_training and len(logger.history) < cfg.epochs:  # fit printed why
        raise FloatingPointError(f"training stopped in epoch {len(logger.history)}: the loss became "
                                 "NaN or infinite; try a smaller --lr")
    test = model.evaluate(arrays.x_test, arrays.y_test, batch_size=256, verbose=0, return_dict=True)
    history = logger.history
    target = getattr(recipe, "TARGET", None)
    summary.update({f"test_{k}": v for k, v in test.items()})
    summary.update({
        "epochs_trained": len(history),
        "train_seconds": sum(row["seconds"] for row in history),
        "wall_seconds": time.perf_counter() - wall_start,
        "parameters": n_params,
        "train_samples": len(arrays.x_train), "test_samples": len(arrays.x_test),
        "target": None if target is None else {"metric": target[0], "min": target[1],
                                               "met": summary.get(target[0], -1) >= target[1]},
        "machine": {"deepgrad": dg.__version__, "python": platform.python_version(),
                    "platform": platform.platform(), "cpus": os.cpu_count()},
    })
    if plots:
        _plots(name, recipe, model, arrays, run, history, verbose)
    run.write_metrics(history, summary)
    _report(name, run, summary, verbose)
    return summary


def _plots(name: str, recipe: Any, model: Any, arrays: Any, run: RunDir, history: list,
           verbose: bool) -> None:
    try:
        plot_curves(history, run.curves, title=name)
        recipe.plot_samples(lambda x: model.predict(x, batch_size=256, verbose=0), arrays, run.samples)
    except ImportError as exc:  # matplotlib is missing: the run itself is fine
        _say(verbose, f"no plots: {exc}")


def _report(name: str, run: RunDir, summary: dict[str, Any], verbose: bool) -> None:
    if not verbose:
        return
    parts = []
    if "test_accuracy" in summary:
        parts.append(f"test accuracy {100 * summary['test_accuracy']:.2f}%")
    parts.append(f"test loss {summary['test_loss']:.4f}")
    target = summary["target"]
    if target is not None:
        what = target["metric"].replace("_", " ")
        least = f"{100 * target['min']:g}%" if target["metric"].endswith("accuracy") else f"{target['min']:g}"
        parts.append(f"target {what} >= {least}: {'met' if target['met'] else 'NOT met'}")
    print(f"{name}: {', '.join(parts)}; {summary['epochs_trained']} epochs in "
          f"{summary['train_seconds']:.1f} s (wall {summary['wall_seconds']:.1f} s)")
    print(f"run directory: {run.path}")
    for label, path in (("curves", run.curves), ("samples", run.samples), ("metrics", run.metrics_csv),
                        ("weights", run.weights), ("checkpoint", run.checkpoint)):
        if path.exists():
            print(f"  {label + ':':12} {path}")
    print(f"evaluate it again with: deepgrad evaluate {run.path}")


def evaluate(run_dir: str | os.PathLike[str], data: str | None = None,
             verbose: bool = True) -> dict[str, float]:
    """Rebuild the run in ``run_dir`` (its config and weights) and evaluate it on the
    recipe's test data; ``data`` overrides the data root it was trained with."""
    run = RunDir(run_dir)
    cfg = Config.from_dict(run.read_config())
    if data is not None:
        cfg.data = str(Path(data).expanduser().resolve())
    if not run.weights.is_file():
        raise FileNotFoundError(f"{run.path} has no {run.weights.name}: the run stopped before its "
                                "first epoch ended; train it again")
    recipe = get_recipe(cfg.recipe)
    keras.utils.set_random_seed(cfg.seed)
    arrays = recipe.load_data(cfg)
    model = _build(recipe, cfg, math.ceil(len(arrays.x_train) / cfg.batch_size))
    model.load_weights(run.weights)
    metrics = model.evaluate(arrays.x_test, arrays.y_test, batch_size=256, verbose=0, return_dict=True)
    metrics = {f"test_{k}": v for k, v in metrics.items()}
    if verbose:
        print(f"{cfg.recipe} ({run.weights}) on {len(arrays.x_test)} test samples:")
        for k, v in metrics.items():
            print(f"  {k}: {100 * v:.2f}%" if k.endswith("accuracy") else f"  {k}: {v:.4f}")
    return metrics

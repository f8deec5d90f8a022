"""Run directories: everything one ``deepgrad train`` leaves behind.

A run directory (``runs/<recipe>`` unless ``--out`` says otherwise) holds::

    config.json                 the recipe and every setting the run used
    metrics.csv                 one row per epoch (Keras's CSVLogger: epoch from 0, then
                                accuracy, loss, val_accuracy, val_loss ...)
    metrics.json                the same history with each epoch's seconds, the final
                                test metrics, the times and the machine
    curves.png                  loss and accuracy per epoch, training and validation
    samples.png                 sample predictions (or reconstructions) on test data
    model.weights.safetensors   the weights after the last epoch (ModelCheckpoint)
    backup/training_state.safetensors
                                the full training checkpoint (BackupAndRestore): weights,
                                optimizer, random states, epoch, callbacks' state

``deepgrad train RECIPE --resume`` continues from the training checkpoint,
exactly as if the run had never stopped (or, with a larger ``--epochs``, goes
on training a finished run). Both checkpoint files are safetensors written by
:mod:`deepgrad.checkpoint`: written atomically, and never unpickled.

matplotlib draws the PNGs; it is imported only when a plot is made (with the
non-interactive Agg backend), so training works without it and says how to
install it.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from deepgrad.checkpoint import atomic_write

__all__ = [
    "RunDir", "plot_curves", "plot_decision_boundary", "plot_image_predictions", "plot_reconstructions",
]

# ---------------------------------------------------------------- files


# ---------------------------------------------------------------- the run directory


class RunDir:
    """The files of one training run (see the module docstring for the layout)."""

    FILES = ("config.json", "metrics.csv", "metrics.json", "curves.png", "samples.png",
             "model.weights.safetensors")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def metrics_json(self) -> Path:
        return self.path / "metrics.json"

    @property
    def curves(self) -> Path:
        return self.path / "curves.png"

    @property
    def samples(self) -> Path:
        return self.path / "samples.png"

    @property
    def weights(self) -> Path:
        return self.path / "model.weights.safetensors"

    @property
    def backup_dir(self) -> Path:
        return self.path / "backup"

    @property
    def checkpoint(self) -> Path:
        """The training checkpoint BackupAndRestore writes in ``backup_dir``."""
        return self.backup_dir / "training_state.safetensors"

    def prepare(self, resume: bool) -> None:
        """Create the directory; a fresh run removes the files of an earlier one."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not resume:
            for name in self.FILES:
                (self.path / name).unlink(missing_ok=True)
            self.checkpoint.unlink(missing_ok=True)

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write(self.config, (json.dumps(config, indent=2) + "\n").encode())

    def read_config(self) -> dict[str, Any]:
        if not self.config.is_file():
            raise FileNotFoundError(
                f"{self.path} is not a run directory: it has no config.json "
                "(make one with: deepgrad train RECIPE --out DIR)")
        return json.loads(self.config.read_text())

    def write_metrics(self, history: Sequence[dict[str, Any]], summary: dict[str, Any]) -> None:
        """``metrics.json``: the summary plus ``history``, one dict per epoch."""
        doc = dict(summary, history=list(history))
        atomic_write(self.metrics_json, (json.dumps(doc, indent=2) + "\n").encode())

    def read_metrics(self) -> dict[str, Any]:
        return json.loads(self.metrics_json.read_text())


# ---------------------------------------------------------------- plots


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("deepgrad draws its plots with matplotlib, which is not installed: "
                          "pip install matplotlib (or pip install 'deepgrad[plot]')") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    atomic_write(path, buffer.getvalue())


def plot_curves(history: Sequence[dict[str, Any]], path: str | os.PathLike[str], title: str = "") -> None:
    """Loss (and accuracy, when recorded) per epoch, training and validation."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    panels = [m for m in ("loss", "accuracy") if any(m in row for row in history)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    epochs = [row["epoch"] + 1 for row in history]  # Keras counts epochs from 0
    for ax, metric in zip(axes[0], panels):
        for key, label in ((metric, "training"), (f"val_{metric}", "validation")):
            values = [row.get(key) for row in history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, marker="o" if len(epochs) <= 20 else None, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        if metric == "loss" and all(row.get("loss", 1) > 0 for row in history):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)
    plt.close(fig)


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray,
                           path: str | os.PathLike[str], title: str = "", margin: float = 0.5) -> None:
    """The model's probability of class 1 over the plane, with the labelled points on top.

    ``predict`` maps ``(n, 2)`` points to ``(n,)`` probabilities of class 1.
    """
    plt = _pyplot()
    lo, hi = x.min(0) - margin, x.max(0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    prob = np.asarray(predict(grid)).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.6)
    ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=1)
    right = (np.asarray(predict(x.astype(np.float32))) > 0.5) == (y > 0.5)
    ax.scatter(x[right, 0], x[right, 1], c=y[right], cmap="RdBu", vmin=0, vmax=1, edgecolors="w", s=18)
    ax.scatter(x[~right, 0], x[~right, 1], c="yellow", marker="X", edgecolors="k", s=50,
               label=f"misclassified ({int((~right).sum())})")
    if (~right).any():
        ax.legend(loc="upper right")
    ax.set_aspect("equal")
    ax.set_title(title or f"decision boundary, {100 * right.mean():.1f}% correct")
    _save(fig, path)
    plt.close(fig)


def plot_image_predictions(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                           path: str | os.PathLike[str], title: str = "") -> None:
    """A grid of test images titled ``predicted (true)``, mistakes in red."""
    plt = _pyplot()
    n = len(images)
    cols = min(n, 8)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.6 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, y, p in zip(axes.ravel(), images, labels, predicted):
        ax.imshow(img.reshape(img.shape[-2:]) if img.ndim > 2 else img, cmap="gray_r")
        ok = int(y) == int(p)
        ax.set_title(f"{int(p)}" + ("" if ok else f" ({int(y)})"), color="k" if ok else "red", fontsize=10)
    fig.suptitle(title or "predicted (true label where wrong)")
    _save(fig, path)
    plt.close(fig)


def plot_reconstructions(originals: np.ndarray, reconstructions: np.ndarray,
                         path: str | os.PathLike[str], title: str = "") -> None:
    """Originals on the top row, their reconstructions below."""
    plt = _pyplot()
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(1.2 * n, 2.7), squeeze=False)
    for i in range(n):
        for row, img in ((0, originals[i]), (1, reconstructions[i])):
            ax = axes[row, i]
            ax.imshow(np.squeeze(img), cmap="gray", vmin=0, vmax=1)
            ax.axis("off")
    axes[0, 0].set_title("input", fontsize=9, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=9, loc="left")
    if title:
        fig.suptitle(title)
    _save(fig, path)
    plt.close(fig)

"""The progress bar of ``fit`` / ``evaluate`` / ``predict`` (tqdm), Keras's verbose modes.

verbose=1: a bar per epoch counting samples, with the running loss and
metrics, elapsed time, ETA and samples/s; at the epoch's end the line shows the
epoch's metrics and validation metrics. verbose=2: one line per epoch. The bar
refreshes at most 10 times a second, so it costs about a microsecond per batch. When stdout is not a terminal (a log
file, a pipe) the bar is replaced by one line per epoch, as Keras does.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from deepgrad.keras.callbacks.base import Callback


def format_logs(logs: dict | None) -> str:
    """``'loss: 0.1234 - accuracy: 0.9500'`` (small values in scientific notation, as Keras)."""
    parts = []
    for key, value in (logs or {}).items():
        if isinstance(value, (int, float)):
            v = float(value)
            parts.append(f"{key}: {v:.4f}" if v == 0 or abs(v) >= 1e-3 else f"{key}: {v:.4e}")
    return " - ".join(parts)


class ProgbarLogger(Callback):
    """Prints progress (added by ``fit`` when ``verbose`` is not 0)."""

    def __init__(self, count_mode: str | None = None) -> None:
        super().__init__()
        self.bar: Any = None
        self._seen = 0
        self._start = 0.0
        self._last = 0.0
        self._steps_done = 0

    @property
    def verbose(self) -> int:
        v = self.params.get("verbose", 1)
        return 1 if v == "auto" else int(v)

    def _open(self, total: int | None, unit: str) -> None:
        """A tqdm bar on a terminal; elsewhere (logs, pipes) one line when the pass ends."""
        self._seen = 0
        self._unit = unit
        self._start = self._last = time.perf_counter()
        self._total = total
        if not (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()):
            self.bar = None
            self._line_mode = True
            return
        from tqdm import tqdm

        self._line_mode = False
        self.bar = tqdm(total=total, unit=unit, unit_scale=False, file=sys.stdout, dynamic_ncols=True,
                        leave=True, mininterval=0.1,
                        bar_format="{n_fmt}/{total_fmt}{unit} |{bar:24}| {elapsed}<{remaining}, "
                                   "{rate_fmt}{postfix}")

    def _advance(self, logs: dict | None) -> None:
        samples = self.params.get("samples")
        if samples:
            self._seen = min(self._seen + self.params.get("batch_size", 1), samples)
        else:
            self._seen += 1
        if self.bar is None:
            return
        now = time.perf_counter()
        if now - self._last >= 0.1:
            self._last = now
            self.bar.set_postfix_str(format_logs(logs), refresh=False)
        self.bar.update(self._seen - self.bar.n)

    def _finish(self, logs: dict | None) -> None:
        if self.bar is not None:
            total = self.bar.total
            if total is not None:
                self.bar.update(total - self.bar.n)
            self.bar.set_postfix_str(format_logs(logs), refresh=True)
            self.bar.close()
            self.bar = None
        elif getattr(self, "_line_mode", False):
            self._line_mode = False
            elapsed = time.perf_counter() - self._start
            done = self._seen or 1
            rate = done / elapsed if elapsed > 0 else float("inf")
            text = format_logs(logs)
            print(f"{done}/{self._total or done}{self._unit} - {elapsed:.1f}s - {rate:.0f}{self._unit}/s"
                  + (f" - {text}" if text else ""), file=sys.stdout, flush=True)

    # --- fit --------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.params.get("mode", "fit") != "fit" or not self.verbose:
            return
        print(f"Epoch {epoch + 1}/{self.params.get('epochs')}", file=sys.stdout, flush=True)
        self._steps_done = 0
        self._start = time.perf_counter()
        if self.verbose == 1:
            samples = self.params.get("samples")
            self._open(samples or self.params.get("steps"), " samples" if samples else " steps")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._steps_done += 1
        if self.verbose == 1:
            self._advance(logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.params.get("mode", "fit") != "fit" or not self.verbose:
            return
        if self.verbose == 1:
            self._finish(logs)
            return
        elapsed = time.perf_counter() - self._start
        steps = self._steps_done or 1
        print(f"{steps}/{self.params.get('steps') or steps} - {elapsed:.0f}s - "
              f"{1000 * elapsed / steps:.0f}ms/step - {format_logs(logs)}", file=sys.stdout,
              flush=True)

    # --- evaluate / predict ------------------------------------------------------------------
    def on_test_begin(self, logs: dict | None = None) -> None:
        if self.params.get("mode") == "test" and self.verbose == 1:
            samples = self.params.get("samples")
            self._open(samples or self.params.get("steps"), " samples" if samples else " steps")

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.params.get("mode") == "test" and self.verbose == 1:
            self._advance(logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        if self.params.get("mode") == "test":
            self._finish(logs)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        if self.verbose == 1:
            samples = self.params.get("samples")
            self._open(samples or self.params.get("steps"), " samples" if samples else " steps")

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.verbose == 1:
            self._advance(None)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._finish(None)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

"""The session's points: the playground generators, or an uploaded CSV parsed strictly.

A CSV holds one labelled 2-D point per line, ``x,y,label``, with an optional
header line (``x,y,label``). Coordinates must lie in the playground's view,
[-6, 6]. Labels that are all -1/+1 (or all 0/1) make a classification set,
anything else in [-1, 1] a regression set. Size and row count are capped;
any other content is refused with the line number and the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepgrad.data.datasets.playground import playground_data

from .state import PlaygroundState

__all__ = ["CsvData", "CsvError", "parse_csv", "make_data", "dataset_previews",
           "MAX_CSV_BYTES", "MAX_CSV_ROWS", "MIN_CSV_ROWS"]

MAX_CSV_BYTES = 1_000_000
MAX_CSV_ROWS = 5000
MIN_CSV_ROWS = 10
EXTENT = 6.0


class CsvError(ValueError):
    """An uploaded CSV that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class CsvData:
    points: np.ndarray   # (n, 2) float32
    labels: np.ndarray   # (n,) float32: +1/-1 for classification, [-1, 1] for regression
    kind: str            # "classification" or "regression"

    def usable_for(self, problem: str) -> bool:
        return problem == "regression" or self.kind == "classification"


def _number(text: str) -> float | None:
    text = text.strip()
    if not text or len(text) > 40:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_csv(data: bytes | str, max_bytes: int = MAX_CSV_BYTES, max_rows: int = MAX_CSV_ROWS) -> CsvData:
    """Parse ``x,y,label`` lines; raise :class:`CsvError` naming the first bad line."""
    if len(data) > max_bytes:
        raise CsvError(f"the CSV is {len(data)} bytes; at most {max_bytes} are accepted")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise CsvError(f"the CSV is not UTF-8 text (byte {error.start} is {data[error.start]:#04x})") from None
    rows: list[tuple[float, float, float]] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        values = [_number(cell) for cell in cells]
        if number == 1 and len(cells) == 3 and all(v is None for v in values) \
                and all(c.strip().replace("_", "").isalnum() for c in cells):
            continue  # a header such as x,y,label
        if len(cells) != 3:
            raise CsvError(f"line {number}: expected 3 comma-separated values x,y,label; got {len(cells)}: "
                           f"{line[:60]!r}")
        if any(v is None for v in values):
            bad = cells[values.index(None)]
            raise CsvError(f"line {number}: {bad.strip()[:40]!r} is not a finite number")
        x, y, label = values
        if abs(x) > EXTENT or abs(y) > EXTENT:
            raise CsvError(f"line {number}: the point ({x:g}, {y:g}) is outside the playground's view "
                           f"[-6, 6] x [-6, 6]; scale your points into it")
        if abs(label) > 1:
            raise CsvError(f"line {number}: the label {label:g} is outside [-1, 1]; use -1/+1 or 0/1 for "
                           "classes, or scale regression targets into [-1, 1]")
        rows.append((x, y, label))
        if len(rows) > max_rows:
            raise CsvError(f"the CSV has more than {max_rows} points; at most {max_rows} are accepted")
    if len(rows) < MIN_CSV_ROWS:
        raise CsvError(f"the CSV has {len(rows)} points; at least {MIN_CSV_ROWS} are needed "
                       "(some for training, some for testing)")
    array = np.asarray(rows, dtype=np.float64)
    labels = array[:, 2]
    values = set(np.unique(labels).tolist())
    if values <= {-1.0, 1.0}:
        kind = "classification"
    elif values <= {0.0, 1.0}:
        kind, labels = "classification", np.where(labels > 0, 1.0, -1.0)
    else:
        kind = "regression"
    return CsvData(array[:, :2].astype(np.float32), labels.astype(np.float32), kind)


def make_data(state: PlaygroundState, csv: CsvData | None) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` for the state: generated with its seed,
    noise and split, or the uploaded CSV shuffled and split the same way."""
    if state.active_dataset != "csv":
        (xtr, ytr), (xte, yte) = playground_data(state.active_dataset, noise=state.noise,
                                                 perc_train=state.percTrainData, generator=state.seed)
        return xtr, ytr, xte, yte
    if csv is None:
        raise CsvError("no CSV was uploaded in this session")
    rng = np.random.default_rng(state.seed)
    perm = rng.permutation(len(csv.points))
    split = max(1, min(len(perm) - 1, int(math.floor(len(perm) * state.percTrainData / 100))))
    train, test = perm[:split], perm[split:]
    return csv.points[train], csv.labels[train], csv.points[test], csv.labels[test]


def dataset_previews(num_samples: int = 200) -> dict[str, list[list[float]]]:
    """A few points of every generated data set, ``[x, y, label]``, for the page's thumbnails."""
    from deepgrad.data.datasets.playground import PLAYGROUND_DATASETS

    previews = {}
    for name, (fn, classify) in PLAYGROUND_DATASETS.items():
        rng = np.random.default_rng(1)
        pts, labels = fn(num_samples, 0, rng, "pm1") if classify else fn(num_samples, 0, rng)
        previews[name] = np.round(np.column_stack([pts, labels]).astype(np.float64), 3).tolist()
    return previews

"""One playground session (a browser tab): its data, network, training loop and budget.

A :class:`Session` is driven by the server's tick loop: messages from the page
only change settings and set flags; all computation (training steps, the
heat maps, the losses) happens in :meth:`Session.train` and
:meth:`Session.snapshot`, which the server calls under the session's lock,
at most ``steps_per_second`` training steps per second (a token bucket) and
at most ``CHUNK_SECONDS`` of work per call. :class:`SessionManager` holds the
sessions, refuses new ones past ``max_sessions`` and drops the ones idle for
``idle_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from dataclasses import replace
from typing import Any
from collections.abc import Callable, Mapping

import numpy as np

from .data import CsvData, make_data
from .network import GRID, THUMB, PlaygroundNet, feature_matrix, grid_points, quantize
from .state import DEFAULTS, FEATURES, MAX_SEED, PlaygroundState, StateError, apply_changes

__all__ = ["Session", "SessionManager", "SessionLimitError", "StepBudget", "CHUNK_SECONDS"]

CHUNK_SECONDS = 0.06       # the most training time one call to Session.train spends
MAX_HISTORY = 400          # points kept for the loss chart (halved when full)
MAX_WEIGHT = 100.0         # a weight or bias typed in the page must lie in [-MAX_WEIGHT, MAX_WEIGHT]
DATA_KEYS = {"problem", "dataset", "regDataset", "noise", "percTrainData", "seed"}
NETWORK_KEYS = {*FEATURES, "networkShape", "activation", "loss", "dropout", "batchNorm"}
_THUMB_INDEX = (np.arange(0, GRID, GRID // THUMB)[:, None] * GRID + np.arange(0, GRID, GRID // THUMB)).ravel()


class SessionLimitError(RuntimeError):
    """Too many sessions are open."""


class StepBudget:
    """A token bucket: ``rate`` training steps per second, bursts of ``burst`` seconds' worth."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic, burst: float = 0.25) -> None:
        self.rate, self.clock = float(rate), clock
        self.capacity = max(1.0, rate * burst)
        self.tokens, self.stamp = self.capacity, clock()

    def available(self) -> int:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return int(self.tokens)

    def spend(self, steps: int) -> None:
        self.tokens -= steps

    def wait_time(self) -> float:
        """Seconds until at least one step is available."""
        return max(0.0, (1.0 - self.tokens) / self.rate) if self.rate > 0 else 1.0


def _num(value: float) -> float | None:
    """A float for JSON: 5 significant digits, ``None`` for NaN / infinity."""
    return float(f"{value:.5g}") if math.isfinite(value) else None


def _nums(values: Any) -> Any:
    if isinstance(values, list):
        return [_nums(v) for v in values]
    return _num(float(values))


class Session:
    """The training session behind one page: settings, data, network and progress."""

    def __init__(self, sid: str, state: PlaygroundState, steps_per_second: float = 1000.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.id = sid
        self.state = state
        self.clock = clock
        self.last_active = clock()
        self.budget = StepBudget(steps_per_second, clock)
        self.lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.closed: str | None = None      # why the session was dropped
        self.sockets = 0                    # pages attached right now
        self.csv: CsvData | None = None
        self.playing = False
        self.step_target: int | None = None
        self.focus: tuple[int, int] | None = None
        self.errors: list[dict[str, Any]] = []
        self.pending: set[str] = {"state", "data", "network", "update"}
        self._grid_cache: dict[tuple[str, ...], np.ndarray] = {}
        self._load_data()
        self._build()

    # --- building ---------------------------------------------------------------
    def _load_data(self) -> None:
        xtr, ytr, xte, yte = make_data(self.state, self.csv)
        self.points = (xtr, ytr, xte, yte)
        self.pending |= {"data", "update"}

    def _build(self) -> None:
        st = self.state
        self.net = PlaygroundNet(st)
        xtr, ytr, xte, yte = self.points
        self.train_x, self.test_x = feature_matrix(xtr, st.features), feature_matrix(xte, st.features)
        self.rng = np.random.default_rng([st.seed, 11])
        self.perm = self.rng.permutation(len(xtr))
        self.cursor = 0
        self.epoch = 0
        self.steps = 0
        self.history: list[list[float | None]] = []
        self.grad_norms: list[float] = [0.0] * len(self.net.linears)
        self._norm_sum = np.zeros(len(self.net.linears))
        self._norm_count = 0
        self.playing = False
        self.step_target = None
        self.focus = None
        self.pending |= {"network", "update", "state"}

    def grid_features(self, n: int = GRID) -> np.ndarray:
        key = (str(n), *self.state.features)
        if key not in self._grid_cache:
            self._grid_cache = {key: feature_matrix(grid_points(n), self.state.features)}
        return self._grid_cache[key]

    # --- settings ---------------------------------------------------------------
    def touch(self) -> None:
        self.last_active = self.clock()

    def apply(self, changes: Mapping[str, Any]) -> None:
        """Validate and apply settings; raises :class:`StateError` and changes nothing on error."""
        new = apply_changes(self.state, changes)
        if new.active_dataset == "csv":
            if self.csv is None:
                raise StateError("dataset", "no CSV has been uploaded in this session: upload one "
                                            "(x,y,label per line) or choose another data set")
            if not self.csv.usable_for(new.problem):
                raise StateError("problem", "the uploaded CSV has regression targets, not -1/+1 or 0/1 "
                                            "classes: it can only be used for regression")
        changed = {key for key in changes if getattr(new, key) != getattr(self.state, key)}
        old, self.state = self.state, new
        if changed & DATA_KEYS or (new.active_dataset != old.active_dataset):
            self._load_data()
            self._build()
        elif changed & NETWORK_KEYS:
            self._build()
        else:
            self.net.update_hyperparameters(new)
        self.pending |= {"state", "update"}

    def load_csv(self, csv: CsvData) -> None:
        """Use an uploaded data set: switch to it (and to its problem type) and start over."""
        self.csv = csv
        problem = csv.kind
        key = "dataset" if problem == "classification" else "regDataset"
        self.state = replace(self.state, problem=problem, **{key: "csv"})
        self._load_data()
        self._build()

    def reset(self) -> None:
        """New weights from the seed, epoch 0, paused (the playground's reset)."""
        self._build()

    def regenerate(self) -> None:
        """New data (and weights) from a fresh seed."""
        self.state = replace(self.state, seed=secrets.randbelow(MAX_SEED))
        self._load_data()
        self._build()

    def set_param(self, kind: str, layer: Any, node: Any, src: Any, value: Any) -> None:
        """Edit one weight (``kind="weight"``, ``layer``'s link ``src -> node``) or one bias."""
        def index(name: str, v: Any, size: int) -> int:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < size:
                raise StateError(name, f"{kind} edit: {name} must be an index from 0 to {size - 1}; got {v!r}")
            return v
        layers = self.net.linears
        layer = index("layer", layer, len(layers))
        out_features, in_features = layers[layer].weight.shape
        node = index("node", node, out_features)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or abs(value) > MAX_WEIGHT:
            raise StateError("value", f"a {kind} must be a number from {-MAX_WEIGHT:g} to {MAX_WEIGHT:g}; "
                                      f"got {value!r}")
        if kind == "weight":
            self.net.set_weight(layer, node, index("source", src, in_features), float(value))
        else:
            self.net.set_bias(layer, node, float(value))
        self.pending.add("update")

    def set_focus(self, focus: Any) -> None:
        """The node whose map the page shows large: ``[layer, index]`` (layer 0 = the inputs) or None."""
        if focus is None:
            self.focus = None
        else:
            sizes = self.layer_sizes()
            if (not isinstance(focus, (list, tuple)) or len(focus) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in focus)
                    or not 0 <= focus[0] < len(sizes) or not 0 <= focus[1] < sizes[focus[0]]):
                raise StateError("focus", f"focus must be [layer, index] of a node of this network; got {focus!r}")
            self.focus = (focus[0], focus[1])
        self.pending.add("update")

    def layer_sizes(self) -> list[int]:
        return [len(self.state.features), *self.state.networkShape, self.net.linears[-1].weight.shape[0]]

    # --- training ---------------------------------------------------------------
    def wants_training(self) -> bool:
        return self.playing or (self.step_target is not None and self.epoch < self.step_target)

    def request_step(self) -> None:
        """The Step button: train to the end of the next epoch (the playground's one step)."""
        self.playing = False
        self.step_target = self.epoch + 1
        self.pending.add("state")

    def train(self, max_steps: int, seconds: float = CHUNK_SECONDS) -> int:
        """Up to ``max_steps`` mini-batch steps within ``seconds``; returns the number done."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is reported
            return self._train(max_steps, seconds)

    def _train(self, max_steps: int, seconds: float) -> int:
        xtr, ytr = self.points[0], self.points[1]
        n, done, start = len(xtr), 0, time.perf_counter()
        batch = self.state.batchSize
        while done < max_steps and self.wants_training() and time.perf_counter() - start < seconds:
            if self.cursor >= n:
                self.perm, self.cursor = self.rng.permutation(n), 0
            idx = self.perm[self.cursor:self.cursor + batch]
            self.cursor += len(idx)
            done += 1
            if len(idx) >= 2 or not self.state.batchNorm:  # batch norm cannot learn from one point
                loss, norms = self.net.train_step(self.train_x[idx], ytr[idx])
                self.steps += 1
                self._norm_sum += norms
                self._norm_count += 1
                if not math.isfinite(loss):
                    self.playing, self.step_target = False, None
                    self.errors.append({"field": None, "message":
                                        f"training diverged at epoch {self.epoch}: the loss became NaN or "
                                        "infinite. Lower the learning rate (or the regularization rate) "
                                        "and press Reset."})
                    self.pending.add("state")
                    break
            if self.cursor >= n:
                self.epoch += 1
        if self.step_target is not None and self.epoch >= self.step_target:
            self.step_target = None
            self.pending.add("state")
        if done:
            self.pending.add("update")
        return done

    # --- messages ---------------------------------------------------------------
    def state_message(self) -> dict[str, Any]:
        return {"type": "state", "state": self.state.to_json(), "query": self.state.to_query(),
                "playing": self.playing, "csv": None if self.csv is None else
                {"rows": len(self.csv.points), "kind": self.csv.kind}}

    def data_message(self) -> dict[str, Any]:
        xtr, ytr, xte, yte = self.points
        pack = lambda x, y: np.round(np.column_stack([x, y]).astype(np.float64), 3).tolist()  # noqa: E731
        return {"type": "data", "train": pack(xtr, ytr), "test": pack(xte, yte),
                "classify": self.state.classify}

    def network_message(self) -> dict[str, Any]:
        feats = self.grid_features()[_THUMB_INDEX]
        scale = np.maximum(np.abs(self.grid_features()).max(axis=0), 1e-6)
        return {"type": "network", "layers": self.layer_sizes(),
                "features": [FEATURES[k] for k in self.state.features], "softmax": self.state.softmax,
                "inputMaps": [quantize(feats[:, j] / scale[j]) for j in range(feats.shape[1])],
                "thumb": THUMB, "grid": GRID}

    def snapshot(self) -> dict[str, Any]:
        """The update message: losses, history, decision map, every node's map, weights, diagnostics."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        grid = self.grid_features()
        out, hidden = self.net.forward_all(grid)
        xtr, ytr, xte, yte = self.points
        train_loss = self.net.evaluate(self.train_x, ytr)
        test_loss = self.net.evaluate(self.test_x, yte)
        point = [self.epoch, _num(train_loss), _num(test_loss)]
        if not self.history or self.history[-1][0] != self.epoch:
            self.history.append(point)
        else:
            self.history[-1] = point
        if len(self.history) > MAX_HISTORY:  # keep every other point, and the latest
            last, self.history = self.history[-1], self.history[::2]
            if self.history[-1] is not last:
                self.history.append(last)
        outputs = [-out, out] if self.state.softmax else [out]
        maps = [[quantize(h[_THUMB_INDEX, j]) for j in range(h.shape[1])] for h in hidden]
        maps.append([quantize(o[_THUMB_INDEX]) for o in outputs])
        focus_map = None
        if self.focus is not None:
            layer, index = self.focus
            if layer == 0:
                column = grid[:, index]
                focus_map = quantize(column / max(float(np.abs(column).max()), 1e-6))
            elif layer <= len(hidden):
                focus_map = quantize(hidden[layer - 1][:, index])
            else:
                focus_map = quantize(outputs[index])
        if self._norm_count:
            self.grad_norms = (self._norm_sum / self._norm_count).tolist()
            self._norm_sum[:] = 0
            self._norm_count = 0
        gap = test_loss - train_loss
        return {
            "type": "update", "epoch": self.epoch, "steps": self.steps, "playing": self.playing,
            "trainLoss": _num(train_loss), "testLoss": _num(test_loss), "history": self.history,
            "heat": quantize(out), "maps": maps, "focus": None if self.focus is None else list(self.focus),
            "focusMap": focus_map, "weights": _nums(self.net.weights()), "biases": _nums(self.net.biases()),
            "diagnostics": {"gradNorm": _nums(self.grad_norms),
                            "deadRelu": self.net.dead_relu_fraction(self.train_x),
                            "gap": _num(gap)},
        }

    def outgoing(self) -> list[dict[str, Any]]:
        """The messages owed to the page, in order; clears the flags."""
        messages: list[dict[str, Any]] = [{"type": "error", **e} for e in self.errors]
        self.errors = []
        makers = (("state", self.state_message), ("data", self.data_message),
                  ("network", self.network_message), ("update", self.snapshot))
        for flag, make in makers:
            if flag in self.pending:
                messages.append(make())
        self.pending.clear()
        return messages

    def status(self) -> dict[str, Any]:
        """A short summary for the HTTP API."""
        xtr, ytr, xte, yte = self.points
        return {"session": self.id, "state": self.state.to_json(), "query": self.state.to_query(),
                "epoch": self.epoch, "steps": self.steps, "playing": self.playing,
                "trainLoss": _num(self.net.evaluate(self.train_x, ytr)),
                "testLoss": _num(self.net.evaluate(self.test_x, yte)),
                "numTrain": len(xtr), "numTest": len(xte)}


class SessionManager:
    """All sessions of a server: creation with a cap, lookup, and dropping idle ones."""

    def __init__(self, max_sessions: int = 16, idle_timeout: float = 900.0, steps_per_second: float = 1000.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.steps_per_second = steps_per_second
        self.clock = clock
        self.sessions: dict[str, Session] = {}

    def create(self, state: PlaygroundState = DEFAULTS) -> Session:
        self.reap()
        if len(self.sessions) >= self.max_sessions:
            raise SessionLimitError(f"the server already runs {len(self.sessions)} sessions (its limit); "
                                    "close another tab or wait for an idle one to expire")
        sid = secrets.token_urlsafe(12)
        session = Session(sid, state, self.steps_per_second, self.clock)
        self.sessions[sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        self.reap()
        return self.sessions.get(sid) if isinstance(sid, str) else None

    def drop(self, sid: str, reason: str = "the session was closed") -> None:
        session = self.sessions.pop(sid, None)
        if session is not None:
            session.closed = reason
            session.playing = False
            session.wake.set()

    def reap(self) -> list[str]:
        """Drop the sessions idle longer than ``idle_timeout``; returns their ids."""
        now = self.clock()
        idle = [sid for sid, s in self.sessions.items() if now - s.last_active > self.idle_timeout]
        minutes = self.idle_timeout / 60
        for sid in idle:
            self.drop(sid, f"this session was closed after {minutes:g} minutes without activity; "
                           "reload the page to start a new one")
        return idle

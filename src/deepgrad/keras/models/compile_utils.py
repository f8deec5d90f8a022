"""What ``compile`` sets up: the loss of each output, its weight, the metrics of each output,
and the trackers whose running means are the logs (``loss``, ``accuracy``, ``out_loss`` ...)."""

from __future__ import annotations

from typing import Any

from deepgrad.keras import losses as _losses
from deepgrad.keras import metrics as _metrics
from deepgrad.keras.layers.tree import flatten
from deepgrad.tensor import Tensor


def _per_output(spec: Any, names: list[str], what: str, leaf: Any) -> list[Any]:
    """A spec given once, as a list (one per output) or as a dict by output name -> a list."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = set(spec) - set(names)
        if unknown:
            raise ValueError(f"compile: {what} has keys {sorted(unknown)} that are not output names "
                             f"(the model's outputs are {names})")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)) and leaf(spec):
        return [spec] * n
    if isinstance(spec, (list, tuple)):
        if len(spec) != n:
            raise ValueError(f"compile: {what} is a list of {len(spec)} entries but the model has "
                             f"{n} outputs ({names}); give one per output or a dict by name")
        return list(spec)
    return [spec] * n


class Compiled:
    """The compiled loss and metrics, resolved against the model's outputs on first use."""

    def __init__(self, loss: Any, loss_weights: Any, metrics: Any, weighted_metrics: Any) -> None:
        self.loss_spec, self.loss_weights_spec = loss, loss_weights
        self.metrics_spec, self.weighted_metrics_spec = metrics, weighted_metrics
        self.built = False
        self.losses: list[Any] = []
        self.loss_weights: list[float] = []
        self.metrics: list[list[Any]] = []
        self.weighted: list[list[Any]] = []
        self.names: list[str] = []
        self.loss_tracker = _metrics.Mean(name="loss")
        self.output_loss_trackers: list[Any] = []
        for spec in _leaves(loss):  # unknown names fail at compile, as in Keras
            _losses.get(spec)
        for spec in _leaves(metrics) + _leaves(weighted_metrics):
            if isinstance(spec, str) and spec not in ("accuracy", "acc"):
                _metrics.get(spec)

    def build(self, output_names: list[str], y_pred: Any, y_true: Any) -> None:
        preds = flatten(y_pred)
        names = list(output_names) if len(output_names) == len(preds) else \
            [f"output_{i}" for i in range(len(preds))]
        self.names = names
        loss_specs = _per_output(self.loss_spec, names, "loss", lambda s: False)
        self.losses = [_losses.get(s) for s in loss_specs]
        if all(loss is None for loss in self.losses):
            raise ValueError("compile: no loss given; pass loss='mse', "
                             "'sparse_categorical_crossentropy', ... or a function")
        weights = self.loss_weights_spec
        if weights is None:
            self.loss_weights = [1.0] * len(names)
        else:
            self.loss_weights = [1.0 if w is None else float(w)
                                 for w in _per_output(weights, names, "loss_weights", lambda s: False)]
        trues = flatten(y_true) if y_true is not None else [None] * len(preds)

        def resolve(spec: Any) -> list[list[Any]]:
            if spec is None:
                return [[] for _ in names]
            specs = _per_output(spec, names, "metrics",
                                lambda s: not any(isinstance(m, (list, tuple, dict)) for m in s))
            out = []
            for i, entry in enumerate(specs):
                entry = [] if entry is None else (entry if isinstance(entry, (list, tuple)) else [entry])
                loss = self.losses[i]
                loss_name = loss.name if loss is not None else None
                if loss is not None and type(loss).__name__ != "LossFunctionWrapper":
                    loss_name = type(loss).__name__ + " " + loss_name
                pred_shape = tuple(preds[i].shape)
                true_shape = tuple(trues[i].shape) if trues[i] is not None else None
                out.append([_metrics.get(m, _snake(loss_name), pred_shape, true_shape) for m in entry])
            return out

        self.metrics = resolve(self.metrics_spec)
        self.weighted = resolve(self.weighted_metrics_spec)
        if len(names) > 1:
            self.output_loss_trackers = [_metrics.Mean(name=f"{n}_loss") if loss is not None else None
                                         for n, loss in zip(names, self.losses)]
        self.built = True

    # --- per batch -----------------------------------------------------------------------
    def compute(self, y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[Tensor, list]:
        preds = flatten(y_pred)
        if len(preds) == 1:
            return self.losses[0](y_true, preds[0], sample_weight), []
        trues = self._trues(y_true)
        total, parts = None, []
        for loss, w, t, p in zip(self.losses, self.loss_weights, trues, preds):
            if loss is None:
                parts.append(None)
                continue
            value = loss(t, p, sample_weight)
            parts.append(value)
            term = value if w == 1.0 else value * w
            total = term if total is None else total + term
        return total, parts

    def _trues(self, y_true: Any) -> list[Any]:
        if isinstance(y_true, dict):
            missing = [n for n, loss in zip(self.names, self.losses) if loss is not None and n not in y_true]
            if missing:
                raise ValueError(f"fit: y has no targets for output(s) {missing} (y's keys: "
                                 f"{sorted(y_true)})")
            return [y_true.get(n) for n in self.names]
        trues = flatten(y_true)
        if len(trues) != len(self.names):
            raise ValueError(f"fit: the model has {len(self.names)} outputs ({self.names}) but y "
                             f"holds {len(trues)} arrays; pass one target per output")
        return trues

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any, loss_value: float,
               parts: list, batch_size: int) -> None:
        self.loss_tracker.update_state(loss_value, batch_size)
        for tracker, part in zip(self.output_loss_trackers, parts):
            if tracker is not None and part is not None:
                tracker.update_state(float(part.item()), batch_size)
        if not any(self.metrics) and not any(self.weighted):
            return
        preds = flatten(y_pred)
        trues = [y_true] if len(preds) == 1 else self._trues(y_true)
        sw = None if sample_weight is None else sample_weight.array
        for metrics, weighted, t, p in zip(self.metrics, self.weighted, trues, preds):
            if t is None:
                continue
            ta = t.array if isinstance(t, Tensor) else t
            pa = p.array
            for m in metrics:
                m.update_state(ta, pa)
            for m in weighted:
                m.update_state(ta, pa, sw)

    # --- results -----------------------------------------------------------------------------
    def trackers(self) -> list[tuple[str, Any]]:
        """(log name, tracker) in log order (fixed once built)."""
        cached = self.__dict__.get("_trackers")
        if cached is not None:
            return cached
        out: list[tuple[str, Any]] = [("loss", self.loss_tracker)]
        multi = len(self.names) > 1
        for tracker in self.output_loss_trackers:
            if tracker is not None:
                out.append((tracker.name, tracker))
        for i, name in enumerate(self.names):
            for m in self.metrics[i] + self.weighted[i]:
                out.append((f"{name}_{m.name}" if multi else m.name, m))
        if self.built:
            self._trackers = out
        return out

    def results(self) -> dict[str, float]:
        return {name: float(t.result()) for name, t in self.trackers()}

    def reset(self) -> None:
        for _, t in self.trackers():
            t.reset_state()

    def get_state(self) -> dict[str, Any]:
        return {name: t.get_state() for name, t in self.trackers()}

    def set_state(self, state: dict[str, Any]) -> None:
        for name, t in self.trackers():
            if name in state:
                t.set_state(state[name])

    def get_config(self) -> dict[str, Any]:
        def ser(spec: Any) -> Any:
            if spec is None or isinstance(spec, (str, int, float)):
                return spec
            if isinstance(spec, (list, tuple)):
                return [ser(s) for s in spec]
            if isinstance(spec, dict):
                return {k: ser(v) for k, v in spec.items()}
            if isinstance(spec, _losses.Loss) and type(spec) is not _losses.LossFunctionWrapper:
                return _losses.serialize(spec)
            if isinstance(spec, _losses.LossFunctionWrapper):
                spec = spec.fn
            if isinstance(spec, _metrics.Metric):
                return {"class_name": type(spec).__name__, "config": spec.get_config()}
            name = getattr(spec, "__name__", None) or getattr(spec, "name", None)
            if name is None:
                raise ValueError(f"can't serialize {spec!r} in the compile config")
            return name  # a custom function: load_model finds it through custom_objects

        return {"loss": ser(self.loss_spec), "loss_weights": ser(self.loss_weights_spec),
                "metrics": ser(self.metrics_spec), "weighted_metrics": ser(self.weighted_metrics_spec)}


def _leaves(spec: Any) -> list[Any]:
    if spec is None:
        return []
    if isinstance(spec, dict):
        return [leaf for v in spec.values() for leaf in _leaves(v)]
    if isinstance(spec, (list, tuple)):
        return [leaf for v in spec for leaf in _leaves(v)]
    return [spec]


def _snake(name: str | None) -> str | None:
    if name is None:
        return None
    from deepgrad.keras.backend import to_snake_case

    return " ".join(to_snake_case(part) for part in name.split(" "))

"""Keras's metrics: stateful objects updated batch by batch (``update_state``, ``result``,
``reset_state``), computed on arrays outside autograd.

``compile(metrics=['accuracy'])`` picks binary, categorical or sparse categorical
accuracy from the loss and the shapes, as Keras does; a metric's name in the
logs is the string given (``'accuracy'``, ``'mae'``) or the object's ``name``.
"""

from __future__ import annotations

from typing import Any, Callable

from deepgrad.backend import to_host, xp
from deepgrad.keras import backend as K
from deepgrad.tensor import Tensor


def _array(x: Any) -> Any:
    return x.array if isinstance(x, Tensor) else xp.asarray(x)


class Metric:
    """Base class: accumulates over batches; ``result()`` is the value so far (a float)."""

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        self.name = name or K.to_snake_case(type(self).__name__)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        raise NotImplementedError

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def get_state(self) -> dict[str, float]:
        """The accumulators as plain numbers (for training checkpoints)."""
        return {"total": self.total, "count": self.count}

    def set_state(self, state: dict[str, float]) -> None:
        self.total, self.count = float(state["total"]), float(state["count"])

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight)``."""

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        if isinstance(values, float):
            w = 1.0 if sample_weight is None else float(sample_weight)
            self.total += values * w
            self.count += w
            return
        v = _array(values)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += float(v.size)
        else:
            w = xp.broadcast_to(_array(sample_weight), v.shape)
            self.total += float((v * w).sum())
            self.count += float(w.sum())


class MeanMetricWrapper(Mean):
    """A function ``fn(y_true, y_pred) -> per-sample values`` (arrays) averaged over samples."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        self.fn, self.fn_kwargs = fn, kwargs
        super().__init__(name=name or getattr(fn, "__name__", "metric"))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        values = self.fn(_array(y_true), _array(y_pred), **self.fn_kwargs)
        if isinstance(values, Tensor):
            values = values.array
        if sample_weight is not None:
            sw = _array(sample_weight)
            while sw.ndim < values.ndim:
                sw = sw[..., None]
            super().update_state(values, xp.broadcast_to(sw, values.shape))
        else:
            super().update_state(values)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.fn_kwargs}


def _squeeze_labels(y_true: Any, y_pred: Any) -> Any:
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        return y_true[..., 0]
    return y_true


def accuracy(y_true: Any, y_pred: Any) -> Any:
    """1 where the prediction equals the target exactly."""
    y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
    return (y_true == y_pred).astype(xp.float32)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Any:
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true[..., None]
    return ((y_pred > threshold) == (y_true > 0.5)).astype(xp.float32).mean(-1)


def categorical_accuracy(y_true: Any, y_pred: Any) -> Any:
    return (xp.argmax(y_true, -1) == xp.argmax(y_pred, -1)).astype(xp.float32)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> Any:
    labels = _squeeze_labels(y_true, y_pred)
    return (labels.astype(xp.int64) == xp.argmax(y_pred, -1)).astype(xp.float32)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Any:
    return sparse_top_k_categorical_accuracy(xp.argmax(y_true, -1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Any:
    labels = _squeeze_labels(y_true, y_pred).astype(xp.int64)
    top = xp.argpartition(-y_pred, min(k, y_pred.shape[-1]) - 1, axis=-1)[..., :k]
    return (top == labels[..., None]).any(-1).astype(xp.float32)


def _as_float(y_true: Any, y_pred: Any) -> Any:
    y_true = y_true.astype(y_pred.dtype, copy=False)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true[..., None]
    return y_true


def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    d = y_pred - _as_float(y_true, y_pred)
    return (d * d).mean(-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    return xp.abs(y_pred - _as_float(y_true, y_pred)).mean(-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Any:
    t = _as_float(y_true, y_pred)
    return 100.0 * xp.abs((t - y_pred) / xp.maximum(xp.abs(t), K.epsilon())).mean(-1)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Any:
    t = _as_float(y_true, y_pred)
    eps = K.epsilon()
    p = 1.0 / (1.0 + xp.exp(-y_pred)) if from_logits else y_pred
    p = xp.clip(p, eps, 1.0 - eps)
    return -(t * xp.log(p) + (1.0 - t) * xp.log(1.0 - p)).mean(-1)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Any:
    eps = K.epsilon()
    if from_logits:
        shifted = y_pred - y_pred.max(-1, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(-1, keepdims=True))
    else:
        logp = xp.log(xp.clip(y_pred / y_pred.sum(-1, keepdims=True), eps, 1.0 - eps))
    return -(y_true * logp).sum(-1)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Any:
    labels = _squeeze_labels(y_true, y_pred).astype(xp.int64)
    onehot = xp.eye(y_pred.shape[-1], dtype=y_pred.dtype)[labels]
    return categorical_crossentropy(onehot, y_pred, from_logits)


def _wrapper(name: str, fn: Callable[..., Any], **defaults: Any) -> type:
    def __init__(self: Any, name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        MeanMetricWrapper.__init__(self, fn, name=name or default_name, **{**defaults, **kwargs})

    default_name = K.to_snake_case(name)
    return type(name, (MeanMetricWrapper,), {"__init__": __init__,
                                             "__doc__": f"The mean of ``{fn.__name__}``."})


Accuracy = _wrapper("Accuracy", accuracy)
BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, threshold=0.5)
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy)
SparseCategoricalAccuracy = _wrapper("SparseCategoricalAccuracy", sparse_categorical_accuracy)
TopKCategoricalAccuracy = _wrapper("TopKCategoricalAccuracy", top_k_categorical_accuracy, k=5)
SparseTopKCategoricalAccuracy = _wrapper("SparseTopKCategoricalAccuracy",
                                         sparse_top_k_categorical_accuracy, k=5)
MeanSquaredError = _wrapper("MeanSquaredError", mean_squared_error)
MeanAbsoluteError = _wrapper("MeanAbsoluteError", mean_absolute_error)
MeanAbsolutePercentageError = _wrapper("MeanAbsolutePercentageError", mean_absolute_percentage_error)
BinaryCrossentropy = _wrapper("BinaryCrossentropy", binary_crossentropy)
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", categorical_crossentropy)
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy", sparse_categorical_crossentropy)


class RootMeanSquaredError(Metric):
    """sqrt of the mean squared error over all samples seen."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        values = mean_squared_error(_array(y_true), _array(y_pred))
        w = xp.ones_like(values) if sample_weight is None else \
            xp.broadcast_to(_array(sample_weight), values.shape)
        self.total += float((values * w).sum())
        self.count += float(w.sum())

    def result(self) -> float:
        return (self.total / self.count) ** 0.5 if self.count else 0.0


class _Confusion(Metric):
    """Counts of true/false positives for binary predictions thresholded at ``thresholds``."""

    def __init__(self, thresholds: float | None = None, name: str | None = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        self.thresholds = 0.5 if thresholds is None else float(thresholds)
        super().__init__(name=name)

    def reset_state(self) -> None:
        self.tp = self.fp = self.fn = 0.0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        t = _array(y_true).reshape(-1) > 0.5
        p = _array(y_pred).reshape(-1) > self.thresholds
        w = 1.0 if sample_weight is None else xp.broadcast_to(
            _array(sample_weight).reshape(-1, *([1] * (_array(y_pred).ndim - 1))),
            _array(y_pred).shape).reshape(-1)
        self.tp += float(((t & p) * w).sum())
        self.fp += float(((~t & p) * w).sum())
        self.fn += float(((t & ~p) * w).sum())

    def get_state(self) -> dict[str, float]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn}

    def set_state(self, state: dict[str, float]) -> None:
        self.tp, self.fp, self.fn = (float(state[k]) for k in ("tp", "fp", "fn"))

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "thresholds": self.thresholds}


class Precision(_Confusion):
    """tp / (tp + fp) of predictions above the threshold (0.5)."""

    def result(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0


class Recall(_Confusion):
    """tp / (tp + fn) of predictions above the threshold (0.5)."""

    def result(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


_BY_NAME: dict[str, Any] = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "precision": Precision, "recall": Recall,
}
_CLASSES = {cls.__name__: cls for cls in _BY_NAME.values()} | {"Accuracy": Accuracy, "Mean": Mean}


def _accuracy_for(loss_name: str | None, y_pred_shape: tuple | None) -> type:
    """Keras's choice behind ``'accuracy'``: from the loss, else from the output shape."""
    name = (loss_name or "").lower()
    if "sparse_categorical" in name:
        return SparseCategoricalAccuracy
    if "categorical" in name:
        return CategoricalAccuracy
    if "binary" in name or "hinge" in name:
        return BinaryAccuracy
    if y_pred_shape is not None and len(y_pred_shape) and y_pred_shape[-1] == 1:
        return BinaryAccuracy
    return CategoricalAccuracy


def get(identifier: Any, loss_name: str | None = None, y_pred_shape: tuple | None = None,
        y_true_shape: tuple | None = None) -> Metric:
    """A Metric from a name ('accuracy', 'mae' ...), a class, an instance or a function
    ``fn(y_true, y_pred)`` of arrays. The metric's ``name`` is the string given."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            cls = _accuracy_for(loss_name, y_pred_shape)
            if cls is CategoricalAccuracy and y_true_shape is not None and y_pred_shape is not None \
                    and (len(y_true_shape) < len(y_pred_shape) or
                         (len(y_true_shape) == len(y_pred_shape) and y_true_shape[-1] == 1
                          and y_pred_shape[-1] != 1)):
                cls = SparseCategoricalAccuracy
            return cls(name=identifier)
        cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown metric {identifier!r}; known: "
                             f"{sorted(['accuracy', *_BY_NAME])} (or pass a Metric or a function)")
        return cls(name=identifier)
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metric must be a name, a Metric or a function, got {identifier!r}")


def to_number(x: Any) -> float:
    return float(to_host(_array(x)))


__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "get", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "RootMeanSquaredError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Precision", "Recall",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
]

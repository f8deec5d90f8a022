"""Keras's losses: functions ``fn(y_true, y_pred)`` returning per-sample values, and classes
(``BinaryCrossentropy(from_logits=False)`` ...) that reduce them ('sum_over_batch_size' by default).

Per-sample means over the last axis, then the mean over the batch, as Keras.
Without sample weights the common losses run as one fused deepgrad op
(``binary_cross_entropy``, ``cross_entropy``, ``mse_loss``) for speed.
"""

from __future__ import annotations

from typing import Any, Callable

import deepgrad.nn.functional as F
from deepgrad.backend import xp
from deepgrad.keras import backend as K
from deepgrad.tensor import Tensor


def _t(x: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    array = xp.asarray(x)
    if like is not None and array.dtype.kind == "f" and array.dtype != like.array.dtype:
        array = array.astype(like.array.dtype)
    return Tensor(array)


def _float_like(y_true: Tensor, y_pred: Tensor) -> Tensor:
    if y_true.array.dtype != y_pred.array.dtype:
        return Tensor(y_true.array.astype(y_pred.array.dtype))
    return y_true


def _match_rank(y_true: Tensor, y_pred: Tensor) -> Tensor:
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


# --- per-sample functions ----------------------------------------------------------------
def mean_squared_error(y_true: Any, y_pred: Tensor) -> Tensor:
    y_true = _match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred)
    d = y_pred - y_true
    return (d * d).mean(-1)


def mean_absolute_error(y_true: Any, y_pred: Tensor) -> Tensor:
    y_true = _match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred)
    return (y_pred - y_true).abs().mean(-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Tensor) -> Tensor:
    y_true = _match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred)
    return ((y_true - y_pred) / y_true.abs().clamp(min=K.epsilon())).abs().mean(-1) * 100.0


def mean_squared_logarithmic_error(y_true: Any, y_pred: Tensor) -> Tensor:
    y_true = _match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred)
    eps = K.epsilon()
    d = (y_pred.clamp(min=eps) + 1.0).log() - (y_true.clamp(min=eps) + 1.0).log()
    return (d * d).mean(-1)


def huber(y_true: Any, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    y_true = _match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred)
    return F.huber_loss(y_pred, y_true, reduction="none", delta=delta).mean(-1)


def log_cosh(y_true: Any, y_pred: Tensor) -> Tensor:
    y_true = _match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred)
    d = y_pred - y_true
    return (d + F.softplus(d * -2.0) - 0.6931471805599453).mean(-1)


def binary_crossentropy(y_true: Any, y_pred: Tensor, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    y_true = _match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        loss = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        eps = K.epsilon()
        p = y_pred.clamp(eps, 1.0 - eps)
        loss = -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log())
    return loss.mean(axis)


def categorical_crossentropy(y_true: Any, y_pred: Tensor, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    y_true = _float_like(_t(y_true, y_pred), y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"categorical_crossentropy: y_true of shape {tuple(y_true.shape)} and "
                         f"y_pred of shape {tuple(y_pred.shape)} differ; categorical targets are "
                         "one-hot (use sparse_categorical_crossentropy for integer labels, or "
                         "keras.utils.to_categorical)")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[axis]
    if from_logits:
        return -(y_true * y_pred.log_softmax(axis)).sum(axis)
    eps = K.epsilon()
    p = (y_pred / y_pred.sum(axis, keepdim=True)).clamp(eps, 1.0 - eps)
    return -(y_true * p.log()).sum(axis)


def _labels(y_true: Tensor, y_pred: Tensor) -> Tensor:
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    if y_true.array.dtype.kind not in "iu":
        y_true = Tensor(y_true.array.astype(xp.int64))
    elif y_true.array.dtype != xp.int64:
        y_true = Tensor(y_true.array.astype(xp.int64))
    return y_true


def sparse_categorical_crossentropy(y_true: Any, y_pred: Tensor, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> Tensor:
    labels = _labels(_t(y_true), y_pred)
    c = y_pred.shape[-1]
    flat = y_pred.reshape(-1, c)
    flat_labels = labels.reshape(-1)
    kwargs: dict[str, Any] = {"reduction": "none"}
    if ignore_class is not None:
        kwargs["ignore_index"] = ignore_class
    if from_logits:
        loss = F.cross_entropy(flat, flat_labels, **kwargs)
    else:
        eps = K.epsilon()
        loss = F.nll_loss(flat.clamp(eps, 1.0 - eps).log(), flat_labels, **kwargs)
    return loss.reshape(labels.shape)


def kl_divergence(y_true: Any, y_pred: Tensor) -> Tensor:
    y_true = _match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred)
    eps = K.epsilon()
    t, p = y_true.clamp(eps, 1.0), y_pred.clamp(eps, 1.0)
    return (t * (t / p).log()).sum(-1)


def poisson(y_true: Any, y_pred: Tensor) -> Tensor:
    y_true = _match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred)
    return (y_pred - y_true * (y_pred + K.epsilon()).log()).mean(-1)


def _signed(y_true: Tensor) -> Tensor:
    """Labels in {0, 1} become {-1, 1}, as Keras's hinge losses expect."""
    a = y_true.array
    if a.size and ((a == 0) | (a == 1)).all():
        return Tensor(a * 2 - 1)
    return y_true


def hinge(y_true: Any, y_pred: Tensor) -> Tensor:
    y_true = _signed(_match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred))
    return F.relu(1.0 - y_true * y_pred).mean(-1)


def squared_hinge(y_true: Any, y_pred: Tensor) -> Tensor:
    y_true = _signed(_match_rank(_float_like(_t(y_true, y_pred), y_pred), y_pred))
    h = F.relu(1.0 - y_true * y_pred)
    return (h * h).mean(-1)


def cosine_similarity(y_true: Any, y_pred: Tensor, axis: int = -1) -> Tensor:
    y_true = _float_like(_t(y_true, y_pred), y_pred)
    return -(F.normalize(y_true, dim=axis) * F.normalize(y_pred, dim=axis)).sum(axis)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence


# --- classes ------------------------------------------------------------------------------
class Loss:
    """A loss object: ``loss(y_true, y_pred, sample_weight=None)`` returns a scalar tensor.

    Subclasses implement ``call(y_true, y_pred)`` (per-sample values); ``reduction`` is
    'sum_over_batch_size' (default), 'sum', 'mean' or 'none'.
    """

    def __init__(self, name: str | None = None, reduction: str = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        if reduction not in ("sum_over_batch_size", "sum", "mean", "none", None):
            raise ValueError(f"{type(self).__name__}: invalid reduction {reduction!r}; use "
                             "'sum_over_batch_size', 'sum', 'mean' or 'none'")
        self.name = name or K.to_snake_case(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        raise NotImplementedError

    def _fast(self, y_true: Tensor, y_pred: Tensor) -> Tensor | None:
        """The mean loss as one fused op, or None (used without sample weights)."""
        return None

    def __call__(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        if sample_weight is None and self.reduction in ("sum_over_batch_size", "mean"):
            fast = self._fast(_t(y_true, y_pred), y_pred)
            if fast is not None:
                return fast
        values = self.call(_t(y_true, y_pred), y_pred)
        if sample_weight is not None:
            sw = _t(sample_weight, values)
            while sw.ndim < values.ndim:
                sw = sw.unsqueeze(-1)
            values = values * sw.to(values.dtype)
        if self.reduction in ("none", None):
            return values
        total = values.sum()
        if self.reduction == "sum":
            return total
        return total * (1.0 / max(values.numel(), 1))

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A per-sample function ``fn(y_true, y_pred, **kwargs)`` as a Loss."""

    def __init__(self, fn: Callable[..., Tensor], name: str | None = None,
                 reduction: str = "sum_over_batch_size", **kwargs: Any) -> None:
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.fn_kwargs}


def _make(name: str, fn: Callable[..., Tensor], defaults: dict[str, Any],
          fast: Callable[..., Tensor | None] | None = None) -> type:
    def __init__(self: Any, *args: Any, reduction: str = "sum_over_batch_size",
                 name: str | None = None, **kwargs: Any) -> None:
        options = dict(defaults)
        for key, value in zip(defaults, args):
            options[key] = value
        unknown = set(kwargs) - set(defaults) - {"dtype"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected argument(s) {sorted(unknown)}")
        options.update({k: v for k, v in kwargs.items() if k != "dtype"})
        LossFunctionWrapper.__init__(self, fn, name=name or K.to_snake_case(type(self).__name__),
                                     reduction=reduction, **options)

    body: dict[str, Any] = {"__init__": __init__, "__doc__": f"Keras's ``{fn.__name__}`` as a Loss."}
    if fast is not None:
        body["_fast"] = lambda self, y_true, y_pred: fast(y_true, y_pred, **self.fn_kwargs)
    return type(name, (LossFunctionWrapper,), body)


def _fast_mse(y_true: Tensor, y_pred: Tensor) -> Tensor | None:
    if tuple(y_true.shape) != tuple(y_pred.shape):
        return None
    return F.mse_loss(y_pred, _float_like(y_true, y_pred))


def _fast_mae(y_true: Tensor, y_pred: Tensor) -> Tensor | None:
    if tuple(y_true.shape) != tuple(y_pred.shape):
        return None
    return F.l1_loss(y_pred, _float_like(y_true, y_pred))


def _fast_bce(y_true: Tensor, y_pred: Tensor, from_logits: bool = False,
              label_smoothing: float = 0.0, axis: int = -1) -> Tensor | None:
    if label_smoothing or tuple(y_true.shape) != tuple(y_pred.shape):
        return None
    y_true = _float_like(y_true, y_pred)
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true)
    return F.binary_cross_entropy(y_pred, y_true)


def _fast_sparse_cce(y_true: Tensor, y_pred: Tensor, from_logits: bool = False,
                     ignore_class: int | None = None, axis: int = -1) -> Tensor | None:
    if not from_logits or ignore_class is not None:
        return None
    labels = _labels(y_true, y_pred)
    return F.cross_entropy(y_pred.reshape(-1, y_pred.shape[-1]), labels.reshape(-1))


MeanSquaredError = _make("MeanSquaredError", mean_squared_error, {}, _fast_mse)
MeanAbsoluteError = _make("MeanAbsoluteError", mean_absolute_error, {}, _fast_mae)
MeanAbsolutePercentageError = _make("MeanAbsolutePercentageError", mean_absolute_percentage_error, {})
MeanSquaredLogarithmicError = _make("MeanSquaredLogarithmicError", mean_squared_logarithmic_error, {})
Huber = _make("Huber", huber, {"delta": 1.0})
LogCosh = _make("LogCosh", log_cosh, {})
BinaryCrossentropy = _make("BinaryCrossentropy", binary_crossentropy,
                           {"from_logits": False, "label_smoothing": 0.0, "axis": -1}, _fast_bce)
CategoricalCrossentropy = _make("CategoricalCrossentropy", categorical_crossentropy,
                                {"from_logits": False, "label_smoothing": 0.0, "axis": -1})
SparseCategoricalCrossentropy = _make("SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
                                      {"from_logits": False, "ignore_class": None, "axis": -1},
                                      _fast_sparse_cce)
KLDivergence = _make("KLDivergence", kl_divergence, {})
Poisson = _make("Poisson", poisson, {})
Hinge = _make("Hinge", hinge, {})
SquaredHinge = _make("SquaredHinge", squared_hinge, {})
CosineSimilarity = _make("CosineSimilarity", cosine_similarity, {"axis": -1})

_BY_NAME: dict[str, type] = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber, "log_cosh": LogCosh, "logcosh": LogCosh,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson, "hinge": Hinge, "squared_hinge": SquaredHinge,
    "cosine_similarity": CosineSimilarity,
}
_CLASSES = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier: Any) -> Loss | None:
    """A Loss from a name ('mse', 'binary_crossentropy' ...), a class name, a config dict, an
    instance, or any callable ``fn(y_true, y_pred)`` (wrapped, reduced by the mean)."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss {identifier!r}; known: {sorted(_BY_NAME)} (or pass a "
                             "callable fn(y_true, y_pred))")
        loss = cls()
        loss.name = identifier
        return loss
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"loss must be a name, a Loss or a callable, got {identifier!r}")


def serialize(loss: Any) -> Any:
    if loss is None:
        return None
    if isinstance(loss, LossFunctionWrapper) and type(loss) is not LossFunctionWrapper:
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    raise ValueError(f"can't serialize the custom loss {loss!r}; pass custom_objects when loading")


__all__ = [
    "Loss", "LossFunctionWrapper", "get", "serialize",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "poisson",
    "hinge", "squared_hinge", "cosine_similarity", "mse", "mae", "mape", "msle", "kld",
    *_CLASSES,
]

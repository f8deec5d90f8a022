"""Keras's optimizers, with Keras's names and defaults, running deepgrad.optim's updates.

``keras.optimizers.Adam(learning_rate=0.001)`` holds hyperparameters until the
model's weights exist; ``build(weights)`` then creates the deepgrad optimizer
(``deepgrad.optim.Adam(lr=0.001, eps=1e-7)``) that does the arithmetic, so the
update rules are PyTorch's (they differ from Keras's only in where epsilon
enters). Keras's extras are applied around it: ``weight_decay`` (decoupled, as
Keras), ``clipnorm``, ``clipvalue``, ``global_clipnorm`` and learning-rate
schedules (``keras.optimizers.schedules``). ``compile(optimizer=...)`` also
accepts a ready deepgrad.optim optimizer.
"""

from __future__ import annotations

import math
from typing import Any

from deepgrad import optim as _optim
from deepgrad.backend import xp
from deepgrad.tensor import Tensor


# --- learning-rate schedules ------------------------------------------------------------
class LearningRateSchedule:
    """A learning rate as a function of the optimizer's step count."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """lr * decay_rate ** (step / decay_steps) (floored exponent with ``staircase``)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), int(decay_steps)
        self.decay_rate, self.staircase, self.name = float(decay_rate), staircase, name

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(ExponentialDecay):
    """lr / (1 + decay_rate * step / decay_steps)."""

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate / (1.0 + self.decay_rate * (math.floor(p) if self.staircase else p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while step <= boundaries[i] (values has one more entry than boundaries)."""

    def __init__(self, boundaries: list, values: list, name: str = "PiecewiseConstant") -> None:
        if len(values) != len(boundaries) + 1:
            raise ValueError("PiecewiseConstantDecay: values must have one more entry than boundaries")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the initial rate to ``alpha`` times it over ``decay_steps`` (optional warmup)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: int = 0) -> None:
        self.initial_learning_rate, self.decay_steps, self.alpha = float(initial_learning_rate), int(decay_steps), alpha
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, int(warmup_steps)

    def __call__(self, step: int) -> float:
        start = self.initial_learning_rate
        if self.warmup_target is not None and step < self.warmup_steps:
            return start + (self.warmup_target - start) * step / max(self.warmup_steps, 1)
        top = self.warmup_target if self.warmup_target is not None else start
        t = min(max(step - self.warmup_steps, 0), self.decay_steps) / self.decay_steps
        return top * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * t)) + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class schedules:  # noqa: N801 - Keras's namespace keras.optimizers.schedules
    LearningRateSchedule = LearningRateSchedule
    ExponentialDecay = ExponentialDecay
    InverseTimeDecay = InverseTimeDecay
    PiecewiseConstantDecay = PiecewiseConstantDecay
    CosineDecay = CosineDecay


_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                      CosineDecay)}


# --- optimizers ---------------------------------------------------------------------------
class Optimizer:
    """Base class of the Keras optimizers (a builder and driver of a deepgrad optimizer)."""

    _defaults: dict[str, Any] = {}

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs: Any) -> None:
        options = dict(self._defaults)
        for key in list(kwargs):
            if key in options:
                options[key] = kwargs.pop(key)
        ignored = {"use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                   "gradient_accumulation_steps"}
        unknown = set(kwargs) - ignored
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected argument(s) {sorted(unknown)}")
        if isinstance(learning_rate, dict):
            learning_rate = _SCHEDULES[learning_rate["class_name"]](**learning_rate["config"])
        self._learning_rate = learning_rate
        self.options = options
        self.weight_decay, self.clipnorm, self.clipvalue = weight_decay, clipnorm, clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.inner: _optim.Optimizer | None = None
        self._params: list[Tensor] = []

    # the deepgrad optimizer ------------------------------------------------------------
    def _make(self, params: list[Tensor], lr: float) -> _optim.Optimizer:
        raise NotImplementedError

    @property
    def built(self) -> bool:
        return self.inner is not None

    def build(self, variables: list[Tensor]) -> None:
        """Create the deepgrad optimizer over ``variables`` (the trainable weights)."""
        self._params = list(variables)
        self.inner = self._make(self._params, self._current_lr())

    def _current_lr(self) -> float:
        lr = self._learning_rate
        return float(lr(self.iterations)) if isinstance(lr, LearningRateSchedule) else float(lr)

    @property
    def learning_rate(self) -> float:
        if self.inner is not None and not isinstance(self._learning_rate, LearningRateSchedule):
            return float(self.inner.param_groups[0]["lr"])
        return self._current_lr()

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError(f"{type(self).__name__}: this optimizer's learning rate is a schedule "
                            f"({type(self._learning_rate).__name__}); it can't be set directly")
        self._learning_rate = float(value)
        if self.inner is not None:
            for group in self.inner.param_groups:
                group["lr"] = float(value)

    lr = learning_rate

    def zero_grad(self) -> None:
        if self.inner is not None:
            self.inner.zero_grad()

    def _clip(self) -> None:
        grads = [p.grad.array for p in self._params if p.grad is not None]
        if self.clipvalue is not None:
            for g in grads:
                xp.clip(g, -self.clipvalue, self.clipvalue, out=g)
        if self.clipnorm is not None:
            for g in grads:
                norm = float(xp.sqrt((g * g).sum()))
                if norm > self.clipnorm:
                    g *= self.clipnorm / norm
        if self.global_clipnorm is not None and grads:
            norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
            if norm > self.global_clipnorm:
                for g in grads:
                    g *= self.global_clipnorm / norm

    def step(self) -> None:
        """Apply one update from the weights' ``.grad`` (what ``fit`` calls after backward)."""
        inner = self.inner
        if isinstance(self._learning_rate, LearningRateSchedule):
            lr = self._current_lr()
            for group in inner.param_groups:
                group["lr"] = lr
        if self.clipnorm is not None or self.clipvalue is not None or self.global_clipnorm is not None:
            self._clip()
        if self.weight_decay:
            scale = 1.0 - float(inner.param_groups[0]["lr"]) * self.weight_decay
            for p in self._params:
                if p.grad is not None:
                    p.array *= scale
        inner.step()
        self.iterations += 1

    # saving ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"iterations": self.iterations,
                "inner": self.inner.state_dict() if self.inner is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iterations = int(state["iterations"])
        if state.get("inner") is not None:
            if self.inner is None:
                raise RuntimeError(f"{type(self).__name__}: build the optimizer before loading its state")
            self.inner.load_state_dict(state["inner"])
            if not isinstance(self._learning_rate, LearningRateSchedule):
                self._learning_rate = float(self.inner.param_groups[0]["lr"])

    def get_config(self) -> dict[str, Any]:
        lr: Any = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        else:
            lr = self.learning_rate  # the current value (callbacks may have changed it)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm, **self.options}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<keras.optimizers.{type(self).__name__} learning_rate={self.learning_rate:g}>"


class SGD(Optimizer):
    """Stochastic gradient descent. Keras defaults: learning_rate=0.01, momentum=0.0, nesterov=False."""

    _defaults = {"momentum": 0.0, "nesterov": False}

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)

    def _make(self, params: list[Tensor], lr: float) -> _optim.Optimizer:
        return _optim.SGD(params, lr=lr, momentum=self.options["momentum"],
                          nesterov=self.options["nesterov"])


class RMSprop(Optimizer):
    """RMSprop. Keras defaults: learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7."""

    _defaults = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, rho=rho, momentum=momentum, epsilon=epsilon,
                         centered=centered, **kwargs)

    def _make(self, params: list[Tensor], lr: float) -> _optim.Optimizer:
        o = self.options
        return _optim.RMSprop(params, lr=lr, alpha=o["rho"], eps=o["epsilon"],
                              momentum=o["momentum"], centered=o["centered"])


class Adam(Optimizer):
    """Adam. Keras defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, **kwargs)

    def _make(self, params: list[Tensor], lr: float) -> _optim.Optimizer:
        o = self.options
        return _optim.Adam(params, lr=lr, betas=(o["beta_1"], o["beta_2"]), eps=o["epsilon"],
                           amsgrad=o["amsgrad"])


class AdamW(Adam):
    """Adam with decoupled weight decay. Keras defaults: learning_rate=0.001, weight_decay=0.004."""

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004, **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class Adadelta(Optimizer):
    """Adadelta. Keras defaults: learning_rate=0.001, rho=0.95, epsilon=1e-7."""

    _defaults = {"rho": 0.95, "epsilon": 1e-7}

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-7,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, rho=rho, epsilon=epsilon, **kwargs)

    def _make(self, params: list[Tensor], lr: float) -> _optim.Optimizer:
        return _optim.Adadelta(params, lr=lr, rho=self.options["rho"], eps=self.options["epsilon"])


class Adagrad(Optimizer):
    """Adagrad. Keras defaults: learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7."""

    _defaults = {"initial_accumulator_value": 0.1, "epsilon": 1e-7}

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, initial_accumulator_value=initial_accumulator_value,
                         epsilon=epsilon, **kwargs)

    def _make(self, params: list[Tensor], lr: float) -> _optim.Optimizer:
        return _optim.Adagrad(params, lr=lr, eps=self.options["epsilon"],
                              initial_accumulator_value=self.options["initial_accumulator_value"])


class Adamax(Adam):
    """Adamax. Keras defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    def _make(self, params: list[Tensor], lr: float) -> _optim.Optimizer:
        o = self.options
        return _optim.Adamax(params, lr=lr, betas=(o["beta_1"], o["beta_2"]), eps=o["epsilon"])


class Nadam(Adam):
    """Nadam. Keras defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    def _make(self, params: list[Tensor], lr: float) -> _optim.Optimizer:
        o = self.options
        return _optim.NAdam(params, lr=lr, betas=(o["beta_1"], o["beta_2"]), eps=o["epsilon"])


class Lion(Optimizer):
    """Lion. Keras defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.99."""

    _defaults = {"beta_1": 0.9, "beta_2": 0.99}

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, **kwargs)

    def _make(self, params: list[Tensor], lr: float) -> _optim.Optimizer:
        return _optim.Lion(params, lr=lr, betas=(self.options["beta_1"], self.options["beta_2"]))


class TorchOptimizer(Optimizer):
    """A ready deepgrad.optim optimizer (built over the model's weights) used by ``fit``."""

    def __init__(self, optimizer: _optim.Optimizer) -> None:
        super().__init__(float(optimizer.param_groups[0]["lr"]), name=type(optimizer).__name__.lower())
        self.inner = optimizer
        self._params = [p for g in optimizer.param_groups for p in g["params"]]

    def build(self, variables: list[Tensor]) -> None:
        ids = {id(p) for p in self._params}
        missing = [p for p in variables if id(p) not in ids]
        if missing:
            raise ValueError(f"compile: the {type(self.inner).__name__} optimizer given does not "
                             f"hold {len(missing)} of the model's {len(variables)} trainable weights "
                             "(was it made from model.parameters() after the model was built?)")

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": self.learning_rate}


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adadelta": Adadelta,
            "adagrad": Adagrad, "adamax": Adamax, "nadam": Nadam, "lion": Lion}
_CLASSES = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name ('adam', 'sgd', 'rmsprop', 'adadelta', 'adagrad' ...) with
    Keras's defaults, a config dict, a Keras optimizer, or a deepgrad.optim optimizer."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, _optim.Optimizer):
        return TorchOptimizer(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}; known: {sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise TypeError(f"optimizer must be a name, a keras.optimizers.Optimizer or a deepgrad.optim "
                    f"optimizer, got {identifier!r}")


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    name = type(optimizer).__name__
    if isinstance(optimizer, TorchOptimizer):
        name = type(optimizer.inner).__name__
        if name not in _CLASSES:
            name = "Adam"
    return {"class_name": name, "config": optimizer.get_config()}


__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adadelta", "Adagrad", "Adamax",
           "Nadam", "Lion", "TorchOptimizer", "schedules", "LearningRateSchedule",
           "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "CosineDecay",
           "get", "serialize"]

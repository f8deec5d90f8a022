"""BatchNormalization and LayerNormalization with Keras's defaults and weights.

BatchNormalization keeps Keras's moving statistics: ``moving = moving * momentum +
batch * (1 - momentum)`` with momentum 0.99 and the batch's *biased* variance,
epsilon 1e-3; its weights are gamma, beta, moving_mean, moving_variance.
"""

from __future__ import annotations

from typing import Any

import deepgrad.nn.functional as F
from deepgrad.backend import xp
from deepgrad.keras import constraints as _constraints
from deepgrad.keras import initializers as _initializers
from deepgrad.keras import regularizers as _regularizers
from deepgrad.keras.layers.base import Layer
from deepgrad.tensor import Tensor


class BatchNormalization(Layer):
    """Normalize each feature (``axis``, default the last) by batch statistics in training
    and by moving averages in inference.

    Args as Keras: axis=-1, momentum=0.99, epsilon=1e-3, center, scale, initializers,
    regularizers, constraints. A layer with ``trainable = False`` runs in inference mode.

    Shape:
        any -> same; gamma, beta, moving_mean, moving_variance (features,).
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, synchronized: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.moving_mean_initializer = _initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = _initializers.get(moving_variance_initializer)
        self.beta_regularizer = _regularizers.get(beta_regularizer)
        self.gamma_regularizer = _regularizers.get(gamma_regularizer)
        self.beta_constraint = _constraints.get(beta_constraint)
        self.gamma_constraint = _constraints.get(gamma_constraint)

    def build(self, input_shape: Any) -> None:
        axis = self.axis % len(input_shape)
        features = input_shape[axis]
        if features is None:
            raise ValueError(f"BatchNormalization {self.name!r}: axis {self.axis} of the input has "
                             f"unknown size (input shape {input_shape})")
        self._axis = axis
        shape = (features,)
        self.gamma = self.add_weight(shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint, name="gamma") if self.scale else None
        self.beta = self.add_weight(shape, self.beta_initializer, regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint, name="beta") if self.center else None
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        axis = inputs.ndim + self.axis if self.axis < 0 else self.axis
        x = inputs if axis == 1 else inputs.movedim(axis, 1)
        if training and self.trainable:
            c = x.shape[1]
            batch_mean = Tensor(xp.zeros((c,), dtype=x.array.dtype))
            batch_var = Tensor(xp.zeros((c,), dtype=x.array.dtype))
            y = F.batch_norm(x, batch_mean, batch_var, self.gamma, self.beta, True, 1.0, self.epsilon)
            count = x.array.size // c
            m = self.momentum
            mean, var = self.moving_mean.array, self.moving_variance.array
            mean *= m
            mean += (1.0 - m) * batch_mean.array
            var *= m
            var += ((1.0 - m) * (count - 1) / count) * batch_var.array  # biased, as Keras
            self.moving_mean._version[0] += 1
            self.moving_variance._version[0] += 1
        else:
            y = F.batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                             False, 0.0, self.epsilon)
        return y if axis == 1 else y.movedim(1, axis)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": _initializers.serialize(self.beta_initializer),
                "gamma_initializer": _initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": _initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": _initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": _regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": _regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": _constraints.serialize(self.beta_constraint),
                "gamma_constraint": _constraints.serialize(self.gamma_constraint)}


class LayerNormalization(Layer):
    """Normalize each sample over ``axis`` (default the last), then scale by gamma, shift by beta.

    Args as Keras: axis=-1 (an int or a list of trailing axes), epsilon=1e-3, center, scale.

    Shape:
        any -> same; gamma, beta shaped as the normalized axes.
    """

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None,
                 beta_constraint: Any = None, gamma_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = [int(axis)] if isinstance(axis, int) else [int(a) for a in axis]
        self.epsilon, self.center, self.scale = float(epsilon), center, scale
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.beta_regularizer = _regularizers.get(beta_regularizer)
        self.gamma_regularizer = _regularizers.get(gamma_regularizer)
        self.beta_constraint = _constraints.get(beta_constraint)
        self.gamma_constraint = _constraints.get(gamma_constraint)

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        axes = sorted(a % rank for a in self.axis)
        if axes != list(range(rank - len(axes), rank)):
            raise ValueError(f"LayerNormalization {self.name!r}: only trailing axes can be "
                             f"normalized (got axis={self.axis} for rank {rank})")
        shape = tuple(input_shape[a] for a in axes)
        self._normalized = shape
        self.gamma = self.add_weight(shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint, name="gamma") if self.scale else None
        self.beta = self.add_weight(shape, self.beta_initializer, regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint, name="beta") if self.center else None

    def call(self, inputs: Tensor) -> Tensor:
        return F.layer_norm(inputs, self._normalized, self.gamma, self.beta, self.epsilon)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": _initializers.serialize(self.beta_initializer),
                "gamma_initializer": _initializers.serialize(self.gamma_initializer),
                "beta_regularizer": _regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": _regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": _constraints.serialize(self.beta_constraint),
                "gamma_constraint": _constraints.serialize(self.gamma_constraint)}


__all__ = ["BatchNormalization", "LayerNormalization"]

"""``Model``: Keras's model class (functional, Sequential and subclassed) on deepgrad.

``Model(inputs, outputs)`` makes a functional model; subclass ``Model`` and write
``call`` for anything else. Every model has Keras's training API: ``compile``,
``fit``, ``evaluate``, ``predict``, ``summary``, ``save`` / ``save_weights`` /
``load_weights`` and ``get_weights`` / ``set_weights`` (the loops live in
:mod:`deepgrad.keras.models.trainer`). A Model is also a deepgrad ``nn.Module``:
``model.parameters()`` and ``model.state_dict()`` work as in PyTorch.
"""

from __future__ import annotations

import math
import os
from typing import Any

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.backend import xp
from deepgrad.keras import backend as K
from deepgrad.keras import optimizers as _optimizers
from deepgrad.keras.layers import base as _base
from deepgrad.keras.layers.base import Layer
from deepgrad.keras.layers.tree import flatten
from deepgrad.keras.models.compile_utils import Compiled
from deepgrad.tensor import Tensor


class Model(Layer):
    """A model: groups layers and trains them (Keras's ``keras.Model``).

    Functional:  ``Model(inputs, outputs, name=None)`` with KerasTensors from ``keras.Input``.
    Subclassing: define layers in ``__init__`` (after ``super().__init__()``) and the forward
    pass in ``call(self, inputs, training=None)``.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from deepgrad.keras.models.functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            raise TypeError(f"{type(self).__name__}.__init__ takes keyword arguments only "
                            "(name=..., trainable=...); Model(inputs, outputs) makes a functional model")
        kwargs.pop("inputs", None)
        kwargs.pop("outputs", None)
        name = kwargs.pop("name", None) or K.unique_name(K.to_snake_case(type(self).__name__))
        super().__init__(name=name, **kwargs)
        d = self.__dict__
        d["optimizer"] = None
        d["compiled"] = False
        d["_compiled"] = None
        d["stop_training"] = False
        d["history"] = None
        d["_fit_state"] = None
        d["_constrained"] = None

    # --- structure -----------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """The model's layers (for a subclassed model, its Layer attributes in assignment order)."""
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index in ``layers``."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer: index {index} is out of range for a model with "
                                 f"{len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self.layers]}.")

    def _child_items(self) -> list[tuple[str, Any]]:
        return list(self._modules.items())

    @property
    def output_names(self) -> list[str]:
        return ["output_0"]

    @property
    def metrics_names(self) -> list[str]:
        if self._compiled is None or not self._compiled.built:
            return []
        return [name for name, _ in self._compiled.trackers()]

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"Model {type(self).__name__} has no call(); define "
                                  "call(self, inputs, training=None) or build it with Model(inputs, outputs)")

    def build(self, input_shape: Any = None) -> None:
        """Build a subclassed model by running it once on zeros of ``input_shape`` (None -> 1)."""
        if input_shape is None:
            raise ValueError(f"{type(self).__name__}.build: give the input shape, e.g. (None, 784)")

        def zeros(shape: Any) -> Tensor:
            return Tensor(xp.zeros(tuple(1 if s is None else s for s in shape), dtype=K.floatx()))

        dummy = zeros(input_shape) if _base.is_shape(input_shape) else \
            [zeros(s) for s in input_shape]
        self._build_shape = input_shape
        self.built = True
        previous = _base._CONTEXT[0]
        _base._CONTEXT[0] = False
        _base.RECORD_SHAPES[0] = True
        try:
            with no_grad():
                self.call(dummy)
        finally:
            _base._CONTEXT[0] = previous
            _base.RECORD_SHAPES[0] = False
            del _base.ADDED_LOSSES[:]

    def _build_from_args(self, args: tuple, kwargs: dict) -> None:
        self.build(_base.shape_of(args[0]))

    # --- compile -----------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto",
                auto_scale_loss: bool = True) -> None:
        """Set the optimizer (a name with Keras's defaults, a keras.optimizers instance or a
        deepgrad.optim optimizer), the loss (a name, a Loss or ``fn(y_true, y_pred)``; a list
        or dict for several outputs) and the metrics (``['accuracy', 'mae', ...]``)."""
        self.optimizer = _optimizers.get(optimizer)
        self.loss = loss
        self._compiled = Compiled(loss, loss_weights, metrics, weighted_metrics)
        self._compile_args = {"optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
                              "metrics": metrics, "weighted_metrics": weighted_metrics}
        self.compiled = True

    def _assert_compiled(self, who: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before using the model in {who}() "
                               "(e.g. model.compile(optimizer='adam', loss='mse'))")

    def _ensure_built(self, x: Any) -> None:
        if not self.built:
            self._build_from_args((x,), {})

    def _prepare(self, x: Any, y: Any, training: bool) -> None:
        """Build the model, the compiled loss/metrics (from a sample batch) and the optimizer."""
        self._ensure_built(x)
        if not self._compiled.built:
            previous = _base._CONTEXT[0]
            _base._CONTEXT[0] = False
            try:
                with no_grad():
                    y_pred = self(x)
            finally:
                _base._CONTEXT[0] = previous
                del _base.ADDED_LOSSES[:]
            self._compiled.build(self.output_names, y_pred, y)
        if training and not self.optimizer.built:
            weights = self.trainable_weights
            if not weights:
                raise ValueError(f"fit: model {self.name!r} has no trainable weights")
            self.optimizer.build(weights)
        layers = self._all_layers()
        self._constrained = [layer for layer in layers if layer._constraints]
        self._reg_items = [(layer._own_tensor(n), reg) for layer in layers
                           for n, reg in layer._regularizers]

    def _all_layers(self) -> list[Layer]:
        return [m for m in self.modules() if isinstance(m, Layer)]

    # --- steps ---------------------------------------------------------------------------------
    def _regularization(self) -> Any:
        items = self.__dict__.get("_reg_items")
        if items is None:
            penalties = self._regularization_penalties()
        else:
            penalties = [reg(t) for t, reg in items]
        if _base.ADDED_LOSSES:
            penalties = penalties + list(_base.ADDED_LOSSES)
        if not penalties:
            return None
        total = penalties[0]
        for p in penalties[1:]:
            total = total + p
        return total

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None) -> Tensor:
        """The compiled loss of ``y_pred`` against ``y`` plus the regularization losses."""
        loss, _ = self._compiled.compute(y, y_pred, sample_weight)
        extra = self._regularization()
        return loss if extra is None else loss + extra

    def train_step(self, x: Any, y: Any, sample_weight: Any = None) -> float:
        """One optimization step on a batch; returns the loss (NaN/inf: no update is made)."""
        del _base.ADDED_LOSSES[:]
        y_pred = self(x, training=True)
        loss, parts = self._compiled.compute(y, y_pred, sample_weight)
        extra = self._regularization()
        if extra is not None:
            loss = loss + extra
        value = float(loss.item())
        if not math.isfinite(value):
            return value
        optimizer = self.optimizer
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if self._constrained:
            for layer in self._constrained:
                layer._apply_constraints()
        batch = flatten(x)[0].shape[0]
        self._compiled.update(y, y_pred.detach() if isinstance(y_pred, Tensor) else y_pred,
                              sample_weight, value, parts, batch)
        return value

    def test_step(self, x: Any, y: Any, sample_weight: Any = None) -> float:
        """Loss and metrics of a batch in inference mode (no gradients)."""
        del _base.ADDED_LOSSES[:]
        with no_grad():
            y_pred = self(x, training=False)
            loss, parts = self._compiled.compute(y, y_pred, sample_weight)
            extra = self._regularization()
            if extra is not None:
                loss = loss + extra
        value = float(loss.item())
        self._compiled.update(y, y_pred, sample_weight, value, parts, flatten(x)[0].shape[0])
        return value

    # --- the loops (deepgrad.keras.models.trainer) -------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: list | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: int = 1) -> Any:
        """Train for ``epochs`` epochs; returns a ``History`` (``history.history['loss']`` ...).

        ``validation_split`` holds out the LAST fraction of the samples (before shuffling),
        as Keras. Ctrl-C finishes the current batch, saves a checkpoint (the BackupAndRestore
        callback's, else ``deepgrad-interrupted/training_state.safetensors``) and raises
        ``TrainingInterrupted``; left uncaught, the program exits without a traceback.
        """
        from deepgrad.keras.models import trainer

        return trainer.fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                           callbacks=callbacks, validation_split=validation_split,
                           validation_data=validation_data, shuffle=shuffle,
                           class_weight=class_weight, sample_weight=sample_weight,
                           initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                           validation_steps=validation_steps,
                           validation_batch_size=validation_batch_size,
                           validation_freq=validation_freq)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: int | None = None,
                 callbacks: list | None = None, return_dict: bool = False, **kwargs: Any) -> Any:
        """The loss (and metrics) on data: a float, a list ``[loss, *metrics]`` or a dict."""
        from deepgrad.keras.models import trainer

        return trainer.evaluate(self, x, y, batch_size=batch_size, verbose=verbose,
                                sample_weight=sample_weight, steps=steps, callbacks=callbacks,
                                return_dict=return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: int | None = None, callbacks: list | None = None) -> Any:
        """The model's outputs on ``x`` as NumPy arrays, computed in batches in inference mode."""
        from deepgrad.keras.models import trainer

        return trainer.predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps,
                               callbacks=callbacks)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: dict | None = None, return_dict: bool = False) -> Any:
        from deepgrad.keras.models import trainer

        return trainer.on_batch(self, x, y, sample_weight, True, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:
        from deepgrad.keras.models import trainer

        return trainer.on_batch(self, x, y, sample_weight, False, return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        from deepgrad.keras.models import trainer

        return trainer.predict(self, x, batch_size=None, verbose=0)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args and not isinstance(args[0], Tensor) and not _base._is_symbolic(args, kwargs):
            args = (_base.to_tensor(args[0]),) + args[1:]
        return super().__call__(*args, **kwargs)

    # --- summary, weights, saving --------------------------------------------------------------
    def summary(self, line_length: int | None = None, positions: list | None = None,
                print_fn: Any = None, expand_nested: bool = False, show_trainable: bool = False,
                layer_range: Any = None) -> None:
        """Print Keras's table of layers, output shapes and parameter counts."""
        from deepgrad.keras.models.summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      show_trainable=show_trainable)

    def save(self, filepath: str | os.PathLike[str], overwrite: bool = True,
             include_optimizer: bool = True) -> None:
        """Save architecture (JSON), compile config and weights (safetensors), and the optimizer
        state: a ``.keras`` zip file, or a directory for any other path."""
        from deepgrad.keras.saving import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
        """Save the weights alone as a safetensors file (atomically)."""
        from deepgrad import checkpoint

        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"save_weights: {os.fspath(filepath)!r} exists (overwrite=False)")
        checkpoint.save_weights(self, filepath, metadata={"model": self.name, "class": type(self).__name__})

    def load_weights(self, filepath: str | os.PathLike[str], skip_mismatch: bool = False) -> None:
        """Load weights saved by ``save_weights`` (or the weights of a ``save``d model)."""
        from deepgrad import checkpoint
        from deepgrad.keras.saving import weights_path

        checkpoint.load_weights(self, weights_path(filepath), strict=not skip_mismatch)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} is a subclassed model: implement "
                                  "get_config() (and from_config) to save its architecture, or use "
                                  "save_weights()")

    def get_compile_config(self) -> dict[str, Any] | None:
        if not self.compiled:
            return None
        opt = self.optimizer
        return {"optimizer": _optimizers.serialize(opt), **self._compiled.get_config()}

    def to_json(self, **kwargs: Any) -> str:
        import json

        from deepgrad.keras.saving import serialize_layer

        return json.dumps(serialize_layer(self), **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


__all__ = ["Model"]

"""``Sequential``: a stack of layers, each feeding the next (Keras's ``keras.Sequential``).

With a known input shape (``keras.Input(shape)`` as the first entry, or a first
layer given ``input_shape=``) the model is built at once and ``summary()`` can
show output shapes; otherwise it builds from the first batch it sees.
"""

from __future__ import annotations

from typing import Any

from deepgrad.keras import backend as K
from deepgrad.keras.layers.base import KerasTensor, Layer
from deepgrad.keras.layers.input_layer import InputLayer
from deepgrad.keras.models.model import Model
from deepgrad.tensor import Tensor


class Sequential(Model):
    """``Sequential([layers...], name=None)``; ``add(layer)``, ``pop()``.

    Shape:
        the first layer's input -> the last layer's output.
    """

    def __init__(self, layers: list | None = None, trainable: bool = True, name: str | None = None) -> None:
        super().__init__(name=name or K.unique_name("sequential"), trainable=trainable)
        self.__dict__["_stack"] = []
        self.__dict__["_input_layer"] = None
        self.__dict__["_specs"] = {}
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build_graph()

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Append a layer (or ``keras.Input(shape)`` as the very first entry)."""
        if type(layer) is KerasTensor:
            layer = layer._keras_history[0]
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError("Sequential: an Input can only be the first entry of the model")
            self.__dict__["_input_layer"] = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a keras Layer, got {type(layer).__name__}")
        if any(l.name == layer.name for l in self._stack):
            raise ValueError(f"Sequential: all layers must have unique names; {layer.name!r} is "
                             "already in the model")
        if not self._stack and self._input_layer is None and layer._batch_input_shape is not None:
            self.__dict__["_input_layer"] = InputLayer(batch_shape=layer._batch_input_shape)
        self._stack.append(layer)
        self.add_module(layer.name, layer)
        self.built = False
        if rebuild:
            self._maybe_build_graph()

    def pop(self, rebuild: bool = True) -> Layer:
        if not self._stack:
            raise TypeError("Sequential.pop: there are no layers in the model")
        layer = self._stack.pop()
        delattr(self, layer.name)
        if rebuild:
            self._maybe_build_graph()
        return layer

    def _maybe_build_graph(self) -> None:
        if self._input_layer is not None and self._stack:
            self._build_graph()

    def _build_graph(self) -> None:
        x: Any = self._input_layer.output
        specs: dict[int, Any] = {}
        for layer in self._stack:
            x = layer(x)
            specs[id(layer)] = x
        self.__dict__["_specs"] = specs
        self._build_shape = self._input_layer.batch_shape
        self.built = True

    def build(self, input_shape: Any = None) -> None:
        """Build for inputs of ``input_shape`` (batch dimension included, None allowed)."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError("Sequential.build: give the input shape, e.g. build((None, 784))")
        else:
            self.__dict__["_input_layer"] = InputLayer(batch_shape=tuple(input_shape))
        if not self._stack:
            raise ValueError("Sequential.build: the model has no layers")
        self._build_graph()

    def _build_from_args(self, args: tuple, kwargs: dict) -> None:
        x = args[0]
        if not isinstance(x, (Tensor, KerasTensor)):
            raise ValueError("Sequential: build it on a single input tensor (or give keras.Input)")
        self.build((None, *tuple(x.shape)[1:]))

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        x = inputs
        for layer in self._stack:
            x = layer(x)
        return x

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        x = args[0]
        for layer in self._stack:
            x = layer.compute_output_spec(x)
        return x

    @property
    def inputs(self) -> list[KerasTensor]:
        return [] if self._input_layer is None else [self._input_layer.output]

    @property
    def outputs(self) -> list[KerasTensor]:
        return [self._specs[id(self._stack[-1])]] if self._specs else []

    @property
    def input_shape(self) -> Any:
        return None if self._input_layer is None else self._input_layer.batch_shape

    @property
    def output_shape(self) -> Any:
        return self.outputs[0].shape if self._specs else None

    @property
    def output_names(self) -> list[str]:
        return [self._stack[-1].name] if self._stack else ["output_0"]

    def _child_items(self) -> list[tuple[str, Any]]:
        counts: dict[str, int] = {}
        items = []
        for layer in self._stack:
            base = K.to_snake_case(type(layer).__name__)
            n = counts.get(base, 0)
            counts[base] = n + 1
            items.append((base if n == 0 else f"{base}_{n}", layer))
        return items

    def get_config(self) -> dict[str, Any]:
        from deepgrad.keras.saving import serialize_layer

        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "layers": [serialize_layer(l) for l in self._stack]}
        if self._input_layer is not None:
            config["build_input_shape"] = list(self._input_layer.batch_shape)
            config["input_dtype"] = self._input_layer.dtype
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Sequential:
        from deepgrad.keras.saving import deserialize_layer

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        if config.get("build_input_shape") is not None:
            model.add(InputLayer(batch_shape=tuple(config["build_input_shape"]),
                                 dtype=config.get("input_dtype")), rebuild=False)
        for entry in config["layers"]:
            model.add(deserialize_layer(entry, custom_objects), rebuild=False)
        model._maybe_build_graph()
        return model


__all__ = ["Sequential"]

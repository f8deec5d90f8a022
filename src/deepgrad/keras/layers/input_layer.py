"""``keras.Input`` and ``InputLayer``: where a functional model's graph starts (Keras's input_layer)."""

from __future__ import annotations

from typing import Any

from deepgrad.keras import backend as K
from deepgrad.keras.layers.base import KerasTensor, Layer, Node


class InputLayer(Layer):
    """The entry point of a functional model: it holds the symbolic input tensor."""

    _keeps_dtype = True

    def __init__(self, shape: Any = None, batch_size: int | None = None, dtype: Any = None,
                 sparse: bool | None = None, batch_shape: Any = None, input_tensor: Any = None,
                 name: str | None = None, **kwargs: Any) -> None:
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name or K.unique_name("input_layer"), dtype=dtype, **kwargs)
        if sparse:
            raise ValueError("InputLayer: sparse inputs are not supported by deepgrad")
        if batch_shape is None:
            if shape is None:
                raise ValueError("InputLayer: give the input's shape, e.g. keras.Input(shape=(28, 28, 1))")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size, *shape)
        self.batch_shape = tuple(None if s is None else int(s) for s in batch_shape)
        self.built = True
        Node(self, (), {}, KerasTensor(self.batch_shape, self._dtype, name=self.name))

    @property
    def input(self) -> Any:
        """The symbolic input tensor this layer holds (its output too)."""
        return self._first_node("input").outputs

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "dtype": self._dtype, "sparse": False,
                "name": self.name}


def Input(shape: Any = None, batch_size: int | None = None, dtype: Any = None, sparse: bool | None = None,
          batch_shape: Any = None, name: str | None = None, tensor: Any = None,
          optional: bool = False) -> KerasTensor:
    """A symbolic input: ``inputs = keras.Input(shape=(28, 28, 1))`` (the batch size left out).

    Returns the KerasTensor of a new ``InputLayer``; call layers on it and pass it to
    ``Model(inputs, outputs)``.

    Shape:
        ``(batch_size, *shape)``, batch_size ``None`` (any) by default.
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name)
    return layer.output


__all__ = ["InputLayer", "Input"]

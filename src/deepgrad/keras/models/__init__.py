"""``deepgrad.keras.models``: Model, Sequential, load_model, clone_model."""

from __future__ import annotations

from typing import Any

from deepgrad.keras.models.model import Model
from deepgrad.keras.models.functional import Functional
from deepgrad.keras.models.sequential import Sequential


def load_model(filepath: Any, custom_objects: dict | None = None, compile: bool = True,
               safe_mode: bool = True) -> Model:
    """Load a model saved by ``model.save`` (a ``.keras`` file or a directory)."""
    from deepgrad.keras.saving import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def clone_model(model: Model, custom_objects: dict | None = None) -> Model:
    """A new model with the same architecture and freshly initialized weights."""
    from deepgrad.keras.saving import deserialize_layer, serialize_layer

    return deserialize_layer(serialize_layer(model), custom_objects)


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Model:
    import json

    from deepgrad.keras.saving import deserialize_layer

    return deserialize_layer(json.loads(json_string), custom_objects)


__all__ = ["Model", "Functional", "Sequential", "load_model", "clone_model", "model_from_json"]

"""Saving and loading whole models: ``model.save('m.keras')`` / ``keras.models.load_model``.

A ``.keras`` file is a zip archive (a directory with the same files for any other
path) holding, as Keras's format does:

* ``config.json``   the architecture (layer classes and arguments, the functional graph)
                    and the compile configuration (optimizer, loss, metrics), as JSON;
* ``metadata.json`` versions and the date;
* ``model.weights.safetensors`` the weights (Keras's order, stable names) and the optimizer
                    state, verified by checksums on load.

Loading never unpickles: layers are rebuilt from their registered classes and JSON
arguments; custom layers are found through ``custom_objects`` or
``@keras.saving.register_keras_serializable()``. Writes are atomic.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile
from typing import Any, Callable

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.safetensors"
_REGISTRY: dict[str, type] = {}


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable[[type], type]:
    """Class decorator making a custom Layer/Model loadable by name from saved configs."""

    def decorator(cls: type) -> type:
        key = name or cls.__name__
        _REGISTRY[f"{package}>{key}"] = cls
        _REGISTRY[key] = cls
        return cls

    return decorator


def _known_classes() -> dict[str, type]:
    from deepgrad.keras import layers
    from deepgrad.keras.models.functional import Functional
    from deepgrad.keras.models.model import Model
    from deepgrad.keras.models.sequential import Sequential

    known = {name: getattr(layers, name) for name in layers.__all__
             if isinstance(getattr(layers, name), type)}
    known.update({"Functional": Functional, "Sequential": Sequential, "Model": Model})
    return known


def serialize_layer(layer: Any) -> dict[str, Any]:
    """``{'class_name', 'config', 'build_config'}`` of a layer or model."""
    entry: dict[str, Any] = {"module": type(layer).__module__, "class_name": type(layer).__name__,
                             "config": layer.get_config()}
    from deepgrad.keras.models.model import Model

    if not isinstance(layer, Model):
        build = layer.get_build_config()
        if build is not None:
            entry["build_config"] = build
    return entry


def deserialize_layer(entry: dict[str, Any], custom_objects: dict | None = None) -> Any:
    """The layer or model described by ``serialize_layer``'s output (built, weights fresh)."""
    name = entry["class_name"]
    cls = (custom_objects or {}).get(name) or _REGISTRY.get(name) or _known_classes().get(name)
    if cls is None:
        raise ValueError(f"load: unknown layer class {name!r}. If it is a custom layer, pass "
                         f"custom_objects={{'{name}': {name}}} or decorate the class with "
                         "@keras.saving.register_keras_serializable()")
    from deepgrad.keras.models.functional import Functional
    from deepgrad.keras.models.sequential import Sequential

    config = dict(entry.get("config", {}))
    if cls in (Functional, Sequential) or (isinstance(cls, type) and issubclass(cls, (Functional, Sequential))):
        return cls.from_config(config, custom_objects=custom_objects)
    try:
        obj = cls.from_config(config)
    except TypeError as e:
        raise TypeError(f"load: can't rebuild {name} from its config ({e}); does its get_config() "
                        "return the constructor's arguments?") from None
    if entry.get("build_config") and hasattr(obj, "build_from_config"):
        obj.build_from_config(entry["build_config"])
    return obj


# --- files ----------------------------------------------------------------------------------
def _is_zip_path(path: str) -> bool:
    return path.endswith(".keras")


def weights_path(filepath: str | os.PathLike[str]) -> str:
    """The safetensors weights inside a saved model directory (or the path itself)."""
    path = os.fspath(filepath)
    if os.path.isdir(path):
        return os.path.join(path, WEIGHTS)
    if _is_zip_path(path):
        raise ValueError(f"load_weights: {path!r} is a whole saved model; load it with "
                         "keras.models.load_model, or save weights with save_weights()")
    return path


def _payload(model: Any, include_optimizer: bool) -> tuple[bytes, bytes, bytes]:
    from deepgrad import __version__, checkpoint

    config = serialize_layer(model)
    config["compile_config"] = model.get_compile_config() if getattr(model, "compiled", False) else None
    config["build_config"] = None if model._build_shape is None else \
        {"input_shape": _jsonable(model._build_shape)}
    metadata = {"keras_version": "3 (deepgrad.keras)", "deepgrad_version": __version__,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "weights_format": "safetensors"}
    tensors: dict[str, Any] = {"model/" + k: v for k, v in checkpoint.weight_items(model)}
    state = None
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None and optimizer.built:
        state = checkpoint.encode_state(optimizer.state_dict(), tensors, "optimizer/")
    weights = checkpoint.tensors_to_bytes(tensors, {"optimizer": state}, kind="model")
    return (json.dumps(config, indent=2).encode(), json.dumps(metadata, indent=2).encode(), weights)


def _jsonable(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)):
        return [_jsonable(s) for s in shape]
    return shape


def save_model(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True,
               include_optimizer: bool = True) -> None:
    """Save ``model`` to ``filepath``: a ``.keras`` zip file, or a directory otherwise."""
    from deepgrad.checkpoint import atomic_write

    path = os.fspath(filepath)
    if path.endswith(".h5") or path.endswith(".hdf5"):
        raise ValueError(f"save: deepgrad.keras saves models as '.keras' files (JSON + safetensors), "
                         f"not HDF5; use {os.path.splitext(path)[0] + '.keras'!r}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save: {path!r} exists and overwrite=False")
    config, metadata, weights = _payload(model, include_optimizer)
    if _is_zip_path(path):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr(METADATA, metadata)
            z.writestr(CONFIG, config)
            z.writestr(WEIGHTS, weights)
        atomic_write(path, buffer.getvalue())
        return
    os.makedirs(path, exist_ok=True)
    atomic_write(os.path.join(path, WEIGHTS), weights)
    atomic_write(os.path.join(path, METADATA), metadata)
    atomic_write(os.path.join(path, CONFIG), config)


def _read_parts(path: str) -> tuple[dict, bytes]:
    """(config, the safetensors bytes of the weights) of a saved model."""
    from deepgrad.checkpoint import CheckpointError

    if os.path.isdir(path):
        with open(os.path.join(path, CONFIG)) as f:
            config = json.load(f)
        with open(os.path.join(path, WEIGHTS), "rb") as f:
            return config, f.read()
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: {path!r} does not exist")
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read(CONFIG)), z.read(WEIGHTS)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"load_model: {path!r} is not a valid .keras archive ({e}); the "
                              "file is corrupt or truncated") from None


def load_model(filepath: str | os.PathLike[str], custom_objects: dict | None = None,
               compile: bool = True, safe_mode: bool = True) -> Any:
    """Rebuild a model saved by ``model.save``: architecture, weights and (with ``compile``)
    its optimizer (state included), loss and metrics."""
    from deepgrad import checkpoint
    from deepgrad.keras import optimizers

    path = os.fspath(filepath)
    config, data = _read_parts(path)
    arrays, meta = checkpoint.tensors_from_bytes(data, f"{path}/{WEIGHTS}")
    model = deserialize_layer(config, custom_objects)
    build = config.get("build_config")
    if not model.built and build and build.get("input_shape") is not None:
        shape = build["input_shape"]
        model.build(tuple(shape) if all(not isinstance(s, list) for s in shape) else [tuple(s) for s in shape])
    weights = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    checkpoint.check_and_copy(checkpoint.weight_items(model), weights, path, strict=True)
    compile_config = config.get("compile_config")
    if compile and compile_config:
        opt = optimizers.get(compile_config["optimizer"])
        try:
            model.compile(optimizer=opt, loss=_custom(compile_config.get("loss"), custom_objects),
                          loss_weights=compile_config.get("loss_weights"),
                          metrics=_custom(compile_config.get("metrics"), custom_objects),
                          weighted_metrics=compile_config.get("weighted_metrics"))
        except ValueError as e:
            raise ValueError(f"load_model: the model was compiled with something this session "
                             f"doesn't know ({e}); pass custom_objects={{name: function}}, or "
                             "compile=False to load the model uncompiled") from None
        state = (meta or {}).get("optimizer")
        if state is not None:
            opt.build(model.trainable_weights)
            opt.load_state_dict(checkpoint.decode_state(state, arrays))
    return model


def _custom(spec: Any, custom_objects: dict | None) -> Any:
    if isinstance(spec, str) and custom_objects and spec in custom_objects:
        return custom_objects[spec]
    if isinstance(spec, list):
        return [_custom(s, custom_objects) for s in spec]
    if isinstance(spec, dict) and "class_name" not in spec:
        return {k: _custom(v, custom_objects) for k, v in spec.items()}
    return spec


__all__ = ["save_model", "load_model", "register_keras_serializable", "serialize_layer",
           "deserialize_layer"]

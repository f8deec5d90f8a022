"""Safe checkpoints: weights in safetensors, everything else in JSON, written atomically.

    from deepgrad import checkpoint
    checkpoint.save_weights(model, "model.safetensors")          # any nn.Module or Keras model
    checkpoint.load_weights(model, "model.safetensors")
    checkpoint.save_checkpoint("run/ckpt.safetensors", model, optimizer, epoch=3, step=0)
    state = checkpoint.load_checkpoint("run/ckpt.safetensors", model, optimizer)  # RNG restored too

A file is a standard safetensors file. Its header's metadata holds one JSON
document (``__metadata__["deepgrad"]``): the kind of file, the tensors' order,
a CRC-32 of each tensor's bytes, and the JSON part of the state (epoch, step,
RNG states, optimizer hyperparameters, callbacks' state ...). Nothing is ever
unpickled, so loading a checkpoint cannot run code.

Writes go to a temporary file in the same directory, are flushed and fsync'ed,
then renamed over the target (``os.replace``): a crash leaves the previous file
intact, never a half-written one. Loading checks the header, every tensor's byte
range and checksum before touching the model, and reports the first tensor that
is truncated, corrupt, missing, unexpected or of the wrong shape.

Needs the ``safetensors`` package (imported when a file is written or read).
"""

from __future__ import annotations

import datetime
import json
import os
import struct
import tempfile
import zlib
from collections import OrderedDict
from typing import Any, Mapping

import numpy

from deepgrad.backend import to_host, xp
from deepgrad.tensor import Tensor

FORMAT = "deepgrad"
VERSION = 1
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
                "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, truncated, or does not match the model."""


def _safetensors() -> Any:
    try:
        import safetensors.numpy as st
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("deepgrad.checkpoint needs the safetensors package: "
                          "pip install safetensors") from None
    return st


# --- atomic files -----------------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same directory,
    flushed and fsync'ed, then ``os.replace``d over the target (and the directory synced)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        if hasattr(os, "fchmod"):  # mkstemp's 0600 -> the permissions a plain open() would give
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (best effort: not every system allows it)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# --- JSON with tensors ---------------------------------------------------------------------
def encode_state(obj: Any, tensors: dict[str, Any], prefix: str) -> Any:
    """``obj`` as JSON-able data; its arrays/tensors move to ``tensors`` under ``prefix...``.

    Dicts with non-string keys and tuples are tagged so ``decode_state`` restores them.
    """
    if isinstance(obj, Tensor) or isinstance(obj, numpy.ndarray) or type(obj).__module__ == "cupy":
        key = f"{prefix}{len(tensors)}"
        tensors[key] = obj
        return {"__tensor__": key}
    if isinstance(obj, numpy.generic):
        return obj.item()
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: encode_state(v, tensors, prefix) for k, v in obj.items()}
        return {"__dict__": [[encode_state(k, tensors, prefix), encode_state(v, tensors, prefix)]
                             for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_state(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [encode_state(v, tensors, prefix) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint: can't store a value of type {type(obj).__name__} ({obj!r}); "
                    "only numbers, strings, lists, dicts, tuples and arrays/tensors are stored")


def decode_state(obj: Any, tensors: Mapping[str, Any], as_tensors: bool = True) -> Any:
    """The inverse of ``encode_state`` (arrays come back as deepgrad Tensors by default)."""
    if isinstance(obj, dict):
        if "__tensor__" in obj and len(obj) == 1:
            array = tensors[obj["__tensor__"]]
            return Tensor(xp.asarray(array)) if as_tensors else array
        if "__tuple__" in obj and len(obj) == 1:
            return tuple(decode_state(v, tensors, as_tensors) for v in obj["__tuple__"])
        if "__dict__" in obj and len(obj) == 1:
            return {decode_state(k, tensors, as_tensors): decode_state(v, tensors, as_tensors)
                    for k, v in obj["__dict__"]}
        return {k: decode_state(v, tensors, as_tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_state(v, tensors, as_tensors) for v in obj]
    return obj


# --- tensor files ----------------------------------------------------------------------------
def _host(value: Any) -> numpy.ndarray:
    array = numpy.asarray(to_host(value.array if isinstance(value, Tensor) else value))
    return array if array.flags.c_contiguous else array.copy()  # (ascontiguousarray makes 0-d 1-d)


def tensors_to_bytes(tensors: Mapping[str, Any], metadata: Any = None, kind: str = "tensors") -> bytes:
    """The safetensors bytes of named arrays/tensors, with the deepgrad manifest and metadata."""
    arrays = OrderedDict((str(name), _host(value)) for name, value in tensors.items())
    manifest = {
        "format": FORMAT, "version": VERSION, "kind": kind, "order": list(arrays),
        "crc32": {name: zlib.crc32(a.tobytes()) for name, a in arrays.items()},
        "metadata": metadata,
    }
    return _safetensors().save(dict(arrays), metadata={"deepgrad": json.dumps(manifest)})


def save_tensors(path: str | os.PathLike[str], tensors: Mapping[str, Any],
                 metadata: Any = None, kind: str = "tensors") -> None:
    """Write named arrays/tensors and JSON ``metadata`` as one safetensors file, atomically."""
    atomic_write(path, tensors_to_bytes(tensors, metadata, kind))


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint file {os.fspath(path)!r} does not exist") from None


def load_tensors(path: str | os.PathLike[str], kind: str | None = None) -> tuple[OrderedDict, Any]:
    """Read and verify a file written by ``save_tensors`` (or any safetensors file).

    Returns ``(arrays, metadata)``: NumPy arrays by name in the saved order and the
    JSON metadata. Raises ``CheckpointError`` naming the first truncated or corrupt tensor.
    """
    return tensors_from_bytes(_read(path), os.fspath(path), kind)


def tensors_from_bytes(data: bytes, name: str = "<bytes>", kind: str | None = None) -> tuple[OrderedDict, Any]:
    """``load_tensors`` on bytes in memory; ``name`` is used in error messages."""
    if len(data) < 8:
        raise CheckpointError(f"checkpoint {name!r} is truncated: {len(data)} bytes, not even a "
                              "safetensors header; it was probably cut short while being written "
                              "or copied")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise CheckpointError(f"checkpoint {name!r} is truncated: its header needs {header_len} "
                              f"bytes but the file holds {len(data) - 8} after the length field")
    try:
        header = json.loads(data[8:8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint {name!r} is corrupt: its header is not valid JSON ({e}); "
                              "is it a safetensors file?") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"checkpoint {name!r} is corrupt: unexpected header")
    meta = header.pop("__metadata__", None) or {}
    manifest: dict[str, Any] = {}
    if "deepgrad" in meta:
        try:
            manifest = json.loads(meta["deepgrad"])
        except json.JSONDecodeError as e:
            raise CheckpointError(f"checkpoint {name!r} is corrupt: its deepgrad metadata is not "
                                  f"valid JSON ({e})") from None
    if kind is not None and manifest.get("kind") != kind:
        raise CheckpointError(f"{name!r} is not a deepgrad {kind.replace('_', ' ')} file (found "
                              f"{manifest.get('kind', 'a plain safetensors file')!r})")
    body = memoryview(data)[8 + header_len:]
    order = manifest.get("order") or sorted(header, key=lambda k: header[k]["data_offsets"][0])
    checksums = manifest.get("crc32", {})
    for tname in order:
        info = header.get(tname)
        if info is None:
            raise CheckpointError(f"checkpoint {name!r} is corrupt: tensor {tname!r} is listed in "
                                  "its manifest but missing from its header")
        start, end = info["data_offsets"]
        size = _DTYPE_BYTES.get(info["dtype"], 1) * int(numpy.prod(info["shape"], dtype=numpy.int64))
        if end - start != size:
            raise CheckpointError(f"checkpoint {name!r} is corrupt: tensor {tname!r} of shape "
                                  f"{tuple(info['shape'])} should hold {size} bytes, its header "
                                  f"says {end - start}")
        if end > len(body):
            raise CheckpointError(f"checkpoint {name!r} is truncated: tensor {tname!r} ends at byte "
                                  f"{end} of the data but the file holds only {len(body)}; the "
                                  "file was cut short (an interrupted write or copy?)")
        if tname in checksums and zlib.crc32(body[start:end]) != checksums[tname]:
            raise CheckpointError(f"checkpoint {name!r} is corrupt: tensor {tname!r} fails its "
                                  "CRC-32 check (its bytes changed after it was written)")
    try:
        loaded = _safetensors().load(data)
    except Exception as e:  # the library's own checks (e.g. bytes past the last tensor)
        raise CheckpointError(f"checkpoint {name!r} is corrupt: {e}") from None
    arrays = OrderedDict((tname, loaded[tname]) for tname in order)
    return arrays, manifest.get("metadata")


# --- weights -----------------------------------------------------------------------------------
def weight_items(obj: Any) -> list[tuple[str, Tensor]]:
    """(name, tensor) of a model's weights: a Keras model's stable weight paths, an
    nn.Module's state_dict, or a mapping as given."""
    if hasattr(obj, "_weight_items"):
        return list(obj._weight_items())
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        return list(obj.state_dict().items())
    if isinstance(obj, Mapping):
        return list(obj.items())
    raise TypeError(f"checkpoint: expected a Module, a Keras model or a dict of tensors, got "
                    f"{type(obj).__name__}")


def save_weights(obj: Any, path: str | os.PathLike[str], metadata: Any = None) -> None:
    """Save the weights of ``obj`` (a Module, Keras model or dict of tensors) as safetensors."""
    save_tensors(path, OrderedDict(weight_items(obj)), metadata, kind="weights")


def check_and_copy(expected: list[tuple[str, Tensor]], arrays: Mapping[str, Any], path: str,
                    strict: bool, what: str = "model") -> None:
    """Verify every tensor first, then copy; the first mismatch raises, naming the tensor."""
    plan = []
    for key, tensor in expected:
        if key not in arrays:
            if not strict:
                continue
            have = list(arrays)
            raise CheckpointError(
                f"checkpoint {path!r} does not match the {what}: it has no tensor {key!r} "
                f"(the first of the {what}'s tensors it lacks); the file holds {len(have)} tensors"
                f"{' starting ' + repr(have[:3]) if have else ''}. Was it saved from a different "
                "architecture?")
        value = arrays[key]
        if tuple(value.shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"checkpoint {path!r} does not match the {what}: tensor {key!r} has shape "
                f"{tuple(value.shape)} in the file but {tuple(tensor.shape)} in the {what}")
        target = tensor.array.dtype
        if value.dtype != target and not (value.dtype.kind == "f" and target.kind == "f"):
            raise CheckpointError(
                f"checkpoint {path!r} does not match the {what}: tensor {key!r} has dtype "
                f"{value.dtype} in the file but {target} in the {what}")
        plan.append((tensor, value))
    if strict:
        known = {k for k, _ in expected}
        for key in arrays:
            if key not in known:
                raise CheckpointError(
                    f"checkpoint {path!r} does not match the {what}: it holds a tensor {key!r} "
                    f"that the {what} does not have (the first unexpected one)")
    for tensor, value in plan:
        tensor.array[...] = xp.asarray(value)
        tensor._version[0] += 1


def load_weights(obj: Any, path: str | os.PathLike[str], strict: bool = True) -> Any:
    """Load weights saved by ``save_weights`` into ``obj`` in place; returns the file's metadata.

    With ``strict`` every tensor of the model must be in the file and vice versa.
    Nothing is changed unless every tensor matches.
    """
    data = _read(path)
    arrays, metadata = tensors_from_bytes(data, os.fspath(path))
    if any(k.startswith("model/") for k in arrays):  # a saved model's or a training checkpoint's
        arrays = OrderedDict((k[len("model/"):], v) for k, v in arrays.items() if k.startswith("model/"))
    check_and_copy(weight_items(obj), arrays, os.fspath(path), strict)
    return metadata


# --- training checkpoints ----------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike[str], model: Any, optimizer: Any = None, *,
                    epoch: int = 0, step: int = 0, extra: Any = None, config: Any = None,
                    rng: bool = True) -> None:
    """Save everything needed to resume training exactly, in one atomic file.

    Args:
        model: an nn.Module or Keras model (its weights and buffers).
        optimizer: a deepgrad.optim optimizer (or a Keras one): its full ``state_dict``.
        epoch, step: where training stands (the next epoch / step to run).
        extra: any JSON-able state, which may contain arrays/tensors (schedules,
            callbacks, data-order generators ...); returned by ``load_checkpoint``.
        config: JSON-able architecture / training configuration, stored as is.
        rng: also store deepgrad's global RNG state (``deepgrad.get_rng_state()``).
    """
    from deepgrad import __version__
    from deepgrad.random import get_rng_state

    tensors: dict[str, Any] = OrderedDict(("model/" + k, v) for k, v in weight_items(model))
    extra_tensors: dict[str, Any] = {}
    state = {
        "epoch": int(epoch), "step": int(step),
        "rng": get_rng_state() if rng else None,
        "optimizer": None if optimizer is None else encode_state(optimizer.state_dict(),
                                                                 extra_tensors, "optimizer/"),
        "extra": encode_state(extra, extra_tensors, "extra/"),
        "config": config,
        "deepgrad_version": __version__,
        "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    tensors.update(extra_tensors)
    save_tensors(path, tensors, state, kind="training_checkpoint")


def load_checkpoint(path: str | os.PathLike[str], model: Any = None, optimizer: Any = None, *,
                    restore_rng: bool = True, strict: bool = True) -> dict[str, Any]:
    """Restore a ``save_checkpoint`` file into ``model`` and ``optimizer`` (either may be None).

    Returns ``{'epoch', 'step', 'extra', 'config', 'rng', 'saved_at'}``; ``extra``'s arrays
    come back as deepgrad tensors. The file is verified in full before anything changes.
    """
    arrays, state = load_tensors(path, kind="training_checkpoint")
    name = os.fspath(path)
    if model is not None:
        weights = OrderedDict((k[len("model/"):], v) for k, v in arrays.items() if k.startswith("model/"))
        check_and_copy(weight_items(model), weights, name, strict)
    if optimizer is not None:
        if state.get("optimizer") is None:
            raise CheckpointError(f"checkpoint {name!r} holds no optimizer state")
        try:
            optimizer.load_state_dict(decode_state(state["optimizer"], arrays))
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(f"checkpoint {name!r}: the optimizer state does not match the "
                                  f"optimizer: {e}") from None
    if restore_rng and state.get("rng") is not None:
        from deepgrad.random import set_rng_state

        set_rng_state(state["rng"])
    return {"epoch": state["epoch"], "step": state["step"],
            "extra": decode_state(state.get("extra"), arrays), "config": state.get("config"),
            "rng": state.get("rng"), "saved_at": state.get("saved_at")}


def read_checkpoint_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON part of a checkpoint or weights file (no tensors decoded into a model)."""
    _, metadata = load_tensors(path)
    return metadata if isinstance(metadata, dict) else {"metadata": metadata}


__all__ = ["CheckpointError", "atomic_write", "save_tensors", "load_tensors", "tensors_to_bytes",
           "tensors_from_bytes", "save_weights",
           "load_weights", "save_checkpoint", "load_checkpoint", "read_checkpoint_info",
           "encode_state", "decode_state", "weight_items"]


"""Helpers for the deepgrad.data tests: small dataset files written on the fly."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from deepgrad.data.datasets import write_idx

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def make_mnist(root: Path, folder: str = "mnist", n_train: int = 60, n_test: int = 20, seed: int = 0,
               gz: bool = True) -> dict[str, np.ndarray]:
    """Write four small IDX files in MNIST's layout; return the arrays written."""
    rng = np.random.default_rng(seed)
    d = root / folder
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(d / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(d / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        out[f"{prefix}_images"], out[f"{prefix}_labels"] = images, labels
    return out


def cifar_pickle(data: np.ndarray, labels: list[int], label_key: str = "labels", protocol: int = 2,
                 extra: dict | None = None) -> bytes:
    entry = {"batch_label": "testing batch", label_key: labels, "data": data,
             "filenames": [f"img_{i}.png" for i in range(len(labels))]}
    entry.update(extra or {})
    return pickle.dumps(entry, protocol=protocol)


def make_cifar10(root: Path, n_per_batch: int = 8, as_archive: bool = True, protocol: int = 2,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """Write a miniature cifar-10-python.tar.gz (or its extracted folder)."""
    rng = np.random.default_rng(seed)
    files: dict[str, bytes] = {}
    train_x, train_y = [], []
    for i in range(1, 6):
        x = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, size=n_per_batch).tolist()
        files[f"data_batch_{i}"] = cifar_pickle(x, y, protocol=protocol)
        train_x.append(x)
        train_y += y
    tx = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
    ty = rng.integers(0, 10, size=n_per_batch).tolist()
    files["test_batch"] = cifar_pickle(tx, ty, protocol=protocol)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    files["batches.meta"] = pickle.dumps({"label_names": names, "num_cases_per_batch": n_per_batch,
                                          "num_vis": 3072}, protocol=protocol)
    write_members(root, "cifar-10-batches-py", "cifar-10-python.tar.gz", files, as_archive)
    return {"train_x": np.concatenate(train_x), "train_y": np.array(train_y),
            "test_x": tx, "test_y": np.array(ty)}


def write_members(root: Path, folder: str, archive: str, files: dict[str, bytes], as_archive: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if as_archive:
        path = root / archive
        with tarfile.open(path, "w:gz") as tar:
            for name, blob in files.items():
                info = tarfile.TarInfo(f"{folder}/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        return path
    d = root / folder
    d.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (d / name).write_bytes(blob)
    return d


class Hostile:
    """Unpickling this runs os.system: the restricted unpickler must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))

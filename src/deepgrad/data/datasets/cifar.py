"""CIFAR-10 and CIFAR-100 from the canonical "python version" archives.

Layout: either the extracted folder ``<root>/cifar-10-batches-py/``
(``data_batch_1`` ... ``data_batch_5``, ``test_batch``, ``batches.meta``) or
the archive ``<root>/cifar-10-python.tar.gz`` itself, read in place without
extracting; likewise ``<root>/cifar-100-python/`` (``train``, ``test``,
``meta``) or ``<root>/cifar-100-python.tar.gz``.

The batches are Python pickles. They are read with :class:`RestrictedUnpickler`,
which resolves only the few NumPy names needed to rebuild arrays; any other
global (``os.system``, ``builtins.eval``, ...) is refused, so a hostile archive
cannot run code. Images are ``(N, 32, 32, 3)`` ``uint8`` (HWC), labels ``int64``.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any
from collections.abc import Callable

import numpy as np

from ..dataset import Dataset
from ._download import CorruptFileError, DatasetNotFoundError, Resource, data_root, download_file

__all__ = ["CIFAR10", "CIFAR100", "RestrictedUnpickler", "restricted_loads"]

# (module, name) -> candidate (module, name) to import; NumPy 2 moved numpy.core to numpy._core.
_ALLOWED: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    for _name in ("_reconstruct", "scalar"):
        _ALLOWED[(_mod, _name)] = (("numpy._core.multiarray", _name), ("numpy.core.multiarray", _name))
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = (("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"))
_ALLOWED[("numpy", "ndarray")] = (("numpy", "ndarray"),)
_ALLOWED[("numpy", "dtype")] = (("numpy", "dtype"),)


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode``: protocol-2 pickles written by Python 3 store
    bytes as ``codecs.encode(str, "latin1")``; no other codec is allowed."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing codecs.encode with encoding {encoding!r}")
    return text.encode("latin1", errors)


_SAFE_OVERRIDES: dict[tuple[str, str], Any] = {("_codecs", "encode"): _latin1_encode}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds plain containers, strings, numbers and NumPy
    arrays, and refuses every other global."""

    def __init__(self, file: Any, source: str = "<pickle>") -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_OVERRIDES:
            return _SAFE_OVERRIDES[(module, name)]
        candidates = _ALLOWED.get((module, name))
        if candidates is None:
            raise pickle.UnpicklingError(
                f"{self.source}: refusing to load the global {module}.{name}: a dataset pickle may "
                "only hold arrays, lists, dicts, strings and numbers, so this file is corrupted or "
                "malicious; delete it and download the canonical archive again"
            )
        for mod, attr in candidates:
            try:
                return getattr(importlib.import_module(mod), attr)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"{self.source}: {module}.{name} is not available in this NumPy")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(f"{self.source}: persistent ids are not allowed")


def restricted_loads(data: bytes, source: str = "<pickle>") -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; errors become :class:`CorruptFileError`."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source).load()
    except pickle.UnpicklingError as exc:
        raise CorruptFileError(str(exc)) from exc
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise CorruptFileError(f"{source}: not a valid CIFAR pickle ({type(exc).__name__}: {exc})") from exc


class CIFAR10(Dataset[tuple]):
    """CIFAR-10: 50000 training and 10000 test colour images of 10 classes.

    Args:
        root: the data root; default ``$DEEPGRAD_DATA`` or ``~/.cache/deepgrad``.
        train: the training set (else the test set).
        transform: applied to each image, a ``(32, 32, 3)`` ``uint8`` **HWC** array.
        target_transform: applied to each label (a Python int).
        download: fetch the archive (md5-checked) when neither the folder nor the
            archive is present.

    ``data`` is ``(N, 32, 32, 3)`` ``uint8`` (HWC) and ``targets`` ``(N,)`` ``int64``.
    """

    name = "CIFAR10"
    base_folder = "cifar-10-batches-py"
    archive = Resource(
        "cifar-10-python.tar.gz",
        ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
        md5="c58f30108f718f92721af3b95e74349a",
    )
    train_files: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files: tuple[str, ...] = ("test_batch",)
    meta_file = "batches.meta"
    meta_key = "label_names"
    label_key = "labels"

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
    ) -> None:
        self.root = data_root(root)
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        names = self.train_files if self.train else self.test_files
        blobs = self._read_members([*names, self.meta_file], download)
        datas, labels = [], []
        for n in names:
            entry = restricted_loads(blobs[n], f"{self.base_folder}/{n}")
            d, lab = self._parse_batch(entry, n)
            datas.append(d)
            labels.append(lab)
        meta = restricted_loads(blobs[self.meta_file], f"{self.base_folder}/{self.meta_file}")
        if not isinstance(meta, dict) or self.meta_key not in meta:
            raise CorruptFileError(f"{self.base_folder}/{self.meta_file}: missing {self.meta_key!r}")
        self.classes: list[str] = [str(c) for c in meta[self.meta_key]]
        self.data = np.concatenate(datas).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        self.targets = np.concatenate(labels).astype(np.int64)
        if len(self.targets) and (self.targets.min() < 0 or self.targets.max() >= len(self.classes)):
            raise CorruptFileError(f"{self.name}: labels outside [0, {len(self.classes)})")

    def _parse_batch(self, entry: Any, member: str) -> tuple[np.ndarray, np.ndarray]:
        where = f"{self.base_folder}/{member}"
        if not isinstance(entry, dict) or "data" not in entry or self.label_key not in entry:
            raise CorruptFileError(f"{where}: expected a dict with 'data' and {self.label_key!r}")
        data = np.asarray(entry["data"])
        lab = np.asarray(entry[self.label_key], dtype=np.int64).reshape(-1)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(lab):
            raise CorruptFileError(
                f"{where}: expected uint8 data (N, 3072) and N labels; got {data.dtype} "
                f"{data.shape} and {lab.shape[0]} labels"
            )
        return data, lab

    def _read_members(self, names: list[str], download: bool) -> dict[str, bytes]:
        folder = self.root / self.base_folder
        if folder.is_dir() and all((folder / n).is_file() for n in names):
            return {n: (folder / n).read_bytes() for n in names}
        tar_path = self.root / self.archive.filename
        if not tar_path.is_file():
            if not download:
                raise DatasetNotFoundError(self._missing_message(names))
            try:
                download_file(self.archive, self.root)
            except DatasetNotFoundError as exc:
                raise DatasetNotFoundError(self._missing_message(names) + f"\n{exc}") from exc
        return self._read_tar(tar_path, names)

    def _read_tar(self, tar_path: Path, names: list[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        try:
            with tarfile.open(tar_path, "r:*") as tar:
                for n in names:
                    try:
                        member = tar.getmember(f"{self.base_folder}/{n}")
                    except KeyError:
                        raise CorruptFileError(
                            f"{tar_path}: the archive has no member {self.base_folder}/{n}; "
                            f"it is not the canonical {self.archive.filename}"
                        ) from None
                    f = tar.extractfile(member)
                    if f is None:
                        raise CorruptFileError(f"{tar_path}: {member.name} is not a regular file")
                    out[n] = f.read()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise CorruptFileError(
                f"{tar_path} cannot be read ({type(exc).__name__}: {exc}): it is truncated or "
                "corrupted; delete it and download it again"
            ) from exc
        return out

    def _missing_message(self, names: list[str]) -> str:
        return (
            f"{self.name}: neither {self.root / self.base_folder}/ (with {', '.join(names)}) nor "
            f"{self.root / self.archive.filename} exists.\n"
            f"Place the archive {self.archive.filename} (md5 {self.archive.md5}, from "
            f"{self.archive.urls[0]}) in {self.root}, or its extracted folder {self.base_folder}/ "
            f"there (the data root is the `root` argument, else $DEEPGRAD_DATA, else "
            f"~/.cache/deepgrad), or pass download=True on a machine with network access."
        )

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img: Any = self.data[index]
        target: Any = int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _fetch_collated(self, indices: Any) -> Any:
        if self.transform is not None or self.target_transform is not None:
            return NotImplemented
        idx = np.asarray(indices, dtype=np.int64)
        return self.data[idx], self.targets[idx]

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(split={split!r}, size={len(self)}, root={str(self.root)!r})"


class CIFAR100(CIFAR10):
    """CIFAR-100: like :class:`CIFAR10` with 100 fine classes (or the 20 coarse
    superclasses with ``label_mode="coarse"``)."""

    name = "CIFAR100"
    base_folder = "cifar-100-python"
    archive = Resource(
        "cifar-100-python.tar.gz",
        ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
        md5="eb9058c3a382ffc7106e4002c42a8d85",
    )
    train_files = ("train",)
    test_files = ("test",)
    meta_file = "meta"

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
        label_mode: str = "fine",
    ) -> None:
        if label_mode not in ("fine", "coarse"):
            raise ValueError(f"CIFAR100: label_mode must be 'fine' or 'coarse'; got {label_mode!r}")
        self.label_mode = label_mode
        self.meta_key = f"{label_mode}_label_names"
        self.label_key = f"{label_mode}_labels"
        super().__init__(root, train, transform, target_transform, download)

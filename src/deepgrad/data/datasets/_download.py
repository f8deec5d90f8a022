"""Where dataset files live, how they are downloaded and how they are checked.

The data root is, in order: the ``root`` argument, the ``DEEPGRAD_DATA``
environment variable, ``~/.cache/deepgrad``. Each dataset uses its own
sub-directory of the root (``mnist/``, ``fashion-mnist/``, ``kmnist/``,
``cifar-10-batches-py/`` or ``cifar-10-python.tar.gz``, ...).

Downloads go to a ``.part`` file first and are renamed only once their
checksum matches, so a failed or corrupted download is never used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

__all__ = [
    "DatasetNotFoundError",
    "CorruptFileError",
    "Resource",
    "data_root",
    "file_digest",
    "ensure_files",
    "download_file",
]

ENV_VAR = "DEEPGRAD_DATA"
DEFAULT_ROOT = Path("~/.cache/deepgrad")


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are missing (and could not be downloaded)."""


class CorruptFileError(ValueError):
    """A dataset file is truncated, corrupted or fails its checksum."""


@dataclass(frozen=True)
class Resource:
    """One file of a dataset: its name, where to fetch it, and its checksums."""

    filename: str
    urls: tuple[str, ...]
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``root``, else ``$DEEPGRAD_DATA``, else ``~/.cache/deepgrad``."""
    if root is None:
        env = os.environ.get(ENV_VAR)
        root = env if env else DEFAULT_ROOT
    return Path(root).expanduser()


def file_digest(path: str | os.PathLike[str], algorithm: str = "md5", chunk: int = 1 << 20) -> str:
    """The hex digest of a file (``md5`` or ``sha256``)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_file(path: Path, res: Resource) -> None:
    """Raise :class:`CorruptFileError` unless ``path`` matches ``res``'s size and checksums."""
    if res.size is not None and path.stat().st_size != res.size:
        raise CorruptFileError(
            f"{path} has {path.stat().st_size} bytes, expected {res.size}: the file is truncated "
            f"or not the canonical {res.filename}; delete it and download it again"
        )
    for algo, want in (("md5", res.md5), ("sha256", res.sha256)):
        if want is not None:
            got = file_digest(path, algo)
            if got != want:
                raise CorruptFileError(
                    f"{path} has {algo} {got}, expected {want}: the file is corrupted or not the "
                    f"canonical {res.filename}; delete it and download it again"
                )


def download_file(res: Resource, directory: Path, timeout: float = 60.0) -> Path:
    """Download ``res`` into ``directory`` trying each mirror in turn; verify it.

    Raises :class:`DatasetNotFoundError` listing every mirror's error when none works.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / res.filename
    part = directory / (res.filename + ".part")
    errors: list[str] = []
    for url in res.urls:
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "deepgrad-data/1.0"})
            with urllib.request.urlopen(req, timeout=timeout) as resp, open(part, "wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
            verify_file(part, res)
        except (urllib.error.URLError, OSError, CorruptFileError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
            part.unlink(missing_ok=True)
            continue
        os.replace(part, target)
        return target
    raise DatasetNotFoundError(
        f"could not download {res.filename}; tried:\n  " + "\n  ".join(errors)
    )


def _missing_message(name: str, directory: Path, missing: Sequence[Resource], reason: str) -> str:
    lines = [f"{name}: {reason} in {directory}:"]
    for res in missing:
        src = res.urls[0] if res.urls else "(no public source)"
        check = f" (md5 {res.md5})" if res.md5 else ""
        lines.append(f"  {res.filename}{check}  from {src}")
    lines.append(
        f"Place these files in {directory} (the data root is the `root` argument, else "
        f"${ENV_VAR}, else {DEFAULT_ROOT}), or pass download=True on a machine with network access."
    )
    return "\n".join(lines)


def ensure_files(
    name: str,
    directory: Path,
    resources: Sequence[Resource],
    download: bool,
    alternatives: Sequence[Sequence[str]] = (),
) -> list[Path]:
    """Paths of ``resources`` in ``directory``, downloading missing ones if ``download``.

    ``alternatives[i]``, when given, lists other acceptable file names for
    resource ``i`` (e.g. the uncompressed IDX file instead of the ``.gz``).
    Raises :class:`DatasetNotFoundError` naming every missing file and where to put it.
    """
    found: list[Path | None] = []
    for i, res in enumerate(resources):
        names = [res.filename, *(alternatives[i] if i < len(alternatives) else ())]
        found.append(next((directory / n for n in names if (directory / n).is_file()), None))
    missing = [res for res, p in zip(resources, found) if p is None]
    if not missing:
        return [p for p in found if p is not None]
    if not download:
        raise DatasetNotFoundError(_missing_message(name, directory, missing, "missing files"))
    failures: list[str] = []
    for i, (res, p) in enumerate(zip(resources, found)):
        if p is None:
            try:
                found[i] = download_file(res, directory)
            except DatasetNotFoundError as exc:
                failures.append(str(exc))
    if failures:
        msg = _missing_message(name, directory, [r for r, p in zip(resources, found) if p is None],
                               "could not download the missing files")
        raise DatasetNotFoundError(msg + "\nDownload errors:\n" + "\n".join(failures))
    return [p for p in found if p is not None]

"""Character-level text: a vocabulary, a corpus with a train / validation split,
(input, target) sequence datasets for char-RNNs, and Tiny Shakespeare.

Layout: ``<root>/tinyshakespeare/input.txt`` (Karpathy's char-rnn file).
"""

from __future__ import annotations

import os
from typing import Any
from collections.abc import Iterable, Sequence

import numpy as np

from .._rng import numpy_generator
from ..dataset import Dataset
from ._download import Resource, data_root, ensure_files, verify_file

__all__ = ["CharVocab", "CharCorpus", "SequenceDataset", "TinyShakespeare"]


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)


class CharVocab:
    """A character vocabulary: ``itos`` (sorted characters) and ``stoi``."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.itos: list[str] = sorted(set(chars))
        if any(len(c) != 1 for c in self.itos):
            raise ValueError("CharVocab: every entry must be a single character")
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}
        cps = np.array([ord(c) for c in self.itos], dtype=np.int64)
        self._table = np.full(int(cps.max(initial=-1)) + 1, -1, dtype=np.int64)
        self._table[cps] = np.arange(len(cps))
        self._chars = np.array(self.itos, dtype=object) if self.itos else np.empty(0, dtype=object)

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of the distinct characters in ``text``."""
        return cls(set(text))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, ch: object) -> bool:
        return ch in self.stoi

    def encode(self, text: str) -> np.ndarray:
        """``text`` as an ``int64`` array of character ids (vectorized)."""
        cps = _codepoints(text)
        ids = np.full(len(cps), -1, dtype=np.int64)
        inside = cps < len(self._table)
        ids[inside] = self._table[cps[inside]]
        if (ids < 0).any():
            bad = sorted({text[i] for i in np.flatnonzero(ids < 0)[:20]})
            raise KeyError(f"CharVocab.encode: characters not in the vocabulary: {bad!r}")
        return ids

    def decode(self, ids: Sequence[int] | np.ndarray | Any) -> str:
        """The string for a sequence of ids (a list, array or tensor)."""
        arr = np.asarray(getattr(ids, "array", ids), dtype=np.int64).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self.itos)):
            raise IndexError(f"CharVocab.decode: ids must be in [0, {len(self.itos)}); got "
                             f"min {arr.min()} max {arr.max()}")
        return "".join(self._chars[arr].tolist())

    def __repr__(self) -> str:
        return f"CharVocab(size={len(self)})"


class SequenceDataset(Dataset[tuple]):
    """Windows of a token stream: item ``i`` is ``(x, y)`` with
    ``x = ids[s : s + seq_len]`` and ``y = ids[s + 1 : s + seq_len + 1]``,
    ``s = i * stride`` (``stride`` defaults to ``seq_len``: non-overlapping)."""

    def __init__(self, ids: np.ndarray | Sequence[int], seq_len: int, stride: int | None = None) -> None:
        self.ids = np.asarray(getattr(ids, "array", ids), dtype=np.int64).reshape(-1)
        if not isinstance(seq_len, (int, np.integer)) or seq_len <= 0:
            raise ValueError(f"SequenceDataset: seq_len must be a positive int; got {seq_len!r}")
        stride = seq_len if stride is None else stride
        if not isinstance(stride, (int, np.integer)) or stride <= 0:
            raise ValueError(f"SequenceDataset: stride must be a positive int; got {stride!r}")
        if len(self.ids) < seq_len + 1:
            raise ValueError(f"SequenceDataset: need at least seq_len + 1 = {seq_len + 1} tokens; "
                             f"got {len(self.ids)}")
        self.seq_len = int(seq_len)
        self.stride = int(stride)

    def __len__(self) -> int:
        return (len(self.ids) - 1 - self.seq_len) // self.stride + 1

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"SequenceDataset index {index} out of range for length {n}")
        s = index * self.stride
        return self.ids[s : s + self.seq_len], self.ids[s + 1 : s + self.seq_len + 1]

    def _fetch_collated(self, indices: Any) -> tuple[np.ndarray, np.ndarray]:
        starts = np.asarray(indices, dtype=np.int64) * self.stride
        pos = starts[:, None] + np.arange(self.seq_len)
        return self.ids[pos], self.ids[pos + 1]


class CharCorpus:
    """A text as character ids, with a contiguous train / validation split.

    ``data`` holds the whole text encoded; ``split()`` gives the first
    ``1 - val_fraction`` as training ids and the rest as validation ids.
    """

    def __init__(self, text: str, vocab: CharVocab | None = None, val_fraction: float = 0.1) -> None:
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"CharCorpus: val_fraction must be in [0, 1); got {val_fraction!r}")
        self.text = text
        self.vocab = vocab if vocab is not None else CharVocab.from_text(text)
        self.data = self.vocab.encode(text)
        self.val_fraction = float(val_fraction)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> np.ndarray:
        return self.vocab.encode(text)

    def decode(self, ids: Any) -> str:
        return self.vocab.decode(ids)

    def split(self, val_fraction: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(train_ids, val_ids)``: the first ``1 - val_fraction`` of the text, then the rest."""
        f = self.val_fraction if val_fraction is None else val_fraction
        if not 0.0 <= f < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1); got {f!r}")
        cut = int(round(len(self.data) * (1.0 - f)))
        return self.data[:cut], self.data[cut:]

    def _ids(self, split: str) -> np.ndarray:
        train, val = self.split()
        if split == "train":
            return train
        if split in ("val", "valid", "validation"):
            return val
        if split == "all":
            return self.data
        raise ValueError(f"split must be 'train', 'val' or 'all'; got {split!r}")

    def sequences(self, seq_len: int, split: str = "train", stride: int | None = None) -> SequenceDataset:
        """A :class:`SequenceDataset` of (input, target) windows of ``split``."""
        return SequenceDataset(self._ids(split), seq_len, stride)

    def random_batch(self, batch_size: int, seq_len: int, split: str = "train",
                     generator: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)``, each ``(batch_size, seq_len)`` ``int64``, at random offsets
        (``y`` is ``x`` shifted by one character)."""
        ids = self._ids(split)
        if len(ids) < seq_len + 1:
            raise ValueError(f"random_batch: the {split} split has {len(ids)} ids, fewer than seq_len + 1")
        starts = numpy_generator(generator).integers(0, len(ids) - seq_len, size=batch_size)
        pos = starts[:, None] + np.arange(seq_len)
        return ids[pos], ids[pos + 1]

    def batchify(self, batch_size: int, split: str = "train") -> np.ndarray:
        """Cut ``split`` into ``batch_size`` contiguous streams, shape ``(batch_size, L)``,
        for stateful char-RNN training with truncated backpropagation through time."""
        ids = self._ids(split)
        length = len(ids) // batch_size
        if length < 2:
            raise ValueError(f"batchify: {len(ids)} ids are too few for batch_size {batch_size}")
        return ids[: length * batch_size].reshape(batch_size, length)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(chars={len(self.data)}, vocab_size={self.vocab_size})"


class TinyShakespeare(CharCorpus):
    """Karpathy's Tiny Shakespeare (1115394 characters, 65 distinct), from
    ``<root>/tinyshakespeare/input.txt``.

    Args:
        root: the data root; default ``$DEEPGRAD_DATA`` or ``~/.cache/deepgrad``.
        download: fetch the file (checksum-verified) when it is missing.
        val_fraction: the tail of the text kept for validation (default 0.1).
        verify: check the file's sha256 against the canonical one.
    """

    folder = "tinyshakespeare"
    resource = Resource(
        "input.txt",
        ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",),
        md5="6fb458f1232090904fb40fe944165e91",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        size=1115394,
    )

    def __init__(self, root: str | os.PathLike[str] | None = None, download: bool = False,
                 val_fraction: float = 0.1, verify: bool = False) -> None:
        self.root = data_root(root)
        (path,) = ensure_files("TinyShakespeare", self.root / self.folder, [self.resource], download)
        if verify:
            verify_file(path, self.resource)
        super().__init__(path.read_text(encoding="utf-8"), val_fraction=val_fraction)

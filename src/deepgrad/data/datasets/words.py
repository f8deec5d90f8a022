"""Word-level text for word2vec: tokenizer, vocabulary (min count, unknown token),
frequent-word subsampling, skip-gram and CBOW pairs, and the negative-sampling
table (unigram counts to the power 3/4), as in Mikolov et al. (2013) and the
original ``word2vec.c``. All pair generation is vectorized over the corpus.
"""

from __future__ import annotations

import collections
import re
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .._rng import numpy_generator

__all__ = ["tokenize", "Vocab", "subsample", "skipgram_pairs", "cbow_pairs", "NegativeSampler"]

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TOKEN_CASED = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


def tokenize(text: str, lower: bool = True) -> list[str]:
    """Split ``text`` into word tokens (letters/digits, with an apostrophe suffix
    such as ``don't``); punctuation is dropped. Lower-cased unless ``lower=False``."""
    if lower:
        return _TOKEN.findall(text.lower())
    return _TOKEN_CASED.findall(text)


class Vocab:
    """A word vocabulary ordered by decreasing count (ties alphabetically).

    Args:
        counts: token -> count.
        min_count: tokens rarer than this map to ``unk_token``.
        max_size: keep at most this many tokens (specials and ``unk`` included).
        unk_token: the unknown token (``None``: unknown tokens raise ``KeyError``).
        specials: tokens placed first (after ``unk``), e.g. ``("<pad>",)``.

    ``counts`` (attribute) is an ``int64`` array aligned with ``itos``; the
    unknown token's count is the total of the tokens it replaced.
    """

    def __init__(self, counts: Mapping[str, int], min_count: int = 1, max_size: int | None = None,
                 unk_token: str | None = "<unk>", specials: Sequence[str] = ()) -> None:
        if min_count < 1:
            raise ValueError(f"Vocab: min_count must be >= 1; got {min_count!r}")
        head = ([unk_token] if unk_token is not None else []) + [s for s in specials if s != unk_token]
        if max_size is not None and max_size < len(head):
            raise ValueError(f"Vocab: max_size {max_size} leaves no room for the special tokens {head}")
        ranked = sorted(((t, c) for t, c in counts.items() if t not in head), key=lambda tc: (-tc[1], tc[0]))
        kept = [(t, c) for t, c in ranked if c >= min_count]
        if max_size is not None:
            kept = kept[: max_size - len(head)]
        kept_set = {t for t, _ in kept}
        dropped = sum(c for t, c in counts.items() if t not in kept_set and t not in head)
        self.itos: list[str] = head + [t for t, _ in kept]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        cnt = [counts.get(t, 0) for t in head] + [c for _, c in kept]
        if unk_token is not None:
            cnt[0] += dropped
        self.counts = np.asarray(cnt, dtype=np.int64)
        self.unk_token = unk_token
        self.unk_index = 0 if unk_token is not None else None
        self.min_count = min_count

    @classmethod
    def build(cls, tokens: Iterable[str], min_count: int = 1, max_size: int | None = None,
              unk_token: str | None = "<unk>", specials: Sequence[str] = ()) -> Vocab:
        """A vocabulary from a token stream."""
        return cls(collections.Counter(tokens), min_count, max_size, unk_token, specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        idx = self.stoi.get(token, self.unk_index)
        if idx is None:
            raise KeyError(f"Vocab: {token!r} is not in the vocabulary and there is no unknown token")
        return idx

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Token ids as an ``int64`` array (unknown tokens -> ``unk_index``)."""
        return np.fromiter((self[t] for t in tokens), dtype=np.int64)

    def decode(self, ids: Iterable[int] | Any) -> list[str]:
        """Tokens for ids (a list, array or tensor)."""
        arr = np.asarray(getattr(ids, "array", ids), dtype=np.int64).reshape(-1)
        return [self.itos[i] for i in arr.tolist()]

    def frequencies(self) -> np.ndarray:
        """Relative frequency of each id (``counts / counts.sum()``)."""
        total = self.counts.sum()
        return self.counts / total if total else np.zeros(len(self), dtype=np.float64)

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, min_count={self.min_count}, unk_token={self.unk_token!r})"


def subsample(ids: np.ndarray | Sequence[int], counts: np.ndarray | Sequence[int], threshold: float = 1e-3,
              generator: Any = None) -> np.ndarray:
    """Drop frequent words at random (word2vec's subsampling).

    Each occurrence of word ``w`` with relative frequency ``f`` is kept with
    probability ``min(1, (sqrt(f / t) + 1) * t / f)``, ``t = threshold``
    (the formula of ``word2vec.c``; ``threshold <= 0`` keeps everything).
    """
    ids = np.asarray(ids, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    if threshold <= 0 or ids.size == 0:
        return ids.copy()
    freq = counts / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        keep_p = np.where(freq > 0, (np.sqrt(freq / threshold) + 1.0) * threshold / freq, 1.0)
    keep = numpy_generator(generator).random(ids.size) < np.minimum(keep_p, 1.0)[ids]
    return ids[keep]


def skipgram_pairs(ids: np.ndarray | Sequence[int], window: int = 5, dynamic_window: bool = True,
                   generator: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Skip-gram ``(centers, contexts)`` pairs: every word with each neighbour at
    distance ``1..window`` on both sides.

    With ``dynamic_window`` (word2vec's default) each centre uses a window drawn
    uniformly from ``1..window``, so nearer words are paired more often.
    Pairs come out in corpus order of the centre word.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if window < 1:
        raise ValueError(f"skipgram_pairs: window must be >= 1; got {window!r}")
    n = ids.size
    eff = (numpy_generator(generator).integers(1, window + 1, size=n) if dynamic_window
           else np.full(n, window, dtype=np.int64))
    centers, contexts = [], []
    for d in range(1, min(window, n - 1) + 1):
        left = np.arange(n - d)
        right = left + d
        fwd = left[eff[left] >= d]  # centre i, context i + d
        bwd = right[eff[right] >= d]  # centre i + d, context i
        centers += [fwd, bwd]
        contexts += [fwd + d, bwd - d]
    if not centers:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    c_pos = np.concatenate(centers)
    x_pos = np.concatenate(contexts)
    order = np.lexsort((x_pos, c_pos))
    return ids[c_pos[order]], ids[x_pos[order]]


def cbow_pairs(ids: np.ndarray | Sequence[int], window: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """CBOW ``(contexts, targets)``: ``contexts`` is ``(M, 2 * window)`` (the
    ``window`` words before then after each target), ``targets`` is ``(M,)``;
    only targets with a full window on both sides are used."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if window < 1:
        raise ValueError(f"cbow_pairs: window must be >= 1; got {window!r}")
    n = ids.size
    if n < 2 * window + 1:
        return np.empty((0, 2 * window), np.int64), np.empty(0, np.int64)
    centers = np.arange(window, n - window)
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])
    return ids[centers[:, None] + offsets], ids[centers]


class NegativeSampler:
    """Draws negative words from the unigram distribution raised to ``power``
    (3/4 in word2vec), through a lookup table of ``table_size`` entries as in
    ``word2vec.c`` (each id appears in proportion to ``count ** power``).
    """

    def __init__(self, counts: np.ndarray | Sequence[int], power: float = 0.75, table_size: int = 1_000_000) -> None:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or counts.size == 0 or np.any(counts < 0) or counts.sum() <= 0:
            raise ValueError("NegativeSampler: counts must be a non-empty 1-D array of non-negative counts, not all zero")
        if table_size < counts.size:
            raise ValueError(f"NegativeSampler: table_size {table_size} is smaller than the vocabulary {counts.size}")
        weights = counts**power
        self.probs = weights / weights.sum()
        cum = np.cumsum(self.probs)
        positions = (np.arange(table_size) + 0.5) / table_size
        self.table = np.minimum(np.searchsorted(cum, positions, side="right"), counts.size - 1).astype(np.int64)

    def sample(self, shape: int | tuple[int, ...], generator: Any = None) -> np.ndarray:
        """Negative ids of the given shape."""
        rng = numpy_generator(generator)
        return self.table[rng.integers(0, self.table.size, size=shape)]

    def __len__(self) -> int:
        return int(self.table.size)

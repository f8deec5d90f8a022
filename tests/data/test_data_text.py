"""Character corpus, Tiny Shakespeare and the word2vec helpers."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.data import DataLoader
from deepgrad.data.datasets import (
    CharCorpus,
    CharVocab,
    DatasetNotFoundError,
    NegativeSampler,
    SequenceDataset,
    TinyShakespeare,
    Vocab,
    cbow_pairs,
    skipgram_pairs,
    subsample,
    tokenize,
)

TEXT = "hello world, hello deepgrad!\nthe end."


def test_char_vocab_round_trip_and_errors():
    v = CharVocab.from_text(TEXT)
    assert v.itos == sorted(set(TEXT)) and len(v) == len(set(TEXT))
    ids = v.encode("hello")
    assert ids.dtype == np.int64 and v.decode(ids) == "hello"
    assert v.decode(dg.from_numpy(ids)) == "hello"
    with pytest.raises(KeyError, match=r"not in the vocabulary: \['z'\]"):
        v.encode("zz")
    with pytest.raises(IndexError, match="ids must be in"):
        v.decode([999])
    assert CharVocab.from_text("héllo ✓").decode(CharVocab.from_text("héllo ✓").encode("✓é")) == "✓é"


def test_corpus_split_sequences_and_batches():
    corpus = CharCorpus(TEXT * 10, val_fraction=0.1)
    train, val = corpus.split()
    assert len(train) + len(val) == len(corpus.data)
    assert corpus.decode(np.concatenate([train, val])) == TEXT * 10
    seqs = corpus.sequences(8)
    x, y = seqs[2]
    assert np.array_equal(x[1:], y[:-1]) and np.array_equal(x, train[16:24])
    assert len(seqs) == (len(train) - 1 - 8) // 8 + 1
    xb, yb = next(iter(DataLoader(seqs, batch_size=4)))
    assert xb.shape == (4, 8) and xb.dtype == dg.int64 and np.array_equal(xb.numpy()[2], x)
    rx, ry = corpus.random_batch(5, 6, split="val", generator=0)
    assert rx.shape == (5, 6) and np.array_equal(rx[:, 1:], ry[:, :-1])
    streams = corpus.batchify(4)
    assert streams.shape[0] == 4 and np.array_equal(streams[0], train[: streams.shape[1]])
    with pytest.raises(ValueError, match="split must be 'train', 'val' or 'all'"):
        corpus.sequences(4, split="dev")
    with pytest.raises(ValueError, match="seq_len must be a positive int; got 0"):
        SequenceDataset(np.arange(10), 0)


def test_tiny_shakespeare_real(shared_shakespeare):
    ts = TinyShakespeare(shared_shakespeare, verify=True)
    assert len(ts.data) == 1115394 and ts.vocab_size == 65
    assert ts.text.startswith("First Citizen:")
    assert ts.decode(ts.data[:14]) == "First Citizen:"
    train, val = ts.split()
    assert len(train) == 1003855 and len(val) == 111539
    tokens = tokenize(ts.text)
    vocab = Vocab.build(tokens, min_count=5)
    assert 3000 < len(vocab) < 10000 and vocab.counts[0] > 0  # <unk> collects the rare words
    assert set(vocab.itos[1:6]) >= {"the", "and"}
    ids = subsample(vocab.encode(tokens), vocab.counts, threshold=1e-4, generator=0)
    assert 0.2 * len(tokens) < len(ids) < 0.8 * len(tokens)
    centers, contexts = skipgram_pairs(ids, window=5, generator=0)
    assert len(centers) == len(contexts) and 3 * len(ids) < len(centers) < 10 * len(ids)
    negatives = NegativeSampler(vocab.counts).sample((len(centers), 5), generator=0)
    assert negatives.shape == (len(centers), 5) and negatives.max() < len(vocab)


def test_tiny_shakespeare_missing(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"input\.txt.*\n.*tinyshakespeare"):
        TinyShakespeare(tmp_path)


def test_tokenize_and_vocab():
    toks = tokenize("The cat's hat -- the CAT, and 42 cats!")
    assert toks == ["the", "cat's", "hat", "the", "cat", "and", "42", "cats"]
    v = Vocab.build(toks, min_count=2)
    assert v.itos == ["<unk>", "the"] and v.counts.tolist() == [6, 2]
    assert v["cat"] == v.unk_index == 0 and v["the"] == 1
    assert v.encode(["the", "dog"]).tolist() == [1, 0]
    assert v.decode([1, 0]) == ["the", "<unk>"]
    v2 = Vocab.build(toks, specials=["<pad>"], max_size=4)
    assert v2.itos[:2] == ["<unk>", "<pad>"] and len(v2) == 4
    strict = Vocab.build(toks, unk_token=None)
    with pytest.raises(KeyError, match="no unknown token"):
        strict["dog"]
    assert abs(v.frequencies().sum() - 1.0) < 1e-12


def test_subsampling_drops_frequent_words():
    counts = np.array([9000, 1000, 10])
    ids = np.repeat(np.arange(3), counts)
    kept = subsample(ids, counts, threshold=1e-3, generator=0)
    frac = np.bincount(kept, minlength=3) / counts
    f = counts / counts.sum()
    expected = np.minimum((np.sqrt(f / 1e-3) + 1) * 1e-3 / f, 1)
    assert np.allclose(frac, expected, atol=0.03)
    assert frac[2] == 1.0
    assert np.array_equal(subsample(ids, counts, threshold=0), ids)


def test_skipgram_pairs():
    ids = np.array([10, 11, 12, 13])
    c, x = skipgram_pairs(ids, window=1, dynamic_window=False)
    assert list(zip(c.tolist(), x.tolist())) == [(10, 11), (11, 10), (11, 12), (12, 11), (12, 13), (13, 12)]
    c, x = skipgram_pairs(np.arange(100), window=3, dynamic_window=False)
    assert len(c) == 2 * (99 + 98 + 97) and np.abs(c - x).max() == 3
    c, x = skipgram_pairs(np.arange(2000), window=4, dynamic_window=True, generator=0)
    dist = np.bincount(np.abs(c - x))[1:]
    assert dist[0] > dist[1] > dist[2] > dist[3] > 0  # nearer words more often
    assert np.allclose(dist / dist[0], [1, 0.75, 0.5, 0.25], atol=0.05)


def test_cbow_pairs():
    ctx, tgt = cbow_pairs(np.arange(6), window=2)
    assert tgt.tolist() == [2, 3] and ctx.tolist() == [[0, 1, 3, 4], [1, 2, 4, 5]]
    ctx, tgt = cbow_pairs(np.arange(3), window=2)
    assert ctx.shape == (0, 4)


def test_negative_sampler_follows_unigram_to_three_quarters():
    counts = np.array([1000, 100, 10, 0])
    ns = NegativeSampler(counts, table_size=100_000)
    p = counts**0.75 / (counts**0.75).sum()
    assert np.allclose(ns.probs, p)
    assert np.allclose(np.bincount(ns.table, minlength=4) / len(ns), p, atol=1e-4)
    draws = ns.sample((200, 50), generator=0)
    assert draws.shape == (200, 50) and 3 not in draws
    assert np.allclose(np.bincount(draws.ravel(), minlength=4) / draws.size, p, atol=0.01)
    with pytest.raises(ValueError, match="not all zero"):
        NegativeSampler([0, 0])

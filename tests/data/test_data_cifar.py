"""CIFAR-10/100 from archives the tests write, and the restricted unpickler."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from data_testutils import Hostile, cifar_pickle, make_cifar10, write_members

from deepgrad.data import DataLoader
from deepgrad.data.datasets import (
    CIFAR10,
    CIFAR100,
    CorruptFileError,
    DatasetNotFoundError,
    restricted_loads,
)
from deepgrad.keras.datasets import cifar10, cifar100


@pytest.mark.parametrize("as_archive", [True, False])
@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar10_from_archive_or_folder(tmp_path, as_archive, protocol):
    arrays = make_cifar10(tmp_path, as_archive=as_archive, protocol=protocol)
    train = CIFAR10(tmp_path, train=True)
    test = CIFAR10(tmp_path, train=False)
    assert len(train) == 40 and len(test) == 8
    assert train.data.shape == (40, 32, 32, 3) and train.data.dtype == np.uint8
    assert train.targets.dtype == np.int64
    hwc = arrays["train_x"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert np.array_equal(train.data, hwc)
    assert np.array_equal(test.targets, arrays["test_y"])
    assert train.classes[0] == "airplane" and train.class_to_idx["truck"] == 9
    img, label = train[1]
    assert img.shape == (32, 32, 3) and isinstance(label, int)
    xb, yb = next(iter(DataLoader(train, batch_size=8)))
    assert xb.shape == (8, 32, 32, 3)


def test_keras_cifar10_shapes(tmp_path):
    make_cifar10(tmp_path)
    (x, y), (xt, yt) = cifar10.load_data(root=tmp_path, download=False)
    assert x.shape == (40, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (40, 1) and y.dtype == np.uint8 and yt.shape == (8, 1)


def test_cifar100_fine_and_coarse(tmp_path):
    rng = np.random.default_rng(0)
    files = {}
    for split, n in (("train", 12), ("test", 4)):
        files[split] = pickle.dumps({
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "fine_labels": rng.integers(0, 100, n).tolist(),
            "coarse_labels": rng.integers(0, 20, n).tolist(),
            "filenames": ["x"] * n,
        }, protocol=2)
    files["meta"] = pickle.dumps({"fine_label_names": [f"f{i}" for i in range(100)],
                                  "coarse_label_names": [f"c{i}" for i in range(20)]}, protocol=2)
    write_members(tmp_path, "cifar-100-python", "cifar-100-python.tar.gz", files, True)
    fine = CIFAR100(tmp_path)
    coarse = CIFAR100(tmp_path, train=False, label_mode="coarse")
    assert len(fine.classes) == 100 and len(coarse.classes) == 20 and len(coarse) == 4
    (x, y), _ = cifar100.load_data("coarse", root=tmp_path)
    assert x.shape == (12, 32, 32, 3) and y.shape == (12, 1) and y.max() < 20
    with pytest.raises(ValueError, match="label_mode must be 'fine' or 'coarse'; got 'mid'"):
        CIFAR100(tmp_path, label_mode="mid")


def test_python2_cpickle_format_of_the_canonical_archives():
    # {'data': uint8 array [[0, 1, 255]], 'labels': [1, 2]} as Python 2's cPickle (protocol 2)
    # writes it: byte strings, and numpy.core.multiarray._reconstruct (numpy._core in NumPy 2).
    blob = (b"\x80\x02}q\x00(U\x04dataq\x01cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\n"
            b"q\x03K\x00\x85U\x01b\x87Rq\x04(K\x01K\x01K\x03\x86cnumpy\ndtype\nq\x05U\x02u1K\x00K\x01"
            b"\x87Rq\x06(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U\x03\x00\x01\xfftb"
            b"U\x06labelsq\x07]q\x08(K\x01K\x02eu.")
    out = restricted_loads(blob, "py2")
    assert out["labels"] == [1, 2]
    assert out["data"].dtype == np.uint8 and out["data"].tolist() == [[0, 1, 255]]


def test_restricted_unpickler_refuses_hostile_pickles():
    for protocol in (0, 2, 5):
        blob = pickle.dumps({"data": Hostile()}, protocol=protocol)
        with pytest.raises(CorruptFileError, match=r"refusing to load the global (posix|os|nt)\.system"):
            restricted_loads(blob, "evil")
    evil_eval = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(CorruptFileError, match=r"builtins\.eval"):
        restricted_loads(evil_eval)
    sneaky = b"c_codecs\nencode\n(Vx\nVzlib\ntR."
    with pytest.raises(CorruptFileError, match="refusing codecs.encode with encoding 'zlib'"):
        restricted_loads(sneaky)
    ok = restricted_loads(pickle.dumps({"a": np.arange(3), "b": [1, "x", 2.5]}, protocol=2))
    assert np.array_equal(ok["a"], [0, 1, 2]) and ok["b"] == [1, "x", 2.5]


def test_hostile_archive_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    import os

    files = {f"data_batch_{i}": cifar_pickle(np.zeros((2, 3072), np.uint8), [0, 1]) for i in range(1, 6)}
    files["data_batch_3"] = pickle.dumps({"data": Hostile(), "labels": [0]}, protocol=2)
    calls = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd))
    files["test_batch"] = cifar_pickle(np.zeros((2, 3072), np.uint8), [0, 1])
    files["batches.meta"] = pickle.dumps({"label_names": ["a"] * 10})
    write_members(tmp_path, "cifar-10-batches-py", "cifar-10-python.tar.gz", files, True)
    with pytest.raises(CorruptFileError, match="refusing to load"):
        CIFAR10(tmp_path)
    assert calls == []


def test_corrupted_archives_raise_clear_errors(tmp_path):
    make_cifar10(tmp_path)
    path = tmp_path / "cifar-10-python.tar.gz"
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorruptFileError, match="truncated or corrupted"):
        CIFAR10(tmp_path)
    files = {"data_batch_1": cifar_pickle(np.zeros((2, 100), np.uint8), [0, 1])}
    write_members(tmp_path / "b", "cifar-10-batches-py", "cifar-10-python.tar.gz", files, True)
    with pytest.raises(CorruptFileError, match="no member cifar-10-batches-py/data_batch_2"):
        CIFAR10(tmp_path / "b")
    files = {n: cifar_pickle(np.zeros((2, 100), np.uint8), [0, 1])
             for n in ["test_batch", "batches.meta"]}
    write_members(tmp_path / "c", "cifar-10-batches-py", "cifar-10-python.tar.gz", files, False)
    with pytest.raises(CorruptFileError, match=r"expected uint8 data \(N, 3072\)"):
        CIFAR10(tmp_path / "c", train=False)


def test_missing_cifar_explains_where_to_put_it(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        CIFAR10(tmp_path / "none")
    msg = str(info.value)
    assert "cifar-10-python.tar.gz" in msg and "c58f30108f718f92721af3b95e74349a" in msg
    assert "cifar-10-batches-py" in msg and str(tmp_path / "none") in msg


def test_download_path_verifies_and_reads_the_archive(tmp_path, monkeypatch):
    import hashlib
    import io
    import urllib.request

    from deepgrad.data.datasets._download import Resource

    arrays = make_cifar10(tmp_path / "src")
    blob = (tmp_path / "src" / "cifar-10-python.tar.gz").read_bytes()
    fake = Resource("cifar-10-python.tar.gz", ("https://example.invalid/a.tgz", "https://example.invalid/b.tgz"),
                    md5=hashlib.md5(blob).hexdigest())
    monkeypatch.setattr(CIFAR10, "archive", fake)
    requested = []

    def urlopen(req, timeout=None):
        requested.append(req.full_url)
        if req.full_url.endswith("a.tgz"):
            raise OSError("mirror down")
        return io.BytesIO(blob)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    ds = CIFAR10(tmp_path / "dst", train=False, download=True)
    assert requested == ["https://example.invalid/a.tgz", "https://example.invalid/b.tgz"]
    assert np.array_equal(ds.targets, arrays["test_y"])
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["cifar-10-python.tar.gz"]

"""MNIST-family datasets: IDX parsing, layout, errors, the real files, Keras helpers."""

from __future__ import annotations

import gzip
import time

import numpy as np
import pytest
from data_testutils import make_mnist

import deepgrad as dg
from deepgrad.data import DataLoader
from deepgrad.data import transforms as T
from deepgrad.data.datasets import (
    KMNIST,
    MNIST,
    CorruptFileError,
    DatasetNotFoundError,
    FashionMNIST,
    file_digest,
    mnist as mnist_module,
    read_idx,
    write_idx,
)
from deepgrad.keras.datasets import fashion_mnist, mnist

SOURCES_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, arr)
        back = read_idx(tmp_path / name)
        assert back.dtype == np.dtype(dtype) and np.array_equal(back, arr)
        assert back.flags.writeable


def test_small_mnist_layout_and_items(mnist_root):
    root, arrays = mnist_root
    train = MNIST(root, train=True)
    test = MNIST(root, train=False)
    assert len(train) == 60 and len(test) == 20
    assert train.data.dtype == np.uint8 and train.data.shape == (60, 28, 28)
    assert train.targets.dtype == np.int64
    img, label = train[3]
    assert np.array_equal(img, arrays["train_images"][3]) and label == 3 and isinstance(label, int)
    assert np.array_equal(test.data, arrays["t10k_images"])
    assert "split='train'" in repr(train)


def test_uncompressed_files_and_env_root(tmp_path, monkeypatch):
    make_mnist(tmp_path / "envroot", folder="fashion-mnist", gz=False)
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path / "envroot"))
    ds = FashionMNIST(train=False)
    assert len(ds) == 20 and ds.classes[0] == "T-shirt/top"


def test_transforms_and_loader_over_mnist(mnist_root):
    root, arrays = mnist_root
    ds = MNIST(root, transform=T.Compose([T.ToTensor(), T.Normalize(0.1307, 0.3081)]),
               target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert isinstance(x, dg.Tensor) and x.shape == (1, 28, 28) and y == 100
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 1, 28, 28) and xb.dtype == dg.float32
    assert np.array_equal(yb.numpy(), np.arange(16) % 10 + 100)
    plain = MNIST(root)
    xb, yb = next(iter(DataLoader(plain, batch_size=16)))
    assert xb.dtype == dg.uint8 and np.array_equal(xb.numpy(), arrays["train_images"][:16])


def test_missing_files_error_names_files_and_place(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        KMNIST(tmp_path / "nothing", train=True)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg
    assert str(tmp_path / "nothing" / "kmnist") in msg and "DEEPGRAD_DATA" in msg
    assert "download=True" in msg


def test_offline_download_fails_clearly(tmp_path, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetNotFoundError, match="could not download") as info:
        MNIST(tmp_path / "r", download=True)
    assert "network is unreachable" in str(info.value)
    assert not list((tmp_path / "r" / "mnist").glob("*.part"))


def test_download_verifies_checksum_and_never_keeps_a_bad_file(tmp_path, monkeypatch):
    import io
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: io.BytesIO(b"not mnist"))
    with pytest.raises(DatasetNotFoundError, match="md5"):
        MNIST(tmp_path / "r", train=False, download=True)
    assert list((tmp_path / "r" / "mnist").iterdir()) == []


def test_truncated_and_corrupted_files_raise_clear_errors(tmp_path):
    arrays = make_mnist(tmp_path, n_train=10, n_test=10)
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorruptFileError, match="truncated or corrupted"):
        MNIST(tmp_path)
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0xFF
    path.write_bytes(bytes(bad))
    with pytest.raises(CorruptFileError):
        MNIST(tmp_path)
    raw = gzip.decompress(blob)
    path.write_bytes(gzip.compress(raw[:-100]))  # valid gzip, truncated IDX payload
    with pytest.raises(CorruptFileError, match=r"header says shape \(10, 28, 28\)"):
        MNIST(tmp_path)
    path.write_bytes(gzip.compress(b"\x01\x02" + raw[2:]))
    with pytest.raises(CorruptFileError, match="bad magic number"):
        MNIST(tmp_path)
    write_idx(path, arrays["train_images"][:5])
    with pytest.raises(CorruptFileError, match="expected 5 labels"):
        MNIST(tmp_path)


def test_verify_flag_checks_canonical_md5(mnist_root):
    root, _ = mnist_root
    with pytest.raises(CorruptFileError, match="md5"):
        MNIST(root, verify=True)


def test_keras_style_load_data(mnist_root):
    root, arrays = mnist_root
    (x_train, y_train), (x_test, y_test) = mnist.load_data(root=root)
    assert x_train.shape == (60, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60,) and y_train.dtype == np.uint8
    assert np.array_equal(x_test, arrays["t10k_images"]) and np.array_equal(y_test, arrays["t10k_labels"])
    x_train[0] = 0  # a private, writeable copy
    with pytest.raises(DatasetNotFoundError, match="fashion-mnist"):
        fashion_mnist.load_data(root=root, download=False)


# ---------------------------------------------------------------- real files
def test_real_mnist_checksums(shared_mnist):
    for name, md5 in SOURCES_MD5.items():
        assert file_digest(shared_mnist / "mnist" / name) == md5, name


def test_real_mnist_shapes_counts_and_speed(shared_mnist):
    timings = []
    for _ in range(3):  # best of up to three, so a busy machine does not fail the check
        mnist_module._cache.clear()
        start = time.perf_counter()
        train = MNIST(shared_mnist, train=True)
        test = MNIST(shared_mnist, train=False)
        timings.append(time.perf_counter() - start)
        if timings[-1] < 1.0:
            break
    assert min(timings) < 1.0, f"loading MNIST from gzip took {min(timings):.2f} s"
    assert train.data.shape == (60000, 28, 28) and train.data.dtype == np.uint8
    assert test.data.shape == (10000, 28, 28) and test.targets.dtype == np.int64
    counts = np.bincount(train.targets, minlength=10)
    assert counts[0] == 5923 and counts[1] == 6742 and counts.sum() == 60000
    assert np.bincount(test.targets, minlength=10).sum() == 10000
    assert train.targets[:5].tolist() == [5, 0, 4, 1, 9]
    assert 33.0 < float(train.data.mean()) < 33.5  # the well-known mean pixel of 33.3
    (xk, yk), (xt, yt) = mnist.load_data(root=shared_mnist, download=False)
    assert xk.shape == (60000, 28, 28) and yk.dtype == np.uint8 and xt.shape == (10000, 28, 28)


def test_real_mnist_epoch_and_augmentation(shared_mnist):
    train = MNIST(shared_mnist)
    loader = DataLoader(train, batch_size=128, shuffle=True, num_workers=2, generator=dg.Generator().manual_seed(0))
    start = time.perf_counter()
    seen = 0
    for xb, yb in loader:
        seen += xb.shape[0]
    assert seen == 60000
    assert time.perf_counter() - start < 2.0
    aug = T.Compose([T.BatchToTensor(), T.BatchRandomCrop(28, padding=2),
                     T.BatchRandomHorizontalFlip(), T.BatchRandomRotation(10)])
    out = aug(xb)
    assert out.shape == (xb.shape[0], 1, 28, 28) and float(out.numpy().min()) >= 0.0


def test_every_transform_on_real_mnist(shared_mnist):
    images = MNIST(shared_mnist, train=False).data[:16]
    batch = T.BatchToTensor()(dg.from_numpy(np.ascontiguousarray(images)))
    assert batch.shape == (16, 1, 28, 28) and float(batch.numpy().max()) <= 1.0
    per_sample = [
        T.Normalize(0.1307, 0.3081), T.RandomCrop(28, padding=2, generator=0), T.CenterCrop(20),
        T.RandomHorizontalFlip(generator=0), T.RandomVerticalFlip(generator=0),
        T.RandomResizedCrop(24, generator=0), T.Resize(32), T.RandomRotation(10, generator=0),
        T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, generator=0),
        T.GaussianNoise(generator=0), T.RandomErasing(p=1.0, generator=0),
    ]
    batched = [
        T.BatchNormalize(0.1307, 0.3081), T.BatchRandomCrop(28, padding=2, generator=0), T.BatchCenterCrop(20),
        T.BatchRandomHorizontalFlip(generator=0), T.BatchRandomVerticalFlip(generator=0),
        T.BatchRandomResizedCrop(24, generator=0), T.BatchResize(32), T.BatchRandomRotation(10, generator=0),
        T.BatchRandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, generator=0),
        T.BatchGaussianNoise(generator=0), T.BatchRandomErasing(p=1.0, generator=0),
    ]
    sizes = {"CenterCrop": 20, "RandomResizedCrop": 24, "Resize": 32}
    for single, many in zip(per_sample, batched):
        side = sizes.get(type(single).__name__, 28)
        one = single(T.ToTensor()(images[0]))
        assert isinstance(one, dg.Tensor) and one.shape == (1, side, side), type(single).__name__
        out = many(batch)
        assert out.shape == (16, 1, side, side) and out.dtype == dg.float32, type(many).__name__
        assert np.isfinite(out.numpy()).all()
    # the augmentations change the images, but keep most of the ink
    rotated = T.BatchRandomRotation(10, generator=1)(batch).numpy()
    assert not np.array_equal(rotated, batch.numpy())
    assert abs(rotated.sum() / batch.numpy().sum() - 1) < 0.1

"""Transforms: per-sample and batched, seeded, on arrays and tensors."""

from __future__ import annotations

import time

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.data import transforms as T
from deepgrad.data.transforms import functional as F


def _img(shape=(1, 6, 6), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_to_tensor_layouts_and_scaling():
    hwc = np.full((4, 5, 3), 255, dtype=np.uint8)
    t = T.ToTensor()(hwc)
    assert isinstance(t, dg.Tensor) and t.shape == (3, 4, 5) and t.dtype == dg.float32
    assert np.allclose(t.numpy(), 1.0)
    hw = np.arange(6, dtype=np.uint8).reshape(2, 3)
    t = T.ToTensor()(hw)
    assert t.shape == (1, 2, 3) and np.isclose(t.numpy()[0, 1, 2], 5 / 255)
    b = T.BatchToTensor()(np.zeros((7, 4, 5, 3), np.uint8))
    assert b.shape == (7, 3, 4, 5)
    from_loader = T.BatchToTensor()(dg.from_numpy(np.zeros((7, 4, 5), np.uint8)))  # NHW uint8 tensor
    assert from_loader.shape == (7, 1, 4, 5) and from_loader.dtype == dg.float32
    with pytest.raises(ValueError, match=r"ToTensor expects an image \(H, W, C\) or \(H, W\); got shape \(2, 2, 2, 2\)"):
        T.ToTensor()(np.zeros((2, 2, 2, 2), np.uint8))


def test_normalize_per_channel_and_errors():
    x = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 3.0)]).astype(np.float32)
    out = T.Normalize([1.0, 1.0], [1.0, 2.0])(x)
    assert np.allclose(out[0], 0.0) and np.allclose(out[1], 1.0)
    t = T.Normalize(0.5, 0.5)(dg.from_numpy(np.ones((1, 2, 2), np.float32)))
    assert isinstance(t, dg.Tensor) and np.allclose(t.numpy(), 1.0)
    with pytest.raises(TypeError, match="float image; got dtype uint8. Apply ToTensor first"):
        T.Normalize(0.5, 0.5)(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="mean has 2 values but the image has 3 channels"):
        T.Normalize([0, 0], [1, 1])(np.zeros((3, 2, 2), np.float32))
    with pytest.raises(ValueError, match="std must not contain zeros"):
        T.Normalize(0, 0)


def test_random_crop_with_padding_is_a_window_of_the_padded_image():
    x = _img((2, 5, 5))
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    out = T.RandomCrop(5, padding=2, generator=0)(x)
    assert out.shape == (2, 5, 5)
    windows = [padded[:, i:i + 5, j:j + 5] for i in range(5) for j in range(5)]
    assert any(np.array_equal(out, w) for w in windows)


def test_batch_random_crop_matches_per_sample_crops_with_the_same_stream():
    x = _img((16, 1, 8, 8))
    batch = T.BatchRandomCrop(6, padding=1, generator=dg.Generator().manual_seed(3))(x)
    single = T.RandomCrop(6, padding=1, generator=dg.Generator().manual_seed(3))
    loop = np.stack([single(img) for img in x])
    assert np.array_equal(batch, loop)
    assert len({batch[i].tobytes() == x[i, :, 1:7, 1:7].tobytes() for i in range(16)}) == 2  # offsets vary


def test_crop_padding_modes_and_pad_if_needed():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3)
    out = T.RandomCrop(5, padding=1, padding_mode="edge", generator=0)(x)
    assert np.array_equal(out, np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge"))
    out = T.RandomCrop(4, pad_if_needed=True, generator=0)(x)
    assert out.shape == (1, 4, 4)
    with pytest.raises(ValueError, match=r"crop size \(4, 4\) is larger than the \(padded\) image 3x3"):
        T.RandomCrop(4)(x)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        T.RandomCrop(3, padding=1, padding_mode="wrap")(x)


def test_center_crop():
    x = np.arange(25, dtype=np.float32).reshape(5, 5)
    assert np.array_equal(T.CenterCrop(3)(x), x[1:4, 1:4])
    big = T.CenterCrop(7)(x)
    assert big.shape == (7, 7) and big[0, 0] == 0 and np.array_equal(big[1:6, 1:6], x)


def test_flips():
    x = _img((3, 4, 5))
    assert np.array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    assert np.array_equal(T.RandomVerticalFlip(p=1.0)(x), x[..., ::-1, :])
    assert np.array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    xb = _img((64, 1, 4, 4))
    out = T.BatchRandomHorizontalFlip(generator=1)(xb)
    flipped = np.array([np.array_equal(o, s[..., ::-1]) for o, s in zip(out, xb)])
    same = np.array([np.array_equal(o, s) for o, s in zip(out, xb)])
    assert np.all(flipped | same) and 10 < flipped.sum() < 54
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]; got 2"):
        T.RandomHorizontalFlip(p=2)


def test_rotation_by_90_degrees_is_rot90_counter_clockwise():
    x = _img((1, 7, 7))
    out = T.RandomRotation((90, 90))(x)
    assert np.array_equal(out[0], np.rot90(x[0]))
    bil = T.RandomRotation((90, 90), interpolation="bilinear")(x)
    assert np.allclose(bil[0], np.rot90(x[0]), atol=1e-5)
    assert np.array_equal(T.RandomRotation(0)(x), x)


def test_batch_rotation_matches_per_sample_rotation():
    x = _img((32, 2, 9, 9))
    batch = T.BatchRandomRotation(30, generator=7)(x)
    single = T.RandomRotation(30, generator=7)
    assert np.array_equal(batch, np.stack([single(img) for img in x]))
    # corners of rotated images are filled
    assert (batch[:, :, 0, 0] == 0).mean() > 0.3


def test_affine_translation_and_scale():
    x = np.zeros((1, 9, 9), np.float32)
    x[0, 4, 4] = 1.0
    out = T.RandomAffine(0, translate=(0.25, 0.25), generator=5)(x)
    (r,), (c,) = np.nonzero(out[0])[0], np.nonzero(out[0])[1]
    assert abs(r - 4) <= 2 and abs(c - 4) <= 2 and out.sum() == 1.0
    ramp = np.tile(np.arange(9, dtype=np.float32), (9, 1))[None]
    zoom = T.RandomAffine(0, scale=(2.0, 2.0), interpolation="bilinear")(ramp)
    assert np.allclose(np.diff(zoom[0, 4, 2:7]), 0.5)  # slope halves when zooming in by 2
    sheared = T.RandomAffine(0, shear=(20, 20), generator=0)(ramp)
    assert sheared.shape == ramp.shape
    with pytest.raises(ValueError, match="translate must be two fractions"):
        T.RandomAffine(0, translate=(2, 0))


def test_resize_and_random_resized_crop():
    x = np.repeat(np.repeat(np.arange(4, dtype=np.float32).reshape(1, 2, 2), 2, 1), 2, 2)  # 4x4 blocks
    down = T.Resize((2, 2))(x)
    assert np.allclose(down, np.arange(4).reshape(1, 2, 2))
    assert np.allclose(T.Resize(4)(x), x)
    assert T.Resize(8)(np.zeros((1, 4, 6), np.float32)).shape == (1, 8, 12)
    u8 = T.Resize((3, 3))(np.full((5, 5), 200, np.uint8))
    assert u8.dtype == np.uint8 and np.all(u8 == 200)
    img = _img((3, 10, 10))
    same = T.RandomResizedCrop(10, scale=(1.0, 1.0), ratio=(1.0, 1.0), generator=0)(img)
    assert np.allclose(same, img, atol=1e-6)
    out = T.BatchRandomResizedCrop((6, 5), generator=0)(_img((8, 3, 12, 12)))
    assert out.shape == (8, 3, 6, 5)


def test_sample_boxes_respect_scale_and_ratio():
    rng = np.random.default_rng(0)
    boxes, found = F.sample_boxes(rng, 500, 32, 32, (0.1, 0.5), (0.5, 2.0), "none")
    b = boxes[found]
    area = b[:, 2] * b[:, 3] / 1024
    assert found.mean() > 0.95
    assert area.min() > 0.08 and area.max() < 0.53
    assert np.all(b[:, 0] + b[:, 2] <= 32) and np.all(b[:, 1] + b[:, 3] <= 32) and b.min() >= 0


def test_gaussian_noise_and_erasing():
    x = np.full((1, 64, 64), 0.5, np.float32)
    noisy = T.GaussianNoise(sigma=0.1, generator=0)(x)
    assert abs(float(noisy.std()) - 0.1) < 0.01 and noisy.min() >= 0
    with pytest.raises(TypeError, match="float image"):
        T.GaussianNoise()(np.zeros((2, 2), np.uint8))
    ones = np.ones((3, 20, 20), np.float32)
    erased = T.RandomErasing(p=1.0, generator=0)(ones)
    frac = (erased == 0).all(axis=0).mean()
    assert 0.02 <= frac <= 0.34 and ((erased == 0).sum(axis=0) % 3 == 0).all()
    assert np.array_equal(T.RandomErasing(p=0.0)(ones), ones)
    per_channel = T.RandomErasing(p=1.0, value=[1, 2, 3], generator=0)(np.zeros((3, 20, 20), np.float32))
    assert set(np.unique(per_channel[2])) == {0.0, 3.0}
    batch = T.BatchRandomErasing(p=0.5, generator=1)(np.ones((40, 1, 10, 10), np.float32))
    touched = (batch == 0).any(axis=(1, 2, 3))
    assert 5 < touched.sum() < 35


def test_compose_lambda_apply_and_tensor_round_trip():
    aug = T.Compose([T.ToTensor(), T.RandomCrop(4, padding=1), T.Lambda(lambda t: t), T.Normalize(0.5, 0.5)])
    out = aug(np.zeros((4, 4), np.uint8))
    assert isinstance(out, dg.Tensor) and out.shape == (1, 4, 4)
    assert "RandomCrop" in repr(aug)
    x = _img()
    assert T.RandomApply([T.RandomHorizontalFlip(p=1.0)], p=0.0)(x) is x
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


def test_transforms_are_seeded():
    x = _img((16, 1, 12, 12))
    aug = lambda seed: T.Compose([
        T.BatchRandomCrop(12, padding=2, generator=seed),
        T.BatchRandomRotation(10, generator=seed),
    ])
    assert np.array_equal(aug(1)(x), aug(1)(x))
    assert not np.array_equal(aug(1)(x), aug(2)(x))
    dg.manual_seed(0)
    a = T.BatchRandomRotation(10)(x)
    dg.manual_seed(0)
    b = T.BatchRandomRotation(10)(x)
    assert np.array_equal(a, b)


def test_shape_errors_name_the_expected_layout():
    with pytest.raises(ValueError, match=r"expects a batch \(N, C, H, W\) or \(N, H, W\); got shape \(5, 5\)"):
        T.BatchRandomCrop(3)(np.zeros((5, 5), np.float32))
    with pytest.raises(ValueError, match=r"expects an image \(C, H, W\) or \(H, W\); got shape \(5,\)"):
        T.RandomRotation(5)(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="interpolation must be one of"):
        T.RandomRotation(5, interpolation="cubic")


def test_batched_augmentation_is_fast():
    x = np.random.default_rng(0).integers(0, 256, (128, 28, 28), dtype=np.uint8)
    aug = T.Compose([T.BatchToTensor(), T.BatchRandomCrop(28, padding=2), T.BatchRandomHorizontalFlip(),
                     T.BatchRandomRotation(10)])
    aug(x)
    start = time.perf_counter()
    for _ in range(5):
        out = aug(x)
    per_batch = (time.perf_counter() - start) / 5
    assert out.shape == (128, 1, 28, 28)
    assert per_batch < 0.05, f"batched augmentation took {per_batch * 1e3:.1f} ms per batch of 128"

"""The lectures' program (examples/conv_autoencoder.py) runs unchanged but for its imports:
a short run on a few hundred MNIST images (or generated digits-like images when MNIST is
not on this machine) builds the Keras blog's autoencoder and its validation loss falls."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

import deepgrad as dg

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "conv_autoencoder.py"
SHARED = Path("/work/shared/data")


def _fake_mnist(root: Path) -> None:
    """Small IDX files shaped as MNIST's: blurry strokes on black, in the canonical layout."""
    from deepgrad.data.datasets.mnist import write_idx

    rng = np.random.default_rng(0)
    (root / "mnist").mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", 600), ("t10k", 200)):
        images = np.zeros((n, 28, 28), np.float32)
        rows = rng.integers(4, 24, (n, 3))
        cols = rng.integers(4, 24, (n, 3))
        for k in range(3):  # three short bars per image, vectorized over the images
            for d in range(-2, 3):
                images[np.arange(n), rows[:, k], np.clip(cols[:, k] + d, 0, 27)] = 1.0
                images[np.arange(n), np.clip(rows[:, k] + d, 0, 27), cols[:, k]] = 1.0
        write_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz", (images * 255).astype(np.uint8))
        write_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))


# The lecture's program as the issue gives it (the Keras blog's, fit without TensorBoard),
# with Keras's imports: the example must be this text with only `keras` -> `deepgrad.keras`.
LECTURE_PROGRAM = """\
from keras.layers import Input, Dense, Conv2D, MaxPooling2D, UpSampling2D
from keras.models import Model
from keras import backend as K

input_img = Input(shape=(28, 28, 1))  # adapt this if using `channels_first` image data format

x = Conv2D(16, (3, 3), activation='relu', padding='same')(input_img)
x = MaxPooling2D((2, 2), padding='same')(x)
x = Conv2D(8, (3, 3), activation='relu', padding='same')(x)
x = MaxPooling2D((2, 2), padding='same')(x)
x = Conv2D(8, (3, 3), activation='relu', padding='same')(x)
encoded = MaxPooling2D((2, 2), padding='same')(x)

# at this point the representation is (4, 4, 8) i.e. 128-dimensional

x = Conv2D(8, (3, 3), activation='relu', padding='same')(encoded)
x = UpSampling2D((2, 2))(x)
x = Conv2D(8, (3, 3), activation='relu', padding='same')(x)
x = UpSampling2D((2, 2))(x)
x = Conv2D(16, (3, 3), activation='relu')(x)
x = UpSampling2D((2, 2))(x)
decoded = Conv2D(1, (3, 3), activation='sigmoid', padding='same')(x)

autoencoder = Model(input_img, decoded)
autoencoder.compile(optimizer='adadelta', loss='binary_crossentropy')

from keras.datasets import mnist
import numpy as np

(x_train, _), (x_test, _) = mnist.load_data()

x_train = x_train.astype('float32') / 255.
x_test = x_test.astype('float32') / 255.
x_train = np.reshape(x_train, (len(x_train), 28, 28, 1))  # adapt this if using `channels_first` image data format
x_test = np.reshape(x_test, (len(x_test), 28, 28, 1))  # adapt this if using `channels_first` image data format

autoencoder.fit(x_train, x_train,
                epochs=50,
                batch_size=128,
                shuffle=True,
                validation_data=(x_test, x_test))
"""


def test_the_lecture_program_is_unchanged_but_for_its_imports():
    source = EXAMPLE.read_text()
    program = source.split('"""', 2)[2].lstrip("\n")  # after the module docstring
    assert program.replace("deepgrad.keras", "keras") == LECTURE_PROGRAM
    changed = [a for a, b in zip(program.splitlines(), LECTURE_PROGRAM.splitlines()) if a != b]
    assert changed and all(re.match(r"(from|import) deepgrad\.keras", line) for line in changed)


def test_a_short_run_of_the_lecture_program_lowers_the_validation_loss(tmp_path):
    data = SHARED if (SHARED / "mnist").is_dir() else tmp_path
    if data is tmp_path:
        _fake_mnist(tmp_path)
    env = dict(os.environ, DEEPGRAD_DATA=str(data), OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(Path(dg.__file__).parents[1]),
                                           os.environ.get("PYTHONPATH", "")]))
    # A short run, patched in from outside: 3 epochs on 512 training and 128 test images.
    driver = f"""
import json, runpy
from deepgrad.keras.datasets import mnist
from deepgrad.keras.models import Model
load_data, fit = mnist.load_data, Model.fit
def short_load_data(*args, **kwargs):
    (x, y), (xt, yt) = load_data(*args, **kwargs)
    return (x[:512], y[:512]), (xt[:128], yt[:128])
mnist.load_data = short_load_data
Model.fit = lambda self, *args, **kwargs: fit(self, *args, **{{**kwargs, "epochs": 3}})
g = runpy.run_path({str(EXAMPLE)!r})
m = g["autoencoder"]
print("HISTORY", json.dumps(m.history.history))
print("PARAMS", m.count_params(), m.output_shape, g["encoded"].shape)
"""
    result = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True,
                            env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count("Epoch ") == 3 and "Epoch 3/3" in out and "val_loss: 0.69" in out
    history = json.loads(out.split("HISTORY ", 1)[1].splitlines()[0])
    val = history["val_loss"]
    assert len(val) == 3 and val[0] < 0.75
    assert val[0] > val[1] > val[2]  # Keras 3's Adadelta (learning_rate=0.001) learns slowly, but it learns
    params = out.split("PARAMS ", 1)[1].split()
    assert params[0] == "4385" and "(None, 28, 28, 1)" in " ".join(params)
    assert "(None, 4, 4, 8)" in out  # "the representation is (4, 4, 8) i.e. 128-dimensional"

"""deepgrad.checkpoint and resuming: safetensors round trips, clear errors for truncated,
corrupt and mismatched files, atomic writes, no unpickling, and an interrupted fit that
resumes to bit-identical weights."""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad import checkpoint, keras
from deepgrad.checkpoint import CheckpointError
from deepgrad.keras import layers as L

from helpers import to_numpy


def _net(seed=0):
    dg.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))


def _state(module):
    return {k: to_numpy(v).copy() for k, v in module.state_dict().items()}


def test_weights_round_trip_for_any_module(tmp_path):
    net = _net(0)
    net(dg.randn(16, 4))  # changes the BatchNorm running statistics
    path = tmp_path / "net.safetensors"
    checkpoint.save_weights(net, path, metadata={"note": "hi"})
    other = _net(1)
    assert checkpoint.load_weights(other, path) == {"note": "hi"}
    for key, value in _state(net).items():
        np.testing.assert_array_equal(_state(other)[key], value)
    from safetensors.numpy import load_file  # a standard safetensors file

    assert set(load_file(str(path))) == set(net.state_dict())


def _saved(tmp_path):
    net = _net(0)
    path = tmp_path / "w.safetensors"
    checkpoint.save_weights(net, path)
    return net, path


def test_truncated_file_names_the_first_incomplete_tensor(tmp_path):
    net, path = _saved(tmp_path)
    data = path.read_bytes()
    header_len = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + header_len])
    last = max((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][1])
    path.write_bytes(data[:-7])
    with pytest.raises(CheckpointError, match=f"truncated: tensor '{last}'"):
        checkpoint.load_weights(_net(1), path)
    path.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match="truncated"):
        checkpoint.load_weights(_net(1), path)


def test_corrupt_tensor_bytes_are_caught_by_the_checksum(tmp_path):
    net, path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    header_len = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + header_len])
    start = header["4.weight"]["data_offsets"][0]
    data[8 + header_len + start + 3] ^= 0xFF
    path.write_bytes(bytes(data))
    target = _net(1)
    before = _state(target)
    with pytest.raises(CheckpointError, match="tensor '4.weight' fails its CRC-32 check"):
        checkpoint.load_weights(target, path)
    for key, value in before.items():  # nothing was half-loaded
        np.testing.assert_array_equal(_state(target)[key], value)
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        checkpoint.load_weights(target, path)


def test_a_mismatched_checkpoint_names_the_first_differing_tensor(tmp_path):
    net, path = _saved(tmp_path)
    wider = nn.Sequential(nn.Linear(4, 9), nn.BatchNorm1d(9), nn.ReLU(), nn.Dropout(0.5), nn.Linear(9, 2))
    with pytest.raises(CheckpointError, match=r"tensor '0.weight' has shape \(8, 4\) in the file but \(9, 4\)"):
        checkpoint.load_weights(wider, path)
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(CheckpointError, match="has no tensor '2.weight'"):
        checkpoint.load_weights(other, path)
    fewer = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
    with pytest.raises(CheckpointError, match="holds a tensor '4.weight' that the model does not have"):
        checkpoint.load_weights(fewer, path)
    checkpoint.load_weights(fewer, path, strict=False)
    np.testing.assert_array_equal(_state(fewer)["0.weight"], _state(net)["0.weight"])
    more = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(8, 2), nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match="no tensor '5.weight'"):
        checkpoint.load_weights(more, path)
    model = keras.Sequential([keras.Input((4,)), L.Dense(3)])
    model.save_weights(tmp_path / "k.safetensors")
    other = keras.Sequential([keras.Input((5,)), L.Dense(3)])
    with pytest.raises(CheckpointError, match=r"'dense/kernel' has shape \(4, 3\)"):
        other.load_weights(tmp_path / "k.safetensors")


def test_writes_are_atomic(tmp_path, monkeypatch):
    net, path = _saved(tmp_path)
    good = path.read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_weights(_net(3), path)
    monkeypatch.undo()
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["w.safetensors"]
    checkpoint.load_weights(_net(1), path)


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"weights": Evil()}))
    with pytest.raises(CheckpointError):
        checkpoint.load_weights(_net(0), path)
    with pytest.raises(Exception):
        keras.models.load_model(path)
    assert not marker.exists()


def test_training_checkpoint_restores_optimizer_and_rng_exactly(tmp_path):
    x, y = dg.randn(32, 4), dg.randint(0, 2, (32,))

    def steps(net, opt, n):
        for _ in range(n):
            loss = nn.functional.cross_entropy(net(x), y)  # dropout draws from the global RNG
            opt.zero_grad()
            loss.backward()
            opt.step()

    net = _net(0)
    opt = dg.optim.Adam(net.parameters(), lr=0.01)
    steps(net, opt, 3)
    checkpoint.save_checkpoint(tmp_path / "c.safetensors", net, opt, epoch=3, extra={"note": [1, 2]})
    steps(net, opt, 3)
    straight = _state(net)
    net2 = _net(5)
    opt2 = dg.optim.Adam(net2.parameters(), lr=0.5)
    dg.manual_seed(99)
    info = checkpoint.load_checkpoint(tmp_path / "c.safetensors", net2, opt2)
    assert info["epoch"] == 3 and info["step"] == 0 and info["extra"] == {"note": [1, 2]}
    assert opt2.param_groups[0]["lr"] == 0.01
    steps(net2, opt2, 3)
    for key, value in straight.items():
        np.testing.assert_array_equal(_state(net2)[key], value)
    assert checkpoint.read_checkpoint_info(tmp_path / "c.safetensors")["epoch"] == 3
    with pytest.raises(CheckpointError, match="not a deepgrad training checkpoint"):
        checkpoint.load_checkpoint(_saved(tmp_path)[1], net2)


# --- resuming fit --------------------------------------------------------------------------------
def _keras_model():
    keras.backend.clear_session()
    dg.manual_seed(1)
    model = keras.Sequential([keras.Input((6,)), L.Dense(16, activation="relu"), L.Dropout(0.3),
                              L.BatchNormalization(), L.Dense(3)])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


class _CtrlC(keras.callbacks.Callback):
    """Presses Ctrl-C (a real SIGINT) after ``at`` training batches."""

    def __init__(self, at):
        super().__init__()
        self.at, self.count = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        if self.count == self.at:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("interrupt_after", [12, 10, 15])  # mid-epoch, last batch, epoch boundary
def test_an_interrupted_fit_resumes_bit_identically(tmp_path, interrupt_after, capsys):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 6)).astype(np.float32), rng.integers(0, 3, 200)
    kwargs = dict(epochs=4, batch_size=32, validation_split=0.2, verbose=0)  # 5 batches per epoch
    straight = _keras_model()
    expected = straight.fit(x, y, **kwargs).history

    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup")
    csv_path = tmp_path / "log.csv"
    first = _keras_model()
    with pytest.raises(keras.TrainingInterrupted) as stopped:
        first.fit(x, y, callbacks=[keras.callbacks.CSVLogger(csv_path), _CtrlC(interrupt_after), backup],
                  **kwargs)
    assert stopped.value.checkpoint == backup.path and os.path.exists(backup.path)
    assert "checkpoint saved to" in capsys.readouterr().err
    dg.manual_seed(1234)  # a different process state: everything must come from the checkpoint
    resumed = _keras_model()
    history = resumed.fit(x, y, callbacks=[keras.callbacks.CSVLogger(csv_path),
                                           keras.callbacks.BackupAndRestore(tmp_path / "backup")],
                          **kwargs).history
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history == expected
    assert not os.path.exists(backup.path)  # deleted once training finished
    with open(csv_path) as f:
        assert [line.split(",")[0] for line in f.read().splitlines()] == ["epoch", "0", "1", "2", "3"]


def test_backup_every_n_batches_and_a_second_run_resumes_from_it(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(96, 6)).astype(np.float32), rng.integers(0, 3, 96)
    straight = _keras_model()
    straight.fit(x, y, epochs=2, batch_size=32, verbose=0)

    class Crash(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model._fit_state.global_step == 5:
                raise RuntimeError("power cut")

    crashed = _keras_model()
    backup = keras.callbacks.BackupAndRestore(tmp_path, save_freq=2, delete_checkpoint=False)
    with pytest.raises(RuntimeError, match="power cut"):
        crashed.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[Crash(), backup])
    info = checkpoint.read_checkpoint_info(backup.path)
    assert (info["epoch"], info["step"]) == (1, 1)  # saved after global step 4
    resumed = _keras_model()
    resumed.fit(x, y, epochs=2, batch_size=32, verbose=0,
                callbacks=[keras.callbacks.BackupAndRestore(tmp_path, save_freq=2)])
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


_PLAIN_SCRIPT = """
import os, signal, sys
import numpy as np
import deepgrad as dg
from deepgrad import keras
from deepgrad.keras import layers as L

class CtrlC(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.model._fit_state.global_step == 7:
            os.kill(os.getpid(), signal.SIGINT)

dg.manual_seed(1)
model = keras.Sequential([keras.Input((6,)), L.Dense(16, activation="relu"), L.Dropout(0.3), L.Dense(3)])
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
rng = np.random.default_rng(0)
x, y = rng.normal(size=(160, 6)).astype(np.float32), rng.integers(0, 3, 160)
resume = sys.argv[1] == "resume"
callbacks = [keras.callbacks.BackupAndRestore("deepgrad-interrupted")] if resume else []
if sys.argv[1] == "interrupt":
    callbacks.append(CtrlC())
model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=callbacks)
np.save("weights.npy", np.concatenate([w.ravel() for w in model.get_weights()]))
"""


def test_ctrl_c_in_a_plain_fit_saves_a_checkpoint_and_exits_without_a_traceback(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(_PLAIN_SCRIPT)

    def run(mode):
        return subprocess.run([sys.executable, str(script), mode], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)

    straight = run("straight")
    assert straight.returncode == 0, straight.stderr
    expected = np.load(tmp_path / "weights.npy")
    (tmp_path / "weights.npy").unlink()

    stopped = run("interrupt")
    assert stopped.returncode == 1, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert "checkpoint saved to deepgrad-interrupted/training_state.safetensors" in stopped.stderr
    assert "BackupAndRestore('deepgrad-interrupted')" in stopped.stderr
    assert not (tmp_path / "weights.npy").exists()

    resumed = run("resume")
    assert resumed.returncode == 0, resumed.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "weights.npy"), expected)


def test_checkpoint_files_get_the_usual_permissions_not_mkstemps_0600(tmp_path):
    mask = os.umask(0o022)
    try:
        checkpoint.atomic_write(tmp_path / "a.bin", b"data")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.bin").read_bytes() == b"data"
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o644

"""Callbacks: Keras's call order, EarlyStopping (best weights restored), ReduceLROnPlateau,
LearningRateScheduler, CSVLogger, ModelCheckpoint, NaN handling and the progress output."""

from __future__ import annotations

import csv
import io
import sys

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import keras
from deepgrad.keras import callbacks as C
from deepgrad.keras import layers as L


@pytest.fixture(autouse=True)
def _fresh():
    keras.backend.clear_session()
    dg.manual_seed(0)


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)


def _model(lr=0.05):
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="tanh"), L.Dense(1)])
    model.compile(keras.optimizers.SGD(lr), "mse", metrics=["mae"])
    return model


def test_callbacks_run_in_keras_order():
    events = []

    class Order(C.Callback):
        pass

    for hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                 "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
                 "on_test_batch_begin", "on_test_batch_end"):
        def make(hook):
            def method(self, *args):
                logs = args[-1] if args else None
                events.append((hook, *args[:-1], sorted(logs) if isinstance(logs, dict) else logs))
            return method
        setattr(Order, hook, make(hook))
    x, y = _data(8)
    model = _model()
    model.fit(x[:4], y[:4], epochs=2, batch_size=2, verbose=0, validation_data=(x[4:7], y[4:7]),
              callbacks=[Order()])
    epoch = lambda e: [("on_epoch_begin", e, None),
                       ("on_train_batch_begin", 0, None), ("on_train_batch_end", 0, ["loss", "mae"]),
                       ("on_train_batch_begin", 1, None), ("on_train_batch_end", 1, ["loss", "mae"]),
                       ("on_test_begin", None),
                       ("on_test_batch_begin", 0, None), ("on_test_batch_end", 0, ["loss", "mae"]),
                       ("on_test_batch_begin", 1, None), ("on_test_batch_end", 1, ["loss", "mae"]),
                       ("on_test_end", ["loss", "mae"]),
                       ("on_epoch_end", e, ["loss", "mae", "val_loss", "val_mae"])]
    assert events == [("on_train_begin", None), *epoch(0), *epoch(1), ("on_train_end", ["loss", "mae", "val_loss", "val_mae"])]


def test_user_callbacks_come_before_history_and_progress_bar():
    seen = []

    class Peek(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(len(self.model.history.history.get("loss", [])) if self.model.history else 0)

    x, y = _data()
    model = _model()
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[Peek()])
    assert seen == [0, 1]  # History records after the user's callbacks, as in Keras
    assert model.history is history and history.epoch == [0, 1]


def _inject(values, key="score"):
    class Inject(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs[key] = values[epoch]
    return Inject()


def test_early_stopping_restores_the_best_weights():
    weights = []

    class Snapshot(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights.append(self.model.get_weights())

    x, y = _data()
    model = _model()
    stop = C.EarlyStopping(monitor="score", patience=2, restore_best_weights=True, verbose=1)
    history = model.fit(x, y, epochs=10, verbose=0,
                        callbacks=[_inject([3.0, 1.0, 2.0, 4.0, 0.5, 0.1]), Snapshot(), stop])
    assert len(history.history["loss"]) == 4 and stop.stopped_epoch == 3 and stop.best_epoch == 1
    for restored, best in zip(model.get_weights(), weights[1]):
        np.testing.assert_array_equal(restored, best)
    assert not np.array_equal(model.get_weights()[0], weights[-1][0])


def test_early_stopping_min_delta_mode_and_baseline():
    x, y = _data()
    stop = C.EarlyStopping(monitor="val_accuracy", patience=1)
    assert stop.mode == "max"
    stop = C.EarlyStopping(monitor="score", min_delta=0.5, patience=1)
    _model().fit(x, y, epochs=6, verbose=0, callbacks=[_inject([5.0, 4.8, 4.7, 4.6, 4.5, 4.4]), stop])
    assert stop.stopped_epoch == 1  # improvements smaller than min_delta don't count
    with pytest.warns(UserWarning, match="not in the logs"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[C.EarlyStopping()])


def test_reduce_lr_on_plateau_and_learning_rate_scheduler():
    x, y = _data()
    model = _model(lr=0.1)
    plateau = C.ReduceLROnPlateau(monitor="score", factor=0.5, patience=2, min_lr=0.02)
    history = model.fit(x, y, epochs=7, verbose=0,
                        callbacks=[_inject([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), plateau])
    # the logged rate is the one the epoch ran with; the cut applies from the next epoch
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    model = _model(lr=0.1)
    schedule = C.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[schedule])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    assert model.optimizer.inner.param_groups[0]["lr"] == pytest.approx(0.025)


def test_csv_logger_writes_a_row_per_epoch(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    _model().fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[C.CSVLogger(path)])
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"] and all(float(v) > 0 for v in rows[1][1:])
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[C.CSVLogger(path, append=True)])
    with open(path) as f:
        assert len(list(csv.reader(f))) == 5


def test_model_checkpoint_saves_best_weights_only(tmp_path):
    x, y = _data()
    model = _model()
    pattern = str(tmp_path / "w-{epoch:02d}-{score:.1f}.weights.safetensors")
    cb = C.ModelCheckpoint(pattern, monitor="score", save_best_only=True, save_weights_only=True)
    model.fit(x, y, epochs=4, verbose=0, callbacks=[_inject([2.0, 3.0, 1.0, 1.5]), cb])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-01-2.0.weights.safetensors",
                                                         "w-03-1.0.weights.safetensors"]
    other = _model()
    other.load_weights(tmp_path / "w-03-1.0.weights.safetensors")
    full = C.ModelCheckpoint(str(tmp_path / "last.keras"))
    model.fit(x, y, epochs=1, verbose=0, callbacks=[full])
    loaded = keras.models.load_model(tmp_path / "last.keras")
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_nan_loss_stops_training_and_names_the_epoch_and_batch(capsys):
    x, y = _data(64)
    y[40] = np.nan  # the 6th batch of 8 in the first epoch
    model = _model()
    model.fit(x[:32], y[:32], epochs=1, batch_size=8, verbose=0)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
    err = capsys.readouterr().err
    assert "loss became nan at epoch 1, batch 6" in err
    assert "learning rate" in err and "exploding gradients" in err
    assert model.stop_training and len(history.history["loss"]) == 1
    assert all(np.isfinite(w).all() for w in model.get_weights())  # the bad update was skipped
    model = _model(lr=1e6)  # diverges: the loss overflows to inf within a few batches
    history = model.fit(x[:32], y[:32] * 1e6, epochs=50, batch_size=8, verbose=0)
    assert len(history.history["loss"]) < 50 and "loss became inf" in capsys.readouterr().err
    stop = C.TerminateOnNaN()
    stop.set_model(model)
    model.stop_training = False
    stop.on_train_batch_end(4, {"loss": float("nan")})
    assert model.stop_training and "Batch 4: Invalid loss, terminating training" in capsys.readouterr().out


def test_verbose_output_in_logs_and_on_a_terminal(capsys, monkeypatch):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=1, validation_split=0.25)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("48/48 samples - ") and "samples/s - loss: " in out[1] and "val_mae" in out[1]
    model.fit(x, y, epochs=1, verbose=2)
    line = capsys.readouterr().out.splitlines()[1]
    assert line.startswith("2/2 - ") and "ms/step - loss: " in line

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    model.fit(x, y, epochs=1, batch_size=16, verbose=1)
    text = term.getvalue()
    assert "64/64 samples |" in text and "samples/s" in text and "<00:00" in text and "loss: " in text
    monkeypatch.undo()
    assert model.evaluate(x, y, verbose=1) and "64/64 samples" in capsys.readouterr().out


def test_lambda_callback():
    ends = []
    x, y = _data()
    _model().fit(x, y, epochs=2, verbose=0,
                 callbacks=[C.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(epoch))])
    assert ends == [0, 1]

"""deepgrad.keras models: Sequential, functional and subclassed models train with compile/fit,
evaluate and predict as in Keras; summary() prints Keras's table; models save and reload."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import keras
from deepgrad.keras import layers as L


@pytest.fixture(autouse=True)
def _fresh():
    keras.backend.clear_session()
    dg.manual_seed(0)


def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    x = (centers[y] + rng.normal(scale=0.6, size=(n, 2))).astype(np.float32)
    return x, y


def test_sequential_learns_and_evaluate_predict_agree():
    x, y = _blobs()
    model = keras.Sequential([keras.Input((2,)), L.Dense(16, activation="relu"),
                              L.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert set(history.history) == {"loss", "accuracy"} and len(history.history["loss"]) == 15
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.9 and model.metrics_names == ["loss", "accuracy"]
    probs = model.predict(x, verbose=0)
    assert isinstance(probs, np.ndarray) and probs.shape == (240, 3)
    assert np.isclose((probs.argmax(1) == y).mean(), acc)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] == acc


def test_accuracy_resolves_from_the_loss_and_shapes_as_keras():
    x, y = _blobs(64)
    onehot = keras.utils.to_categorical(y, 3)
    for loss, target, expected in [("sparse_categorical_crossentropy", y, "SparseCategoricalAccuracy"),
                                   ("categorical_crossentropy", onehot, "CategoricalAccuracy")]:
        model = keras.Sequential([L.Dense(3, activation="softmax")])
        model.compile("adam", loss, metrics=["accuracy"])
        model.fit(x, target, epochs=1, verbose=0)
        assert type(model._compiled.metrics[0][0]).__name__ == expected
    binary = keras.Sequential([L.Dense(1, activation="sigmoid")])
    binary.compile("adam", "binary_crossentropy", metrics=["accuracy", "mae"])
    logs = binary.fit(x, (y == 1).astype(np.float32), epochs=1, verbose=0).history
    assert set(logs) == {"loss", "accuracy", "mae"}
    assert type(binary._compiled.metrics[0][0]).__name__ == "BinaryAccuracy"


def test_validation_split_holds_out_the_last_samples():
    x, y = _blobs(200)
    model = keras.Sequential([keras.Input((2,)), L.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.params["samples"])

    history = model.fit(x, y, epochs=1, batch_size=16, validation_split=0.25, verbose=0,
                        callbacks=[Spy()])
    assert seen == [150]
    val = history.history["val_loss"][0]
    assert np.isclose(val, model.evaluate(x[150:], y[150:], verbose=0), rtol=1e-6)
    assert not np.isclose(val, model.evaluate(x[:50], y[:50], verbose=0), rtol=1e-3)
    history = model.fit(x, y, epochs=1, validation_data=(x[:40], y[:40]), verbose=0)
    assert np.isclose(history.history["val_loss"][0], model.evaluate(x[:40], y[:40], verbose=0))


def test_compile_by_name_uses_keras_defaults():
    x, y = _blobs(32)
    expected = {"adam": ("Adam", 0.001, {"eps": 1e-7, "betas": (0.9, 0.999)}),
                "sgd": ("SGD", 0.01, {"momentum": 0.0}),
                "rmsprop": ("RMSprop", 0.001, {"alpha": 0.9, "eps": 1e-7}),
                "adadelta": ("Adadelta", 0.001, {"rho": 0.95, "eps": 1e-7}),
                "adagrad": ("Adagrad", 0.001, {"initial_accumulator_value": 0.1, "eps": 1e-7})}
    for name, (cls, lr, options) in expected.items():
        model = keras.Sequential([L.Dense(3)])
        model.compile(optimizer=name, loss="mse")
        model.fit(x, keras.utils.to_categorical(y, 3), epochs=1, verbose=0)
        assert type(model.optimizer).__name__ == cls and model.optimizer.learning_rate == lr
        group = model.optimizer.inner.param_groups[0]
        assert type(model.optimizer.inner).__name__ == cls and group["lr"] == lr
        for key, value in options.items():
            assert group[key] == value, (name, key)
    # a ready deepgrad.optim optimizer over the model's weights works too
    model = keras.Sequential([keras.Input((2,)), L.Dense(3)])
    opt = dg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.compile(optimizer=opt, loss="mse")
    before = model.get_weights()[0].copy()
    model.fit(x, keras.utils.to_categorical(y, 3), epochs=1, verbose=0)
    assert model.optimizer.inner is opt and not np.array_equal(before, model.get_weights()[0])


def test_regularizers_are_added_to_the_loss():
    model = keras.Sequential([keras.Input((3,)),
                              L.Dense(2, kernel_regularizer=keras.regularizers.l2(0.1),
                                      bias_regularizer=keras.regularizers.l1(0.5))])
    model.compile("sgd", "mse")
    model.set_weights([np.ones((3, 2), np.float32), np.full(2, -2.0, np.float32)])
    x, y = np.zeros((4, 3), np.float32), np.full((4, 2), -2.0, np.float32)  # data loss 0
    assert np.isclose(model.evaluate(x, y, verbose=0), 0.1 * 6 + 0.5 * 4)
    assert len(model.losses) == 2


def test_functional_model_with_shared_layer_several_inputs_and_outputs():
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = L.Dense(8, activation="tanh", name="shared")
    merged = L.Concatenate()([shared(a), shared(b)])
    out_reg = L.Dense(1, name="reg")(merged)
    out_cls = L.Dense(2, activation="softmax", name="cls")(L.Add()([shared(a), shared(b)]))
    model = keras.Model(inputs=[a, b], outputs=[out_reg, out_cls])
    assert [l.name for l in model.layers] == ["a", "b", "shared", "concatenate", "reg", "add", "cls"]
    rng = np.random.default_rng(1)
    xa, xb = rng.normal(size=(64, 4)).astype(np.float32), rng.normal(size=(64, 4)).astype(np.float32)
    targets = [(xa - xb).sum(1, keepdims=True), (xa.sum(1) > xb.sum(1)).astype(np.int64)]
    model.compile("adam", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.5],
                  metrics={"cls": ["accuracy"]})
    history = model.fit([xa, xb], targets, epochs=3, batch_size=16, verbose=0)
    assert set(history.history) == {"loss", "reg_loss", "cls_loss", "cls_accuracy"}
    h = history.history
    assert np.isclose(h["loss"][-1], h["reg_loss"][-1] + 0.5 * h["cls_loss"][-1], rtol=1e-5)
    reg, cls = model.predict({"a": xa, "b": xb}, verbose=0)
    assert reg.shape == (64, 1) and cls.shape == (64, 2)
    assert len(shared._inbound_nodes) == 4 and model.count_params() == 40 + 17 + 18


def test_graph_disconnected_and_duplicate_names_are_explained():
    a, b = keras.Input((3,)), keras.Input((3,))
    out = L.Add()([L.Dense(2)(a), L.Dense(2)(b)])
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, out)
    x = keras.Input((3,))
    with pytest.raises(ValueError, match="unique"):
        keras.Model(x, L.Dense(2, name="d")(L.Dense(2, name="d")(x)))


def test_subclassed_model_trains_and_summarizes():
    class TwoLayer(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(8, activation="relu")
            self.drop = L.Dropout(0.5)
            self.out = L.Dense(1)

        def call(self, inputs, training=None):
            return self.out(self.drop(self.hidden(inputs), training=training))

    model = TwoLayer()
    x = np.random.default_rng(2).normal(size=(64, 3)).astype(np.float32)
    model.compile("adam", "mse", metrics=["mae"])
    history = model.fit(x, x[:, :1] * 3, epochs=2, verbose=0)
    assert model.name == "two_layer" and len(history.history["mae"]) == 2
    lines = []
    model.summary(print_fn=lines.append)
    assert any(line.startswith("│ dense (Dense)") and "(None, 8)" in line and "32 │" in line for line in lines)
    assert [k for k, _ in model._weight_items()] == ["hidden/kernel", "hidden/bias", "out/kernel", "out/bias"]
    dropout = model.drop
    y1 = model(x, training=True)
    assert dropout is model.drop and not np.allclose(y1.detach().numpy(), model.predict(x, verbose=0))


def test_summary_prints_keras_table():
    keras.backend.clear_session()
    inputs = keras.Input(shape=(28, 28, 1))
    x = L.Conv2D(16, (3, 3), activation="relu", padding="same")(inputs)
    x = L.MaxPooling2D((2, 2), padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Flatten()(x)
    outputs = L.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "functional"'
    assert lines[1].startswith("┏━") and lines[1].endswith("┓") and "┳" in lines[1]
    assert "┃ Layer (type)" in lines[2] and "┃ Output Shape" in lines[2] and lines[2].rstrip("┃ ").endswith("Param #")
    rows = [line for line in lines if line.startswith("│")]
    expected = [("input_layer (InputLayer)", "(None, 28, 28, 1)", "0"),
                ("conv2d (Conv2D)", "(None, 28, 28, 16)", "160"),
                ("max_pooling2d (MaxPooling2D)", "(None, 14, 14, 16)", "0"),
                ("batch_normalization (BatchNormalization)", "(None, 14, 14, 16)", "64"),
                ("flatten (Flatten)", "(None, 3136)", "0"),
                ("dense (Dense)", "(None, 10)", "31,370")]
    assert len(rows) == len(expected)
    for row, (name, shape, params) in zip(rows, expected):
        cells = [c.strip() for c in row.strip("│").split("│")]
        assert cells == [name, shape, params]
    assert len({len(line) for line in lines[1:-3]}) == 1  # a rectangular table
    assert " Total params: 31,594 (123.41 KB)" in lines
    assert " Trainable params: 31,562 (123.29 KB)" in lines
    assert " Non-trainable params: 32 (128.00 B)" in lines
    assert text.count("├") == len(expected) - 1
    unbuilt = keras.Sequential([L.Dense(3)])
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.summary()


def test_save_and_load_model_roundtrip(tmp_path):
    x, y = _blobs(96)
    model = keras.Sequential([keras.Input((2,)), L.Dense(8, activation="relu"), L.Dropout(0.2),
                              L.BatchNormalization(), L.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.RMSprop(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    for path in (tmp_path / "model.keras", tmp_path / "model_dir"):
        model.save(path)
        loaded = keras.models.load_model(path)
        assert type(loaded) is keras.Sequential and [type(l) for l in loaded.layers] == \
            [type(l) for l in model.layers]
        for a, b in zip(model.get_weights(), loaded.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
        assert type(loaded.optimizer).__name__ == "RMSprop" and loaded.optimizer.iterations == 6
        assert loaded.optimizer.learning_rate == pytest.approx(0.01)
        assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
        loaded.fit(x, y, epochs=1, verbose=0)  # the restored optimizer state keeps training
    with open(tmp_path / "model_dir" / "config.json") as f:
        config = json.load(f)
    assert config["class_name"] == "Sequential" and config["compile_config"]["loss"] == \
        "sparse_categorical_crossentropy"
    assert sorted(os.listdir(tmp_path / "model_dir")) == ["config.json", "metadata.json",
                                                          "model.weights.safetensors"]
    with pytest.raises(ValueError, match=".keras"):
        model.save(tmp_path / "model.h5")


def test_functional_config_roundtrip_and_clone():
    a = keras.Input((6, 4))
    h = L.Bidirectional(L.LSTM(3, return_sequences=True))(a)
    h = L.MultiHeadAttention(2, 2)(h, h)
    h = L.GlobalAveragePooling1D()(h)
    out = L.Dense(2)(L.Concatenate()([h, L.Flatten()(a)]))
    model = keras.Model(a, out, name="seq_model")
    clone = keras.models.clone_model(model)
    assert clone.name == "seq_model" and [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    x = np.random.default_rng(3).normal(size=(2, 6, 4)).astype(np.float32)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    again = keras.models.model_from_json(model.to_json())
    assert again.output_shape == (None, 2)


def test_custom_layers_load_through_custom_objects(tmp_path):
    class Scale(L.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, inputs):
            return inputs * self.w * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    inputs = keras.Input((3,))
    model = keras.Model(inputs, Scale(3.0)(inputs))
    assert model.output_shape == (None, 3)  # found by running the layer, no compute_output_shape
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="custom_objects"):
        keras.models.load_model(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"Scale": Scale})
    np.testing.assert_allclose(loaded.predict(np.ones((1, 3), np.float32), verbose=0), 3.0)


def test_fit_takes_a_dataloader():
    from deepgrad.data import DataLoader, TensorDataset

    x, y = _blobs(128)
    loader = DataLoader(TensorDataset(dg.tensor(x), dg.tensor(y)), batch_size=32, shuffle=True,
                        generator=dg.Generator(0))
    model = keras.Sequential([L.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(loader, epochs=5, verbose=0, validation_data=(x, y))
    assert history.history["val_accuracy"][-1] > 0.8


def test_mistakes_are_explained():
    model = keras.Sequential([keras.Input((2,)), L.Dense(1)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((4, 2)), np.zeros(4))
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="different numbers of samples"):
        model.fit(np.zeros((4, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"expects shape \(None, 2\), got \(4, 3\)"):
        keras.Model(model.inputs, model.outputs).predict(np.zeros((4, 3)), verbose=0)
    with pytest.raises(ValueError, match="Unknown loss"):
        model.compile("sgd", "mean_squared_errr")


def test_sample_weights_class_weights_generators_and_single_batches():
    x, y = _blobs(64)
    model = keras.Sequential([keras.Input((2,)), L.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    weights = np.where(y == 0, 2.0, 0.0).astype(np.float32)
    weighted = model.evaluate(x, y, sample_weight=weights, verbose=0)
    per_sample = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(
        y, model(x))
    assert np.isclose(weighted, (per_sample.detach().numpy() * weights).sum() / 64, rtol=1e-5)
    model.fit(x, y, epochs=1, verbose=0, class_weight={0: 1.0, 1: 0.0, 2: 0.0})
    rng = np.random.default_rng(4)

    def batches():
        while True:
            idx = rng.integers(0, 64, 8)
            yield x[idx], y[idx]

    history = model.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 2 + 6
    loss = model.train_on_batch(x[:8], y[:8])
    assert isinstance(loss, float) and model.optimizer.iterations == 9
    assert model.predict_on_batch(x[:5]).shape == (5, 3)


def test_initial_epoch_continues_the_epoch_count():
    x, y = _blobs(32)
    model = keras.Sequential([L.Dense(3)])
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=4, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3] and len(history.history["loss"]) == 2

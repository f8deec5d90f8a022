"""Recipes (deepgrad.recipes) and run directories (deepgrad.runs): a short fit of
each recipe on small data, the files a run leaves, resume, and broken files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from deepgrad import recipes
from deepgrad.data.datasets import write_idx
from deepgrad.checkpoint import atomic_write
from deepgrad.runs import RunDir

pytest.importorskip("matplotlib", reason="the run directory's plots need matplotlib")
pytest.importorskip("safetensors", reason="checkpoints need safetensors")

from deepgrad.checkpoint import CheckpointError, load_tensors  # noqa: E402

RUN_FILES = {"config.json", "metrics.csv", "metrics.json", "curves.png", "samples.png",
             "model.weights.safetensors", "backup"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_mnist(root: Path, n: int = 160) -> Path:
    """MNIST-shaped IDX files whose digits are learnable: class k lights up row band k."""
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
        rows = 2 + 2 * labels[:, None] + np.arange(3)  # a 3-row band per class
        images[np.arange(n)[:, None], rows, 4:24] = 255
        (root / "mnist").mkdir(parents=True, exist_ok=True)
        write_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory) -> Path:
    return fake_mnist(tmp_path_factory.mktemp("data"))


def test_registry_lists_every_recipe_with_a_description():
    listed = recipes.list_recipes()
    assert [name for name, _ in listed] == ["xor", "spiral", "mnist-mlp", "lenet5", "conv-autoencoder"]
    assert recipes.DEFAULT_RECIPE == "spiral"
    for name, description in listed:
        module = recipes.get_recipe(name)
        assert description and "\n" not in description
        assert set(module.DEFAULTS) == {"epochs", "batch_size", "lr", "optimizer"}
        assert isinstance(module.LOSS, str) and isinstance(module.METRICS, list)
        assert callable(module.load_data) and callable(module.build_model) and callable(module.plot_samples)


def test_unknown_recipe_names_the_choices():
    with pytest.raises(ValueError, match="unknown recipe 'lenet'.*lenet5"):
        recipes.get_recipe("lenet")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_run(out: Path, summary: dict, epochs: int, accuracy: bool = True) -> None:
    assert RUN_FILES <= {p.name for p in out.iterdir()}
    assert (out / "backup" / "training_state.safetensors").is_file()
    for png in ("curves.png", "samples.png"):
        assert (out / png).read_bytes()[:8] == PNG_MAGIC
    rows = read_csv(out / "metrics.csv")  # Keras's CSVLogger: epochs from 0
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    expected = {"epoch", "loss", "val_loss"} | ({"accuracy", "val_accuracy"} if accuracy else set())
    assert set(rows[0]) == expected
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test_loss"] == pytest.approx(summary["test_loss"])
    assert [row["epoch"] for row in saved["history"]] == list(range(epochs))
    assert all(row["seconds"] > 0 for row in saved["history"])
    assert float(rows[-1]["val_loss"]) == pytest.approx(saved["history"][-1]["val_loss"], rel=1e-6)
    # validation data is the test data, so the last epoch's val_loss is the final test loss
    assert saved["history"][-1]["val_loss"] == pytest.approx(saved["test_loss"], rel=1e-5)
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == epochs and config["recipe"] == summary["recipe"]
    # evaluate rebuilds the model from the config and weights: the same test metrics
    again = recipes.evaluate(out, verbose=False)
    assert again["test_loss"] == pytest.approx(summary["test_loss"], rel=1e-5)
    if accuracy:
        assert again["test_accuracy"] == summary["test_accuracy"]


def test_xor_reaches_its_target(tmp_path):
    summary = recipes.train("xor", out=tmp_path / "xor", verbose=False)
    assert summary["test_accuracy"] == 1.0 and summary["target"]["met"]
    check_run(tmp_path / "xor", summary, epochs=200)


def test_spiral_reaches_its_target(tmp_path):
    """The main job (make run): the full recipe, in seconds."""
    summary = recipes.train("spiral", out=tmp_path / "run", verbose=False)
    assert summary["train_samples"] == 500 and summary["test_samples"] == 500
    assert summary["test_accuracy"] >= 0.97 and summary["target"]["met"]
    assert summary["train_seconds"] < 60
    check_run(tmp_path / "run", summary, epochs=100)


def test_limit_takes_the_first_samples():
    from deepgrad.recipes import spiral

    full = spiral.load_data(recipes.Config("spiral", 1, 32, 0.1, "adam"))
    part = spiral.load_data(recipes.Config("spiral", 1, 32, 0.1, "adam", limit=50))
    for a, b in zip(full, part):
        np.testing.assert_array_equal(a[:50], b)


@pytest.mark.parametrize("name", ["mnist-mlp", "lenet5"])
def test_mnist_classifiers_short_fit(name, tmp_path, mnist_root):
    summary = recipes.train(name, out=tmp_path / name, data=str(mnist_root), epochs=2, limit=160,
                            batch_size=16, verbose=False)
    assert summary["train_samples"] == 160 and summary["test_samples"] == 160
    history = json.loads((tmp_path / name / "metrics.json").read_text())["history"]
    assert history[1]["loss"] < history[0]["loss"]
    check_run(tmp_path / name, summary, epochs=2)


def test_conv_autoencoder_short_fit(tmp_path, mnist_root):
    summary = recipes.train("conv-autoencoder", out=tmp_path / "ae", data=str(mnist_root), epochs=1,
                            limit=64, batch_size=32, verbose=False)
    assert "test_accuracy" not in summary and 0 < summary["test_loss"] < 1.0
    check_run(tmp_path / "ae", summary, epochs=1, accuracy=False)


def test_conv_autoencoder_is_the_lectures_model():
    from deepgrad.recipes import conv_autoencoder

    model = conv_autoencoder.build_model(None)
    assert model.output_shape == (None, 28, 28, 1)
    assert [layer.output_shape for layer in model.layers if type(layer).__name__ == "MaxPooling2D"] == \
        [(None, 14, 14, 16), (None, 7, 7, 8), (None, 4, 4, 8)]
    assert sum(p.numel() for p in model.parameters()) == 4385  # the lecture's summary() total
    out = model.predict(np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32), verbose=0)
    assert out.shape == (2, 28, 28, 1) and 0 <= out.min() and out.max() <= 1


def weights(out: Path) -> dict[str, np.ndarray]:
    return load_tensors(out / "model.weights.safetensors")[0]


def without_seconds(out: Path) -> list[dict]:
    history = json.loads((out / "metrics.json").read_text())["history"]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_resume_continues_exactly(tmp_path):
    straight = recipes.train("spiral", out=tmp_path / "a", epochs=4, limit=200, verbose=False, plots=False)
    recipes.train("spiral", out=tmp_path / "b", epochs=2, limit=200, verbose=False, plots=False)
    resumed = recipes.train("spiral", out=tmp_path / "b", epochs=4, resume=True, verbose=False, plots=False)
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) == 6
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert resumed["test_loss"] == straight["test_loss"]
    assert without_seconds(tmp_path / "a") == without_seconds(tmp_path / "b")
    assert read_csv(tmp_path / "a" / "metrics.csv") == read_csv(tmp_path / "b" / "metrics.csv")
    assert json.loads((tmp_path / "b" / "config.json").read_text())["limit"] == 200  # kept from the run


def test_resume_without_checkpoint_starts_fresh_and_other_recipe_is_refused(tmp_path, capsys):
    recipes.train("xor", out=tmp_path / "x", epochs=3, resume=True, plots=False)
    assert "starting a fresh run" in capsys.readouterr().out
    with pytest.raises(ValueError, match="recipe 'xor', not 'spiral'"):
        recipes.train("spiral", out=tmp_path / "x", resume=True, verbose=False)


def test_a_fresh_run_replaces_an_earlier_one(tmp_path):
    recipes.train("xor", out=tmp_path / "x", epochs=5, verbose=False, plots=False)
    recipes.train("xor", out=tmp_path / "x", epochs=3, verbose=False, plots=False)
    assert len(read_csv(tmp_path / "x" / "metrics.csv")) == 3
    assert len(json.loads((tmp_path / "x" / "metrics.json").read_text())["history"]) == 3


def test_bad_settings_raise(tmp_path):
    with pytest.raises(ValueError, match="unknown optimizer 'adamx'"):
        recipes.train("xor", optimizer="adamx", out=tmp_path / "x", verbose=False)
    with pytest.raises(ValueError, match="lr > 0"):
        recipes.train("xor", lr=-1.0, out=tmp_path / "x", verbose=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow itself
def test_diverging_run_names_the_epoch(tmp_path, capsys, mnist_root):
    with pytest.raises(FloatingPointError, match=r"stopped in epoch \d: the loss became NaN.*smaller --lr"):
        recipes.train("mnist-mlp", optimizer="sgd", lr=1e30, epochs=3, data=str(mnist_root),
                      limit=64, out=tmp_path / "nan", verbose=False, plots=False)
    assert "learning rate" in capsys.readouterr().err  # fit's own message: the usual causes


def test_corrupt_weights_are_a_clear_error(tmp_path):
    recipes.train("xor", out=tmp_path / "x", epochs=2, verbose=False, plots=False)
    path = tmp_path / "x" / "model.weights.safetensors"
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(CheckpointError, match="model.weights.safetensors"):
        recipes.evaluate(tmp_path / "x", verbose=False)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        recipes.evaluate(tmp_path, verbose=False)


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    atomic_write(tmp_path / "m.json", b"old")
    monkeypatch.setattr("os.replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "m.json", b"new")
    assert (tmp_path / "m.json").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary file left behind


def test_run_dir_refuses_a_directory_without_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        RunDir(tmp_path).read_config()

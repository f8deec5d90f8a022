"""The ``deepgrad`` command's training subcommands, through a subprocess:
``recipes``, ``train``, ``evaluate`` and ``playground``."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import deepgrad as dg
from deepgrad import cli

SRC = str(Path(dg.__file__).resolve().parent.parent)
needs_training = pytest.mark.skipif(
    not (importlib.util.find_spec("safetensors") and importlib.util.find_spec("matplotlib")),
    reason="a training run needs safetensors (checkpoints) and matplotlib (plots)")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "deepgrad", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_recipes_lists_names_and_descriptions():
    result = run("recipes")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("xor", "spiral", "mnist-mlp", "lenet5", "conv-autoencoder"):
        line = next(line for line in lines if line.split()[:1] == [name])
        assert len(line.split(None, 1)[1]) > 20  # a real one-line description
    assert "(default)" in next(line for line in lines if line.startswith("spiral"))


@needs_training
def test_train_then_evaluate_xor(tmp_path):
    out = tmp_path / "xor-run"
    result = run("train", "xor", "--out", str(out), "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "test accuracy 100.00%" in result.stdout
    assert f"curves:      {out / 'curves.png'}" in result.stdout
    assert f"samples:     {out / 'samples.png'}" in result.stdout
    assert {"config.json", "metrics.csv", "metrics.json", "curves.png", "samples.png",
            "model.weights.safetensors", "backup"} <= {p.name for p in out.iterdir()}
    assert (out / "backup" / "training_state.safetensors").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config == {"recipe": "xor", "epochs": 200, "batch_size": 4, "lr": 0.05, "optimizer": "adam",
                      "seed": 3, "data": None, "limit": None}
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["command"] == f"deepgrad train xor --seed 3 --out {out}"

    result = run("evaluate", str(out))
    assert result.returncode == 0, result.stderr
    assert "test_accuracy: 100.00%" in result.stdout
    loss = float(next(line for line in result.stdout.splitlines() if "test_loss" in line).split(":")[1])
    assert loss == pytest.approx(summary["test_loss"], abs=1e-4)


@needs_training
def test_train_options_override_defaults_and_default_out_is_runs_recipe(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "spiral", "--epochs", "3", "--batch-size", "50", "--lr", "0.02",
                     "--optimizer", "sgd", "--limit", "100"]) == 0
    config = json.loads((tmp_path / "runs" / "spiral" / "config.json").read_text())
    assert (config["epochs"], config["batch_size"], config["lr"], config["optimizer"], config["limit"]) == \
        (3, 50, 0.02, "sgd", 100)
    out = capsys.readouterr().out
    assert "100 training and 100 test samples" in out and "sgd lr 0.02, batch size 50, 3 epochs" in out


@needs_training
def test_resume_extends_a_run(tmp_path):
    out = str(tmp_path / "r")
    assert run("train", "xor", "--epochs", "2", "--out", out).returncode == 0
    result = run("train", "xor", "--epochs", "5", "--out", out, "--resume")
    assert result.returncode == 0, result.stderr
    assert "resuming from" in result.stdout
    rows = (tmp_path / "r" / "metrics.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["epoch", "0", "1", "2", "3", "4"]  # Keras counts from 0
    history = json.loads((tmp_path / "r" / "metrics.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [0, 1, 2, 3, 4]


def test_errors_are_one_line_and_fail(capsys):
    assert cli.main(["train", "resnet"]) == 1
    err = capsys.readouterr().err
    assert "unknown recipe 'resnet'" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "xor", "--epochs", "0"])
    assert exit_info.value.code == 2 and "must be a positive integer" in capsys.readouterr().err
    assert cli.main(["evaluate", "/nonexistent/run"]) == 1
    assert "not a run directory" in capsys.readouterr().err


def test_missing_mnist_says_where_it_looked(tmp_path, capsys, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert cli.main(["train", "lenet5", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "mnist") in err and "Traceback" not in err


def test_playground_calls_the_server(monkeypatch):
    calls = []
    server = types.ModuleType("deepgrad.playground.server")
    server.main = lambda host, port, open_browser: calls.append((host, port, open_browser)) or 0
    package = types.ModuleType("deepgrad.playground")
    package.server = server
    monkeypatch.setitem(sys.modules, "deepgrad.playground", package)
    monkeypatch.setitem(sys.modules, "deepgrad.playground.server", server)
    assert cli.main(["playground", "--port", "0"]) == 0
    assert cli.main(["playground", "--host", "0.0.0.0", "--open"]) == 0
    assert calls == [("127.0.0.1", 0, False), ("0.0.0.0", 8000, True)]

"""The examples run as a newcomer runs them, and tell the story they promise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import deepgrad as dg

ROOT = Path(__file__).resolve().parent.parent
SRC = str(Path(dg.__file__).resolve().parent.parent)


def run_example(name: str, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args],
                            capture_output=True, text=True, env=env, timeout=120)
    return result, time.perf_counter() - start


def test_xor_mlp_learns_what_a_perceptron_cannot():
    result, elapsed = run_example("xor.py")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    perceptron, mlp = out.split("2. A 2-4-1 MLP")
    # The perceptron gets at most 3 of 4; the MLP gets all four.
    p_acc = int(re.search(r"accuracy: (\d)/4", perceptron).group(1))
    assert p_acc <= 3
    assert "accuracy: 4/4 (100%)" in mlp
    # The MLP's loss falls as it trains, to near zero.
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", mlp)]
    assert len(losses) >= 5
    assert losses[-1] < 0.01 < losses[0]
    assert all(b <= a + 1e-4 for a, b in zip(losses[1:], losses[2:]))
    # All four predictions are printed, each on the right side of 0.5.
    preds = re.findall(r"(\d) xor (\d) = (\d)\s+predicted (\d\.\d+)\s+ok", mlp)
    assert len(preds) == 4
    for a, b, y, p in preds:
        assert int(a) ^ int(b) == int(y) and (float(p) > 0.5) == (y == "1")
    assert elapsed < 30, f"xor.py took {elapsed:.1f} s; it should take a couple of seconds"


def test_xor_reports_failure_through_its_exit_code():
    result, _ = run_example("xor.py", "--seed", "0", "--epochs", "300")
    assert result.returncode == 1
    assert "local minimum" in result.stdout

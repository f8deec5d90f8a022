"""The ``deepgrad`` command: ``python -m deepgrad info`` and the console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import cli, info

# The directory that holds the deepgrad package, so a subprocess imports the same copy.
SRC = str(Path(dg.__file__).resolve().parent.parent)


def run(*args: str, executable: list[str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    command = (executable or [sys.executable, "-m", "deepgrad"]) + list(args)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_python_m_deepgrad_info_prints_versions_and_blas():
    result = run("info")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = dict(line.split(":", 1) for line in out.splitlines())
    assert lines["deepgrad"].strip() == dg.__version__
    assert lines["backend"].strip().startswith("numpy")
    assert lines["numpy"].strip() == np.__version__
    assert lines["blas"].strip() and lines["blas"].strip() == info.blas_info()
    assert lines["python"].strip().startswith(".".join(map(str, sys.version_info[:2])))
    assert int(lines["cpus"]) >= 1


def test_info_reports_the_blas_threads_set_in_the_environment():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "deepgrad", "info", "--json"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["blas threads"] == 1


def test_info_json():
    result = run("info", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["deepgrad"] == dg.__version__ and data["numpy"] == np.__version__
    assert set(data) >= {"deepgrad", "backend", "numpy", "blas", "blas kernels", "python",
                         "platform", "cpu", "cpus"}


def test_blas_info_reads_numpy_config(monkeypatch):
    config = {"Build Dependencies": {"blas": {
        "name": "openblas", "found": True, "version": "0.3.27",
        "openblas configuration": "USE64BITINT  DYNAMIC_ARCH"}}}
    monkeypatch.setattr(np, "show_config", lambda mode=None: config)
    assert info.blas_info() == "openblas 0.3.27 (USE64BITINT DYNAMIC_ARCH)"
    monkeypatch.setattr(np, "show_config", lambda mode=None: {})
    assert info.blas_info() == "unknown"

    def old_numpy(mode=None):
        raise TypeError("show_config() got an unexpected keyword argument 'mode'")

    monkeypatch.setattr(np, "show_config", old_numpy)
    assert info.blas_info() == "unknown"


AVX512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "sse2"}


def test_blas_kernels_warns_when_the_environment_holds_back_an_avx512_cpu():
    held = info.blas_kernels("Haswell", "Haswell", AVX512)
    assert held.startswith("Haswell (set by OPENBLAS_CORETYPE=Haswell)")
    assert "AVX-512" in held and "unset OPENBLAS_CORETYPE" in held
    # No warning where the CPU has no AVX-512, the kernels use it, or nothing forced them.
    assert info.blas_kernels("Haswell", "Haswell", {"avx2", "fma"}) == (
        "Haswell (set by OPENBLAS_CORETYPE=Haswell)")
    assert info.blas_kernels("SkylakeX", "SkylakeX", AVX512) == (
        "SkylakeX (set by OPENBLAS_CORETYPE=SkylakeX)")
    assert info.blas_kernels("Haswell", "", AVX512) == "Haswell"


def _openblas_architecture(env: dict) -> str | None:
    code = ("import numpy, json; from threadpoolctl import threadpool_info; "
            "print(json.dumps([p.get('architecture') for p in threadpool_info() "
            "if p.get('internal_api') == 'openblas']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60, check=True).stdout
    found = json.loads(out)
    return found[0] if found else None


def test_info_reports_the_kernels_openblas_runs():
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    if _openblas_architecture(env) != "Haswell":
        pytest.skip("NumPy's BLAS here is not an OpenBLAS that can run its Haswell kernels")
    result = subprocess.run([sys.executable, "-m", "deepgrad", "info", "--json"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["blas kernels"].startswith(
        "Haswell (set by OPENBLAS_CORETYPE=Haswell)")

    env.pop("OPENBLAS_CORETYPE")
    result = subprocess.run([sys.executable, "-m", "deepgrad", "info", "--json"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(result.stdout)["blas kernels"] == _openblas_architecture(env)


def test_main_in_process(capsys):
    assert cli.main(["info"]) == 0
    assert dg.__version__ in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == 2
    assert "info" in capsys.readouterr().err


def test_version_flag_and_unknown_command():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"deepgrad {dg.__version__}"
    result = run("no-such-command")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_console_script():
    script = Path(sys.executable).parent / "deepgrad"
    if not script.exists():
        script = shutil.which("deepgrad")
        if script is None:
            pytest.skip("the deepgrad console script is not installed here "
                        "(it is after `pip install -e .`, which `make test` does)")
    result = run("info", executable=[str(script)])
    assert result.returncode == 0, result.stderr
    assert "blas:" in result.stdout and dg.__version__ in result.stdout

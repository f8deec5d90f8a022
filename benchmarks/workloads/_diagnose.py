"""Diagnostics of deepgrad's training steps for ``bench.py --profile`` and ``--check-float32``.

* ``classify``: splits py-spy's native stacks of the timed loop into BLAS, NumPy's
  native code (elementwise kernels, reductions, copies, allocation) and Python.
* ``float32_report``: runs a workload's step with every ``xp`` call in deepgrad
  and every Function's forward and backward watched, and names each place where
  float32 data came out as float64 (a silent upcast: twice the memory traffic, and
  a dtype PyTorch would not give).
"""

from __future__ import annotations

import functools
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

SRC = str(Path(__file__).resolve().parents[2] / "src")


def classify(raw: str, marker: str = "_profiled_steps") -> tuple[dict, dict, int]:
    """Split py-spy's raw (collapsed, ``--native``) stacks that pass through ``marker``.

    Returns ({category: samples}, {innermost deepgrad function: non-BLAS samples}, total).
    """
    cats = {"BLAS": 0, "NumPy native": 0, "Python": 0}
    spots: dict = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or not any(marker in f for f in frames):
            continue
        n = int(count)
        total += n
        if any("openblas" in f for f in frames):
            cats["BLAS"] += n
            continue
        last_py = max(i for i, f in enumerate(frames) if ".py:" in f)
        tail = frames[last_py + 1:]
        # native frames under the last Python frame: NumPy's (or libc's memcpy/malloc, libm)
        # unless the first of them is the interpreter itself
        native = bool(tail) and not ("libpython" in tail[0] or "(python" in tail[0])
        cats["NumPy native" if native else "Python"] += n
        own = [f for f in frames if "deepgrad/" in f and ".py:" in f]
        if own:
            func, _, where = own[-1].partition(" (")
            key = f"{where.split(':')[0]}:{func}"
            spots[key] = spots.get(key, 0) + n
    return cats, spots, total


class _Watch:
    """Records (where, what) of every float32 -> float64 step it is shown."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def _where(self) -> str:
        for frame in reversed(traceback.extract_stack()[:-2]):
            if "/deepgrad/" in frame.filename and "_diagnose" not in frame.filename:
                return f"{frame.filename.split('/src/')[-1]}:{frame.lineno} ({frame.line})"
        return "?"

    def check(self, what: str, inputs: Any, outputs: Any) -> None:
        def floats(xs: Any) -> set:
            out = set()
            for x in xs if isinstance(xs, (tuple, list)) else (xs,):
                a = getattr(x, "array", x)
                if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                    out.add(a.dtype)
            return out

        f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
        if f32 in floats(inputs) and f64 not in floats(inputs) and f64 in floats(outputs):
            self.found.setdefault(self._where(), what)


class _XpProxy:
    """NumPy, with every function's result checked by a ``_Watch``."""

    def __init__(self, watch: _Watch) -> None:
        self._watch = watch

    def __getattr__(self, name: str) -> Any:
        value = getattr(np, name)
        if not callable(value) or isinstance(value, type):
            return value

        watch = self._watch

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            watch.check(f"xp.{name}", list(args) + list(kwargs.values()), result)
            return result

        if isinstance(value, np.ufunc):  # keep .at, .reduce ... reachable
            return type("WatchedUfunc", (), {"__call__": staticmethod(call),
                                             "__getattr__": lambda _, a: getattr(value, a)})()
        return functools.wraps(value)(call)


def float32_report(names: list[str], steps: int = 2) -> str:
    """Markdown: each place where a float32 step of the workloads produced float64."""
    sys.path.insert(0, SRC)
    import deepgrad
    from deepgrad.autograd import function as fn_module

    from workloads import load
    from workloads._common import torchlike_step

    watch = _Watch()
    proxy = _XpProxy(watch)
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("deepgrad") and getattr(mod, "xp", None) is np:
            mod.xp = proxy
    original_apply = fn_module.Function.apply.__func__

    def apply(cls: Any, *args: Any, **kwargs: Any) -> Any:
        out = original_apply(cls, *args, **kwargs)
        watch.check(f"{cls.__name__}.forward", args, out)
        return out

    fn_module.Function.apply = classmethod(apply)
    lines = []
    try:
        for name in names:
            watch.found = {}
            step = torchlike_step(deepgrad, load(name))
            for _ in range(steps):
                step()
            if watch.found:
                lines += [f"- {name}: float64 from float32 at "
                          + "; ".join(f"`{w}` ({what})" for w, what in watch.found.items())]
            else:
                lines.append(f"- {name}: none (every xp call and every Function kept float32)")
    finally:
        fn_module.Function.apply = classmethod(original_apply)
        for mod in list(sys.modules.values()):
            if getattr(mod, "xp", None) is proxy:
                mod.xp = np
    return "\n".join(lines)

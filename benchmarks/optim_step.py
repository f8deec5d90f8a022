"""One optimizer step over the parameters of the 784-512-256-10 MLP: deepgrad next to PyTorch.

The gradients are fixed random arrays (the step alone is timed, not backward),
the parameters float32 as in training. Each row is the median over repeated
runs of the mean time of many steps. Prints a markdown table; ``--write``
also puts it into the 'optim_step' section of docs/PERFORMANCE.md.

    python benchmarks/optim_step.py [--write]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402

import deepgrad  # noqa: E402
from _report import machine, median_time, table, torch_or_none, write_section  # noqa: E402

SIZES = [784, 512, 256, 10]
# (label, optimizer name, keyword arguments); Adam first: it is the one the issue asks about.
CONFIGS = [
    ("Adam", "Adam", {"lr": 1e-3}),
    ("AdamW", "AdamW", {"lr": 1e-3, "weight_decay": 1e-2}),
    ("SGD, momentum 0.9", "SGD", {"lr": 0.1, "momentum": 0.9}),
    ("RMSprop", "RMSprop", {"lr": 1e-3}),
    ("RMSprop, centered, momentum 0.9", "RMSprop", {"lr": 1e-3, "centered": True,
                                                    "momentum": 0.9}),
    ("Adagrad", "Adagrad", {"lr": 1e-2}),
    ("Adadelta", "Adadelta", {"lr": 1.0}),
    ("Adamax", "Adamax", {"lr": 2e-3}),
    ("NAdam", "NAdam", {"lr": 2e-3}),
    ("RAdam", "RAdam", {"lr": 1e-3}),
]


TIMING = {"warmup": 20, "repeats": 9, "number": 50}


def mlp_arrays() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Parameters and gradients shaped as nn.Linear's (weight (out, in), bias (out,))."""
    rng = np.random.default_rng(0)
    params, grads = [], []
    for fan_in, fan_out in zip(SIZES, SIZES[1:]):
        for shape in ((fan_out, fan_in), (fan_out,)):
            params.append((rng.standard_normal(shape) * 0.05).astype(np.float32))
            grads.append((rng.standard_normal(shape) * 1e-3).astype(np.float32))
    return params, grads


def step_fn(lib, name: str, kwargs: dict, params: list, grads: list):
    ps = [lib.tensor(p.copy()).requires_grad_() for p in params]
    for p, g in zip(ps, grads):
        p.grad = lib.tensor(g.copy())
    opt = getattr(lib.optim, name)(ps, **kwargs)
    return opt.step


def main() -> None:
    params, grads = mlp_arrays()
    n = sum(p.size for p in params)
    torch = torch_or_none()
    threads = torch.get_num_threads() if torch is not None else 0
    rows = []
    for label, name, kwargs in CONFIGS:
        ours = median_time(step_fn(deepgrad, name, kwargs, params, grads), **TIMING)
        row = [label, f"{ours * 1e3:.3f}"]
        if torch is not None:
            theirs = median_time(step_fn(torch, name, kwargs, params, grads), **TIMING)
            torch.set_num_threads(1)  # NumPy's ufuncs use one core: the like-for-like figure
            single = median_time(step_fn(torch, name, kwargs, params, grads), **TIMING)
            torch.set_num_threads(threads)
            row += [f"{theirs * 1e3:.3f}", f"{single * 1e3:.3f}", f"{ours / theirs:.2f}x",
                    f"{ours / single:.2f}x"]
        else:
            row += ["-"] * 4
        rows.append(row)
    md = (f"One optimizer step over the 784-512-256-10 MLP's {len(params)} parameter tensors "
          f"({n:,} float32 values, gradients given): median of {TIMING['repeats']} runs of the mean "
          f"of {TIMING['number']} steps. {machine()}.\n\n"
          + table(["optimizer", "deepgrad (ms)", f"PyTorch, {threads} threads (ms)",
                   "PyTorch, 1 thread (ms)", f"deepgrad / PyTorch {threads} threads",
                   "deepgrad / PyTorch 1 thread"], rows))
    print(md)
    if "--write" in sys.argv[1:]:
        write_section("optim_step", md)


if __name__ == "__main__":
    main()

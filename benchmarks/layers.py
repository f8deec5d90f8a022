"""The layers of LeNet-5 at batch 128, forward and forward + backward, deepgrad next to PyTorch.

conv2d (LeNet's two convolutions), max_pool2d, batch_norm (training mode) and
cross_entropy, each on float32 data. The same code runs on both libraries
(deepgrad keeps PyTorch's names), with PyTorch on the same number of threads
as NumPy's BLAS. Prints a markdown table and writes the 'layers' section of
docs/PERFORMANCE.md. Goal: within 1.5x of PyTorch.

    python benchmarks/layers.py [--quick] [--no-write] [--threads N]

``--threads N`` runs both libraries on N threads (OpenBLAS's and PyTorch's);
by default both use every core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    parser.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    args = parser.parse_args()
    if args.threads:  # before NumPy loads its BLAS
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    return args


ARGS = _arguments() if __name__ == "__main__" else None

import numpy as np  # noqa: E402

import deepgrad  # noqa: E402
from _report import machine, table, torch_or_none, write_section  # noqa: E402

BATCH = 128


def _tensors(lib, arrays, grads):
    return [lib.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]


def workloads():
    """name -> (op, input arrays, which need grad, fn(lib, *tensors) -> output)."""
    rng = np.random.default_rng(0)

    def f32(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    labels = rng.integers(0, 10, BATCH).astype(np.int64)
    return {
        "conv2d 1→6, 5x5, pad 2, 28x28": (
            "conv2d", [f32(BATCH, 1, 28, 28), f32(6, 1, 5, 5, scale=0.2), f32(6)],
            [False, True, True],
            lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=2)),
        "conv2d 6→16, 5x5, 14x14": (
            "conv2d", [f32(BATCH, 6, 14, 14), f32(16, 6, 5, 5, scale=0.1), f32(16)],
            [True, True, True],
            lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b)),
        "max_pool2d 2x2, 6x28x28": (
            "max_pool2d", [f32(BATCH, 6, 28, 28)], [True],
            lambda lib, x: lib.nn.functional.max_pool2d(x, 2)),
        "max_pool2d 2x2, 16x10x10": (
            "max_pool2d", [f32(BATCH, 16, 10, 10)], [True],
            lambda lib, x: lib.nn.functional.max_pool2d(x, 2)),
        "batch_norm 6x28x28 (train)": (
            "batch_norm", [f32(BATCH, 6, 28, 28), f32(6), f32(6)], [True, True, True],
            lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, training=True)),
        "batch_norm 16x10x10 (train)": (
            "batch_norm", [f32(BATCH, 16, 10, 10), f32(16), f32(16)], [True, True, True],
            lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, training=True)),
        "cross_entropy 128x10": (
            "cross_entropy", [f32(BATCH, 10), labels], [True, False],
            lambda lib, x, t: lib.nn.functional.cross_entropy(x, t)),
    }


def steps(lib, arrays, grads, fn):
    inputs = _tensors(lib, arrays, grads)
    out = fn(lib, *inputs)
    seed = lib.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(np.float32))
    leaves = [t for t, g in zip(inputs, grads) if g]

    def forward():
        with lib.no_grad():
            fn(lib, *inputs)

    def forward_backward():
        for t in leaves:
            t.grad = None
        fn(lib, *inputs).backward(seed)

    return forward, forward_backward


def interleaved_medians(fns: dict, *, number: int, repeats: int, warmup: int = 3) -> dict:
    """Median over ``repeats`` rounds of the mean time of ``number`` calls, in ms. The
    libraries take turns within each round, so a busy machine slows both alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number * 1e3)
    return {name: statistics.median(s) for name, s in samples.items()}


def main(args: argparse.Namespace) -> None:
    number, repeats = (3, 3) if args.quick else (20, 15)
    torch = torch_or_none()
    if torch is not None and args.threads:
        torch.set_num_threads(args.threads)
    libs = {"deepgrad": deepgrad, "PyTorch": torch} if torch else {"deepgrad": deepgrad}
    rows = []
    for label, (op, arrays, grads, fn) in workloads().items():
        if not hasattr(deepgrad.nn.functional, op):
            print(f"skipping {label}: deepgrad.nn.functional.{op} does not exist yet")
            continue
        pairs = {name: steps(lib, arrays, grads, fn) for name, lib in libs.items()}
        fwd = interleaved_medians({n: p[0] for n, p in pairs.items()}, number=number,
                                  repeats=repeats)
        fwd_bwd = interleaved_medians({n: p[1] for n, p in pairs.items()}, number=number,
                                      repeats=repeats)
        times = {name: (fwd[name], fwd_bwd[name]) for name in libs}
        row = [label] + [f"{times[n][0]:.3f}" for n in libs] + [f"{times[n][1]:.3f}" for n in libs]
        if torch:
            row.append(f"{times['deepgrad'][1] / times['PyTorch'][1]:.2f}x")
        rows.append(row)
        print(" | ".join(row), flush=True)

    header = (["layer (batch 128, float32)"] + [f"{n} fwd (ms)" for n in libs]
              + [f"{n} fwd+bwd (ms)" for n in libs]
              + (["fwd+bwd deepgrad / PyTorch"] if torch else []))
    versions = f"deepgrad {deepgrad.__version__}" + (
        f", PyTorch {torch.__version__}" if torch else "") + (
        f"; both libraries on {args.threads} thread(s)" if args.threads
        else "; both libraries on every core")
    flags = f" --threads {args.threads}" if args.threads else ""
    markdown = "\n".join([
        "## LeNet-5 layers",
        "",
        "Forward, and forward + backward, of each layer of LeNet-5 at batch 128 in float32 "
        f"(median of {repeats} rounds of {number} calls, the two libraries taking turns). "
        "Goal: within 1.5x of PyTorch. "
        f"Command: `python benchmarks/layers.py{flags}`.",
        "",
        f"Machine: {machine()}; {versions}.",
        "",
        table(header, rows),
    ])
    print()
    print(markdown)
    if not args.no_write and not args.quick:
        write_section("layers", markdown)


if __name__ == "__main__":
    main(ARGS)

"""A char-LSTM training step, deepgrad next to PyTorch (issue 5, section 3).

The model of the char-RNN lectures: vocabulary 65 (tiny Shakespeare), embedding
64, one LSTM layer of 256, a linear read-out; sequences of 64 characters in
batches of 32; cross-entropy over every position; Adam. One step is
zero_grad + forward + backward + optimizer step, in float32. The same code runs
on both libraries (deepgrad keeps PyTorch's names); the two take turns step by
step, so a busy machine slows both alike.

Two configurations are timed: the libraries' default threading, and one thread
each (steadier on a shared machine; the BLAS thread count has to be set before
NumPy loads, so that row runs in a child process). Prints a markdown table;
``--write`` also stores it as the 'charlstm' section of docs/PERFORMANCE.md.

    python benchmarks/charlstm.py [--steps 25] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if "--threads" in sys.argv:  # before NumPy and PyTorch load their thread pools
    _n = sys.argv[sys.argv.index("--threads") + 1]
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _n

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402

import deepgrad  # noqa: E402
from _report import machine, table, torch_or_none, write_section  # noqa: E402

VOCAB, EMBED, HIDDEN, SEQ, BATCH = 65, 64, 256, 64, 32


def _deepgrad_nn():
    """deepgrad's layers, from ``deepgrad.nn`` when it exports them, else from their modules."""
    import deepgrad.nn as nn

    if all(hasattr(nn, n) for n in ("Embedding", "LSTM", "Linear")):
        return nn.Embedding, nn.LSTM, nn.Linear, nn.Module
    from deepgrad.nn.modules.linear import Linear
    from deepgrad.nn.modules.module import Module
    from deepgrad.nn.modules.rnn import LSTM
    from deepgrad.nn.modules.sparse import Embedding

    return Embedding, LSTM, Linear, Module


def make_step(lib, data: np.ndarray):
    """A closure running one training step of the char-LSTM on ``lib`` (deepgrad or torch)."""
    if lib is deepgrad:
        Embedding, LSTM, Linear, Module = _deepgrad_nn()
        import deepgrad.nn.functional as F
        from deepgrad.optim import Adam
    else:
        nn = lib.nn
        Embedding, LSTM, Linear, Module = nn.Embedding, nn.LSTM, nn.Linear, nn.Module
        F = lib.nn.functional
        Adam = lib.optim.Adam

    class CharLSTM(Module):
        def __init__(self):
            super().__init__()
            self.embed = Embedding(VOCAB, EMBED)
            self.lstm = LSTM(EMBED, HIDDEN, batch_first=True)
            self.head = Linear(HIDDEN, VOCAB)

        def forward(self, x):
            out, _ = self.lstm(self.embed(x))
            return self.head(out)

    lib.manual_seed(0)
    model = CharLSTM()
    optimizer = Adam(model.parameters(), lr=2e-3)
    x = lib.tensor(data[:, :-1].copy())
    y = lib.tensor(data[:, 1:].reshape(-1).copy())

    def step() -> float:
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def time_steps(steps: dict, count: int, warmup: int) -> dict:
    """{name: (median seconds per step, last loss)}; the libraries take turns step by step,
    so a busy machine slows both alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict = {name: [] for name in steps}
    losses: dict = {}
    for _ in range(count):
        for name, step in steps.items():
            start = time.perf_counter()
            losses[name] = step()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), losses[name]) for name in steps}


def run(steps: int, warmup: int, threads: int | None) -> dict:
    """{library: (median ms per step, last loss)} in this process."""
    data = np.random.default_rng(0).integers(0, VOCAB, size=(BATCH, SEQ + 1), dtype=np.int64)
    torch = torch_or_none()
    if torch is not None and threads:
        torch.set_num_threads(threads)
    libs = {"deepgrad": deepgrad} | ({"PyTorch": torch} if torch else {})
    timed = time_steps({name: make_step(lib, data) for name, lib in libs.items()}, steps, warmup)
    return {name: (median * 1e3, loss) for name, (median, loss) in timed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="run only this thread count (BLAS and PyTorch)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help="update docs/PERFORMANCE.md")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.json:  # the child process of the single-thread row
        print(json.dumps(run(args.steps, args.warmup, args.threads)))
        return

    configs = {}
    if args.threads is None:
        configs[f"default threads ({os.cpu_count()} cores)"] = run(args.steps, args.warmup, None)
        child = subprocess.run(
            [sys.executable, __file__, "--threads", "1", "--json", "--steps", str(args.steps),
             "--warmup", str(args.warmup)], capture_output=True, text=True, check=True)
        configs["1 thread"] = json.loads(child.stdout.strip().splitlines()[-1])
    else:
        configs[f"{args.threads} thread(s)"] = run(args.steps, args.warmup, args.threads)

    libs = list(next(iter(configs.values())))
    have_torch = "PyTorch" in libs
    rows = []
    for label, results in configs.items():
        for name, (ms, loss) in results.items():
            print(f"{label}: {name} {ms:.1f} ms per step (loss after "
                  f"{args.warmup + args.steps} steps {loss:.3f})")
        ratio = (f"{results['deepgrad'][0] / results['PyTorch'][0]:.2f}x" if have_torch
                 else "PyTorch absent")
        rows.append([f"char-LSTM step, {label}"] + [f"{results[n][0]:.1f}" for n in libs]
                    + [ratio])
    header = ["workload"] + [f"{n} (ms)" for n in libs] + ["deepgrad / PyTorch"]
    versions = f"deepgrad {deepgrad.__version__}"
    torch = torch_or_none()
    if torch:
        versions += f", PyTorch {torch.__version__}"
    markdown = "\n".join([
        "## Char-LSTM training step",
        "",
        f"Embedding {VOCAB} -> {EMBED}, one LSTM layer of {HIDDEN} (batch_first), linear "
        f"read-out to {VOCAB}, cross-entropy over all {SEQ} x {BATCH} positions, Adam; float32. "
        "One step = zero_grad + forward + backward + Adam step; median of "
        f"{args.steps} steps after {args.warmup} warm-up steps, the two libraries taking turns "
        "step by step. Goal: within 1.5x of PyTorch. Command: "
        "`python benchmarks/charlstm.py --write`. On a machine shared with other jobs the "
        "default-threads row mostly measures BLAS/OpenMP threads waiting for each other "
        "(both libraries slow down several-fold); the 1-thread row is the steadier comparison.",
        "",
        f"Machine: {machine()}; {versions}.",
        "",
        table(header, rows),
    ])
    print()
    print(markdown)
    if args.write:
        write_section("charlstm", markdown)


if __name__ == "__main__":
    main()

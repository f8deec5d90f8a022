"""Benchmark of the deepgrad.data pipeline on MNIST; prints a markdown table.

    PYTHONPATH=src python3 benchmarks/data_pipeline.py [--root DIR] [--repeats N] [--write]

Measures:
  * loading MNIST (train + test) from the four gzip IDX files into arrays;
  * one shuffled epoch of the training set at batch 128 without transforms
    (0 and 2 worker threads), and with per-sample ToTensor + Normalize;
  * the batched augmentation BatchToTensor + RandomCrop(padding 2) +
    HorizontalFlip + Rotation(10 degrees) on one batch of 128 images;
  * for scale, one LeNet-5 training step at batch 128 (forward, backward, SGD
    with momentum): the issue's goals are an epoch of loading under 5% of a
    LeNet-5 epoch and the augmentation of a batch under one training step.

With --write the table goes into the 'data' section of docs/PERFORMANCE.md.

The data root defaults to $DEEPGRAD_DATA, else ../shared/data beside the
repository; without MNIST there, a synthetic MNIST-sized set is written to a
temporary folder (and the table says so).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import deepgrad as dg
from deepgrad.data import DataLoader
from deepgrad.data import transforms as T
from deepgrad.data.datasets import MNIST, write_idx
from deepgrad.data.datasets import mnist as mnist_module
from _report import machine, write_section


def lenet5_step(batch_size: int = 128):
    """One LeNet-5 training step on MNIST-shaped data, as the recipes train it."""
    from deepgrad import nn, optim

    dg.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = dg.randn(batch_size, 1, 28, 28), dg.randint(0, 10, (batch_size,))

    def step() -> None:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def _find_root(arg: str | None) -> tuple[Path, str]:
    candidates = [Path(arg)] if arg else []
    if os.environ.get("DEEPGRAD_DATA"):
        candidates.append(Path(os.environ["DEEPGRAD_DATA"]))
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if (c / "mnist" / "train-images-idx3-ubyte.gz").is_file():
            return c, "real MNIST"
    tmp = Path(tempfile.mkdtemp(prefix="deepgrad-bench-"))
    rng = np.random.default_rng(0)
    (tmp / "mnist").mkdir()
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        write_idx(tmp / "mnist" / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    return tmp, "synthetic MNIST-sized data (real files not found)"


def _best(fn, repeats: int) -> tuple[float, float]:
    """(median, min) seconds over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="data root holding mnist/")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write docs/PERFORMANCE.md")
    args = parser.parse_args()
    root, kind = _find_root(args.root)
    rows: list[tuple[str, str, str]] = []

    def load() -> None:
        mnist_module._cache.clear()
        MNIST(root, train=True)
        MNIST(root, train=False)

    med, low = _best(load, args.repeats)
    rows.append(("load MNIST train + test from gzip IDX", f"{med * 1e3:.0f} ms", f"{low * 1e3:.0f} ms"))

    train = MNIST(root, train=True)
    for workers in (0, 2):
        def epoch(workers: int = workers) -> None:
            loader = DataLoader(train, batch_size=128, shuffle=True, num_workers=workers,
                                generator=dg.Generator().manual_seed(0))
            for _x, _y in loader:
                pass

        med, low = _best(epoch, args.repeats)
        rows.append((f"one epoch, batch 128, no transforms, num_workers={workers}",
                     f"{med * 1e3:.0f} ms", f"{low * 1e3:.0f} ms"))

    per_sample = MNIST(root, train=True, transform=T.Compose([T.ToTensor(), T.Normalize(0.1307, 0.3081)]))

    def slow_epoch() -> None:
        for _x, _y in DataLoader(per_sample, batch_size=128, shuffle=True, num_workers=2,
                                 generator=dg.Generator().manual_seed(0)):
            pass

    med, low = _best(slow_epoch, max(1, args.repeats // 5))
    rows.append(("one epoch, batch 128, per-sample ToTensor + Normalize, num_workers=2",
                 f"{med * 1e3:.0f} ms", f"{low * 1e3:.0f} ms"))

    batch = train.data[:128]
    augment = T.Compose([
        T.BatchToTensor(),
        T.BatchRandomCrop(28, padding=2),
        T.BatchRandomHorizontalFlip(),
        T.BatchRandomRotation(10),
    ])
    augment(batch)
    med, low = _best(lambda: augment(batch), args.repeats * 20)
    rows.append(("batched augmentation (ToTensor + crop pad 2 + flip + rotate 10) on 128 images",
                 f"{med * 1e3:.2f} ms", f"{low * 1e3:.2f} ms"))
    bilinear = T.BatchRandomRotation(10, interpolation="bilinear")
    x = augment(batch)
    med, low = _best(lambda: bilinear(x), args.repeats * 20)
    rows.append(("bilinear rotation 10 deg on 128 images (1x28x28 float32)",
                 f"{med * 1e3:.2f} ms", f"{low * 1e3:.2f} ms"))

    step = lenet5_step()
    step()
    step_median, step_low = _best(step, args.repeats * 4)
    rows.append(("for scale: one LeNet-5 training step, batch 128",
                 f"{step_median * 1e3:.1f} ms", f"{step_low * 1e3:.1f} ms"))
    steps_per_epoch = -(-len(train) // 128)
    epoch_share = float(rows[1][1].split()[0]) / 1e3 / (step_median * steps_per_epoch)
    augment_share = float(rows[4][1].split()[0]) / 1e3 / step_median

    lines = [
        f"deepgrad.data pipeline on {kind}. Machine: {machine()}.",
        "",
        "| measurement | median | best |",
        "| --- | ---: | ---: |",
        *[f"| {name} | {med_s} | {low_s} |" for name, med_s, low_s in rows],
        "",
        f"An epoch of loading without transforms costs {epoch_share:.1%} of a LeNet-5 training "
        f"epoch ({steps_per_epoch} steps; goal: under 5%), and the batched augmentation of one "
        f"batch costs {augment_share:.0%} of one training step (goal: under 100%).",
    ]
    print("\n".join(lines))
    if args.write:
        write_section("data", "## Data pipeline\n\nCommand: `python benchmarks/data_pipeline.py "
                      "--write`.\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()

"""Run every recipe with its full settings and write ``docs/RESULTS.md`` (``make results``).

    python -m deepgrad.recipes.report [--data DIR] [--out runs/results] [--doc docs/RESULTS.md]
                                      [--only NAME ...] [--blas-threads N] [--render-only]
                                      [--note TEXT]

Each recipe runs as ``deepgrad train NAME --out OUT/NAME`` in a fresh process
(what a user would type), one after the other; the wall time is that
process's, start to exit. The table is built from each run's ``metrics.json``.
With ``--only``, the other recipes' rows are taken from their earlier runs in
``OUT`` when those exist; ``--render-only`` runs nothing and rebuilds the
document from them all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from deepgrad.recipes import RECIPES, get_recipe

HEADER = """# Results

Every recipe of `deepgrad train`, run with its full default settings by
`make results` (`python -m deepgrad.recipes.report`), one at a time, on the
machine below. Wall time is the whole `deepgrad train` process, start to
exit (data loading, training, evaluation, plots); training time is the sum
of the epochs (each including its validation pass). Validation data is the
test set, as in the lecture's programs; nothing is selected on it (the
numbers are those of the last epoch). The run directories (metrics, curves,
sample predictions, checkpoints) are in `{out}/`.
"""


def _fmt_seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def _metrics(summary: dict[str, Any]) -> str:
    parts = []
    if "test_accuracy" in summary:
        parts.append(f"test accuracy **{100 * summary['test_accuracy']:.2f}%**")
    loss = "validation binary cross-entropy" if "test_accuracy" not in summary else "test loss"
    parts.append(f"{loss} {summary['test_loss']:.4f}")
    return ", ".join(parts)


def _target(name: str, summary: dict[str, Any]) -> str:
    target = summary.get("target")
    if target is None:
        return "(no threshold: the loss and the reconstructions)"
    what = "test accuracy" if target["metric"] == "test_accuracy" else target["metric"]
    return f"{what} >= {100 * target['min']:g}%: {'met' if target['met'] else '**not met**'}"


BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_recipe(name: str, out: Path, data: str | None, blas_threads: int | None = None) -> dict[str, Any]:
    """Train ``name`` in a fresh process; return its summary plus the measured wall time."""
    command = [sys.executable, "-m", "deepgrad", "train", name, "--out", str(out / name)]
    if data and getattr(get_recipe(name), "DATASET", None) is not None:
        command += ["--data", data]
    else:
        data = None
    env = dict(os.environ)
    if blas_threads is not None:
        env.update({key: str(blas_threads) for key in BLAS_ENV})
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"\n$ deepgrad train {name} --out {out / name}" + (f" --data {data}" if data else ""), flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    wall = time.perf_counter() - start
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    extra = {"process_seconds": wall, "load_before": load[0] if load else None,
             "load_after_5min": load_after[1] if load_after else None, "blas_threads": blas_threads}
    (out / name / "report.json").write_text(json.dumps(extra, indent=2) + "\n")
    return {**json.loads((out / name / "metrics.json").read_text()), **extra}


def _earlier(name: str, out: Path) -> dict[str, Any] | None:
    metrics, extra = out / name / "metrics.json", out / name / "report.json"
    if not (metrics.is_file() and extra.is_file()):
        return None
    summary = json.loads(metrics.read_text())
    if "test_loss" not in summary:  # an unfinished run
        return None
    return {**summary, **json.loads(extra.read_text())}


def render(summaries: dict[str, dict[str, Any]], out: Path, info: str, note: str = "") -> str:
    lines = [HEADER.format(out=out), "| recipe | command | epochs | wall time | training time | final metrics | target |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in summaries.items():
        lines.append(
            f"| `{name}` | `{_public_command(name, s)}` | {s['epochs_trained']} | "
            f"{_fmt_seconds(s['process_seconds'])} | {_fmt_seconds(s['train_seconds'])} | "
            f"{_metrics(s)} | {_target(name, s)} |")
    if note:
        lines += ["", note.strip()]
    lines += ["", "## The recipes", ""]
    for name, s in summaries.items():
        recipe = get_recipe(name)
        doc = (recipe.__doc__ or "").strip().split("\n\n", 1)
        cfg = s["config"]
        lines += [f"### `{name}`", "", doc[1].replace("\n", " ").strip() if len(doc) > 1 else doc[0], "",
                  f"Settings: {cfg['epochs']} epochs, batch size {cfg['batch_size']}, {cfg['optimizer']} "
                  f"with learning rate {cfg['lr']:g}, seed {cfg['seed']}; {s['parameters']:,} parameters; "
                  f"{s['train_samples']:,} training and {s['test_samples']:,} test samples.", ""]
        per_epoch = [f"{row.get('val_accuracy', row['val_loss']):.4f}" for row in s["history"]]
        if len(per_epoch) <= 12:
            what = "Validation accuracy" if "val_accuracy" in s["history"][0] else "Validation loss"
            seconds = ", ".join(f"{row['seconds']:.0f}" for row in s["history"])
            lines += [f"{what} per epoch: {', '.join(per_epoch)}; seconds per epoch: {seconds}.", ""]
        if s.get("load_before") is not None:
            threads = s.get("blas_threads")
            after = s.get("load_after_5min")
            lines += [f"Machine load: 1-minute load average {s['load_before']:.2f} when it started"
                      + (f", 5-minute average {after:.2f} when it ended" if after is not None else "")
                      + f" ({os.cpu_count()} cores); BLAS threads: "
                      f"{threads if threads is not None else 'the default'}.", ""]
    lines += ["## The machine", "", "```", info.strip(), "```", "",
              f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.", ""]
    return "\n".join(lines)


def _public_command(name: str, summary: dict[str, Any]) -> str:
    needs_data = getattr(get_recipe(name), "DATASET", None) is not None
    return f"deepgrad train {name}" + (" --data DIR" if needs_data and summary["config"].get("data") else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepgrad.recipes.report", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="data root holding mnist/ (default: $DEEPGRAD_DATA or ~/.cache/deepgrad)")
    parser.add_argument("--out", default="runs/results", help="where the run directories go")
    parser.add_argument("--doc", default="docs/RESULTS.md", help="the Markdown file to write")
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), help="run only these recipes")
    parser.add_argument("--blas-threads", type=int, help="set OPENBLAS/OMP/MKL_NUM_THREADS for the runs "
                        "(on a busy machine 1 avoids oversubscribing the cores)")
    parser.add_argument("--render-only", action="store_true",
                        help="run nothing: rebuild the document from the runs already in --out")
    parser.add_argument("--note", default="", help="a paragraph to put under the table (conditions ...)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    summaries: dict[str, dict[str, Any]] = {}
    for name in RECIPES:
        if not args.render_only and (args.only is None or name in args.only):
            summaries[name] = run_recipe(name, out, args.data, args.blas_threads)
        elif (earlier := _earlier(name, out)) is not None:
            summaries[name] = earlier
    from deepgrad.info import collect, format_info

    Path(args.doc).write_text(render(summaries, out, format_info(collect()), args.note))
    print(f"\nwrote {args.doc}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

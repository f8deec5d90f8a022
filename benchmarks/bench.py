"""Training-step throughput of deepgrad, PyTorch (eager) and JAX (jit) side by side (issue 8).

Five workloads (``benchmarks/workloads/``): mlp, lenet, convae, charlstm, tiny.
One step is forward + backward + optimizer step on fixed random data; all three
frameworks start from the same parameters, so their first losses agree. Each
(workload, framework) pair runs in a fresh subprocess -- which gives its peak
memory (RSS) -- twice, the frameworks taking turns (deepgrad, PyTorch, JAX,
then JAX, PyTorch, deepgrad), so a load that comes and goes on a shared
machine hits all of them alike. Reported: the median step over both runs
(after warm-up; JAX's warm-up includes its compilation), the ratios, peak RSS,
achieved GFLOP/s against the BLAS ceiling (a 2048 x 2048 float32 NumPy matrix
product), ``import`` times, and installed sizes with runtime dependencies.
Frameworks that are not installed are reported as absent.

    python benchmarks/bench.py [--write] [--quick] [--threads N] [--only mlp,tiny]
    python benchmarks/bench.py --profile [--only convae]   # py-spy profile of deepgrad's steps

``--write`` stores the result as the 'bench' section of docs/PERFORMANCE.md.
Two thread counts are timed, the same for every framework: every core
(OpenBLAS's default, torch.set_num_threads(os.cpu_count()), XLA's default pool),
then one thread, which is the steadier comparison when other jobs share the
cores (OpenBLAS threads that wait for a descheduled sibling slow down
several-fold). ``--threads N`` times N threads only.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _report import machine, table, write_section  # noqa: E402
from workloads import NAMES, load  # noqa: E402
from workloads._diagnose import classify  # noqa: E402

FRAMEWORKS = {"deepgrad": "deepgrad", "PyTorch": "torch", "JAX": "jax"}
WARMUP = 3


# ---------------------------------------------------------------------------------------------
# Child processes: one workload on one framework, the BLAS ceiling, an import time
# ---------------------------------------------------------------------------------------------

def _rss_mib(field: str) -> float:
    """VmRSS / VmHWM of this process in MiB (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def worker(name: str, framework: str, steps: int, min_time: float) -> dict:
    """Time ``steps`` (at least; more until ``min_time`` seconds) training steps after warm-up."""
    import resource

    workload = load(name)
    module = FRAMEWORKS[framework]
    if module == "deepgrad":
        sys.path.insert(0, str(ROOT / "src"))
    lib = importlib.import_module(module)
    note = ""
    if module == "torch":
        lib.set_num_threads(int(os.environ.get("BENCH_THREADS") or os.cpu_count() or 1))
    from workloads._common import jax_step, torchlike_step

    rss_import = _rss_mib("VmRSS")
    if module == "jax":
        step, note = jax_step(workload)
    else:
        step = torchlike_step(lib, workload)
    first_loss = step()
    for _ in range(WARMUP - 1):
        step()
    times: list[float] = []
    begin = time.perf_counter()
    while len(times) < steps or (time.perf_counter() - begin < min_time and len(times) < 2000):
        start = time.perf_counter()
        last_loss = step()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"times": times, "first_loss": first_loss, "last_loss": last_loss,
            "rss_import": rss_import, "rss_peak": max(peak, _rss_mib("VmHWM")),
            "version": getattr(lib, "__version__", "?"), "note": note}


def blas_worker() -> dict:
    """GFLOP/s of a 2048 x 2048 float32 matrix product in NumPy: the best of 7 after 2 warm-ups
    (a ceiling: what BLAS reaches when nothing else gets in its way)."""
    import numpy as np

    n = 2048
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    out = np.empty((n, n), np.float32)
    samples = []
    for i in range(9):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        if i >= 2:
            samples.append(time.perf_counter() - start)
    return {"gflops": 2 * n ** 3 / min(samples) / 1e9, "numpy": np.__version__}


def import_worker(module: str) -> dict:
    if module == "deepgrad":
        sys.path.insert(0, str(ROOT / "src"))
    start = time.perf_counter()
    importlib.import_module(module)
    return {"seconds": time.perf_counter() - start}


def _profiled_steps(step, seconds: float) -> int:
    """Run ``step`` for ``seconds``; the profile keeps only samples under this frame."""
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        step()
        n += 1
    return n


def loop_worker(name: str, seconds: float) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    import deepgrad
    from workloads._common import torchlike_step

    step = torchlike_step(deepgrad, load(name))
    for _ in range(WARMUP):
        step()
    return {"steps": _profiled_steps(step, seconds)}


def profile(names: list[str], seconds: float, threads: int) -> str:
    """py-spy (native) profiles of deepgrad's step on each workload, as markdown."""
    import shutil
    import tempfile

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return "py-spy is not installed (pip install py-spy); no native profile."
    rows, spot_lines = [], []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "raw.txt"
            proc = subprocess.run(
                [spy, "record", "--native", "--format", "raw", "--rate", "400", "--output",
                 str(out), "--", sys.executable, str(Path(__file__).resolve()), "--loop", name,
                 str(seconds)], capture_output=True, text=True, env=_child_env(threads), check=False)
            if proc.returncode != 0 or not out.exists():
                return f"py-spy failed on {name}:\n{proc.stderr[-2000:]}"
            steps = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])["steps"]
            cats, spots, total = classify(out.read_text())
        pct = {k: 100 * v / max(total, 1) for k, v in cats.items()}
        rows.append([name, str(steps), f"{1e3 * seconds / steps:.2f}", str(total)]
                    + [f"{pct[k]:.0f}%" for k in cats])
        top = sorted(spots.items(), key=lambda kv: -kv[1])[:6]
        spot_lines.append(f"- {name}: " + ", ".join(
            f"`{k}` {100 * v / max(total, 1):.0f}%" for k, v in top))
        print(rows[-1], flush=True)
    return "\n".join([
        table(["workload", "steps", "ms / step (under py-spy)", "samples"]
              + [f"{k} %" for k in cats], rows),
        "",
        "Where the non-BLAS time goes (innermost deepgrad function, % of all samples):",
        "",
        *spot_lines,
    ])


def _pin_to_cores(threads: str | None) -> None:
    """In a child timed on fewer threads than cores, keep the whole process on that many cores:
    XLA does not always honour its single-thread flags, and pinning makes "1 thread" mean one
    core for every framework alike."""
    if not threads or not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if int(threads) < len(cpus):
        os.sched_setaffinity(0, cpus[:int(threads)])


def _child_env(threads: int | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        env["BENCH_THREADS"] = str(threads)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        if threads == 1:
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                                "intra_op_parallelism_threads=1").strip()
    return env


def _child(args: list[str], threads: int | None) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                          capture_output=True, text=True, env=_child_env(threads), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Installed size of a distribution with its runtime dependencies
# ---------------------------------------------------------------------------------------------

def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _requirements(dist: md.Distribution) -> list[str]:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip vendors it
        from pip._vendor.packaging.requirements import Requirement
    names = []
    for spec in dist.requires or []:
        req = Requirement(spec)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.append(req.name)
    return names


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*")
               if f.is_file() and "__pycache__" not in f.parts)


def _dist_bytes(dist: md.Distribution) -> int:
    total = 0
    for f in dist.files or []:
        p = Path(dist.locate_file(f))
        if p.is_file():
            total += p.stat().st_size
    direct = dist.read_text("direct_url.json")
    if direct and json.loads(direct).get("dir_info", {}).get("editable"):
        # an editable install lists only its hook files: count the package's source tree
        top = (dist.read_text("top_level.txt") or dist.metadata["Name"]).split()
        for name in top:
            spec = importlib.util.find_spec(name)
            if spec and spec.submodule_search_locations:
                total += sum(_tree_bytes(Path(p)) for p in spec.submodule_search_locations)
    return total


def installed_size(name: str) -> tuple[int, list[str], list[str]]:
    """(bytes, distributions counted, requirements missing) for ``name`` and its runtime deps."""
    seen: dict[str, int] = {}
    missing: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop()
        if _norm(current) in seen:
            continue
        try:
            dist = md.distribution(current)
        except md.PackageNotFoundError:
            missing.append(current)
            seen[_norm(current)] = 0
            continue
        seen[_norm(current)] = _dist_bytes(dist)
        todo += _requirements(dist)
    if name == "deepgrad" and _norm(name) in missing:  # not installed: count the source tree
        missing.remove(name)
        seen[_norm(name)] = _tree_bytes(ROOT / "src" / "deepgrad")
    return sum(seen.values()), sorted(k for k, v in seen.items() if v), sorted(missing)


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

def _fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return "absent"
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 10 else f"{ms:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run_config(names: list[str], frameworks: list[str], threads: int, args) -> dict:
    """Everything timed at one thread count: {'blas': ..., 'results': {workload: {fw: ...}}}."""
    blas = _child(["--blas"], threads)
    print(f"[{threads} thread(s)] BLAS ceiling: {blas['gflops']:.1f} GFLOP/s", flush=True)
    results: dict = {}
    versions: dict = {}
    notes: dict = {}
    for name in names:
        results[name] = {}
        runs: dict = {fw: [] for fw in frameworks}
        for r in range(args.rounds):
            order = frameworks if r % 2 == 0 else frameworks[::-1]
            for fw in order:
                out = _child(["--worker", name, fw, "--steps", str(args.steps),
                              "--min-time", str(args.min_time)], threads)
                runs[fw].append(out)
                versions[fw] = out["version"]
                if out["note"]:
                    notes[fw] = out["note"]
        for fw, outs in runs.items():
            times = [t for o in outs for t in o["times"]]
            results[name][fw] = {
                "median": statistics.median(times), "n": len(times),
                "first_loss": outs[0]["first_loss"], "last_loss": outs[-1]["last_loss"],
                "rss_peak": max(o["rss_peak"] for o in outs),
                "rss_import": min(o["rss_import"] for o in outs)}
            print(f"[{threads} thread(s)] {name:9s} {fw:9s} "
                  f"{results[name][fw]['median'] * 1e3:9.3f} ms (n={len(times)}, first loss "
                  f"{outs[0]['first_loss']:.5f}, peak RSS {results[name][fw]['rss_peak']:.0f} MiB)",
                  flush=True)
    return {"threads": threads, "blas": blas, "results": results, "versions": versions,
            "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/PERFORMANCE.md")
    parser.add_argument("--quick", action="store_true", help="one short round: a smoke run")
    parser.add_argument("--threads", type=int, default=None,
                        help="only this thread count (default: every core, then 1 thread)")
    parser.add_argument("--only", default=None, help="comma-separated workloads")
    parser.add_argument("--rounds", type=int, default=2, help="fresh processes per pair")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per process (minimum)")
    parser.add_argument("--min-time", type=float, default=1.0,
                        help="seconds of timed steps per process (minimum)")
    parser.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "FRAMEWORK"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--blas", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--import-time", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--loop", nargs=2, metavar=("WORKLOAD", "SECONDS"), help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true",
                        help="py-spy profiles of deepgrad's steps (1 thread unless --threads)")
    parser.add_argument("--check-float32", action="store_true",
                        help="name every place where a step turned float32 data into float64")
    args = parser.parse_args()
    _pin_to_cores(os.environ.get("BENCH_THREADS"))
    if args.loop:
        print(json.dumps(loop_worker(args.loop[0], float(args.loop[1]))))
        return
    if args.check_float32:
        from workloads._diagnose import float32_report

        print(float32_report(args.only.split(",") if args.only else NAMES))
        return
    if args.profile:
        names = args.only.split(",") if args.only else NAMES
        print(profile(names, 8.0 if not args.quick else 2.0, args.threads or 1))
        return
    if args.worker:
        print(json.dumps(worker(*args.worker, args.steps, args.min_time)))
        return
    if args.blas:
        print(json.dumps(blas_worker()))
        return
    if args.import_time:
        print(json.dumps(import_worker(args.import_time)))
        return
    if args.quick:
        args.rounds, args.steps, args.min_time = 1, 3, 0.0
    names = args.only.split(",") if args.only else NAMES
    for n in names:
        load(n)  # fails early on a typo

    wall = time.perf_counter()
    load_start = _loadavg()
    present = {fw: importlib.util.find_spec(mod) is not None for fw, mod in FRAMEWORKS.items()}
    present["deepgrad"] = True  # the working tree's src/ is on the children's path
    frameworks = [fw for fw in FRAMEWORKS if present[fw]]
    print(f"frameworks: {', '.join(frameworks)}; absent: "
          f"{', '.join(fw for fw in FRAMEWORKS if not present[fw]) or 'none'}", flush=True)

    cores = os.cpu_count() or 1
    thread_counts = [args.threads] if args.threads else sorted({cores, 1}, reverse=True)
    configs = [run_config(names, frameworks, t, args) for t in thread_counts]

    imports = {}
    for fw in frameworks:
        samples = [_child(["--import-time", FRAMEWORKS[fw]], None)["seconds"] for _ in range(3)]
        imports[fw] = statistics.median(samples)
    sizes = {fw: installed_size(FRAMEWORKS[fw]) for fw in frameworks}
    load_end = _loadavg()
    wall = time.perf_counter() - wall

    markdown = report(names, frameworks, configs, imports, sizes, args, load_start, load_end,
                      wall)
    print()
    print(markdown)
    if args.write:
        write_section("bench", markdown)


def _speed_table(names: list[str], config: dict) -> str:
    results = config["results"]

    def med(name, fw):
        return results[name][fw]["median"] if fw in results[name] else None

    rows = []
    for name in names:
        wl = load(name)
        others = [med(name, fw) for fw in ("PyTorch", "JAX") if med(name, fw) is not None]
        ours = med(name, "deepgrad")
        rows.append([f"{name}: {wl.TITLE}"] + [_fmt_ms(med(name, fw)) for fw in FRAMEWORKS]
                    + [_ratio(ours, med(name, "PyTorch")), _ratio(ours, med(name, "JAX")),
                       _ratio(ours, min(others)) if others else "-"])
    return table(["workload"] + [f"{fw} (ms)" for fw in FRAMEWORKS]
                 + ["deepgrad / PyTorch", "deepgrad / JAX", "deepgrad / fastest"], rows)


def _flop_table(names: list[str], config: dict) -> str:
    results, ceiling = config["results"], config["blas"]["gflops"]
    rows = []
    for name in names:
        flops = 3 * load(name).forward_flops()
        cells = []
        for fw in FRAMEWORKS:
            if fw not in results[name]:
                cells.append("absent")
                continue
            g = flops / results[name][fw]["median"] / 1e9
            share = 100 * g / ceiling
            cells.append(f"{g:.3g} ({share:.0f}%)" if share >= 10 else f"{g:.3g} ({share:.2g}%)")
        rows.append([name, f"{flops / 1e6:.3g}"] + cells)
    return table(["workload", "MFLOP / step"] + list(FRAMEWORKS), rows)


def report(names, frameworks, configs, imports, sizes, args, load_start, load_end,
           wall) -> str:
    absent = [fw for fw in FRAMEWORKS if fw not in frameworks]
    first = configs[0]
    versions = {k: v for c in configs for k, v in c["versions"].items()}
    notes = {k: v for c in configs for k, v in c["notes"].items()}

    mem_rows = []
    for name in names:
        res = first["results"][name]
        losses = [res[fw]["first_loss"] for fw in frameworks]
        spread = (max(losses) - min(losses)) / max(abs(min(losses)), 1e-12)
        mem_rows.append([name] + [
            (f"{res[fw]['rss_peak']:.0f} (+{res[fw]['rss_peak'] - res[fw]['rss_import']:.0f})"
             if fw in res else "absent") for fw in FRAMEWORKS]
            + [" / ".join(f"{v:.5f}" for v in losses) + f" (spread {spread:.0e})"])

    import_rows = [[f"`import {FRAMEWORKS[fw]}`", f"{imports[fw] * 1e3:.0f}",
                    f"{imports[fw] / imports['deepgrad']:.1f}x"] for fw in frameworks]
    size_rows = []
    for fw in frameworks:
        total, dists, missing = sizes[fw]
        size_rows.append([FRAMEWORKS[fw], f"{total / 2 ** 20:.1f}",
                          f"{total / sizes['deepgrad'][0]:.1f}x", ", ".join(dists)
                          + (f" (not installed: {', '.join(missing)})" if missing else "")])

    vers = ", ".join(f"{fw} {versions.get(fw, '?')}" for fw in frameworks)
    jax_how = f" JAX's optimizer: {notes['JAX']}." if "JAX" in notes else ""
    n_steps = min(r[fw]["n"] for c in configs for r in c["results"].values() for fw in r)
    lines = [
        "## Side by side: deepgrad, PyTorch eager, JAX jit",
        "",
        "Training-step throughput: one step = zero_grad + forward + loss + backward + "
        "optimizer step (JAX: one `jax.jit`-compiled function of parameters, optimizer state "
        "and batch, parameters and state donated), on fixed random float32 data, all three "
        "frameworks starting from the same parameters (the first losses below agree). Each "
        f"(workload, framework) pair ran in {args.rounds} fresh process(es), the frameworks "
        f"taking turns; {WARMUP} warm-up steps (JAX's include compilation), then the median of "
        f"at least {n_steps} timed steps in all. Thread counts are the same for every framework "
        "(NumPy's OpenBLAS through OPENBLAS_NUM_THREADS, `torch.set_num_threads`, XLA's pool; "
        "with fewer threads than cores, each process is also pinned to that many cores). "
        "Command: `make bench` (= `python benchmarks/bench.py --write`); the models are in "
        "`benchmarks/workloads/`.",
        "",
        f"Machine: {machine()}; {vers}"
        + (f"; absent: {', '.join(absent)}" if absent else "") + "." + jax_how,
        f"Load average (1/5/15 min) {load_start} at the start, {load_end} at the end: when it "
        "is above 0 other jobs share these cores, so read the ratios (the frameworks took "
        f"turns), not the last digit. Whole run: {wall / 60:.1f} min.",
    ]
    for config in configs:
        t = config["threads"]
        label = f"{t} threads (every core)" if t == (os.cpu_count() or 1) and t > 1 else \
            f"{t} thread" + ("s" if t > 1 else "")
        lines += [
            "",
            f"### Step time, {label} (ms, median; lower is better)",
            "",
            _speed_table(names, config),
            "",
            f"Achieved GFLOP/s, {label} (in brackets: % of the BLAS ceiling, "
            f"{config['blas']['gflops']:.1f} GFLOP/s = one 2048 x 2048 float32 `numpy.matmul` "
            "on as many threads, with the OpenBLAS kernels named above; PyTorch's MKL and "
            "XLA have their own products, which can exceed it). FLOPs counted analytically: "
            "the matrix products and convolutions, forward x 3 (forward + backward's two "
            "products).",
            "",
            _flop_table(names, config),
        ]
    lines += [
        "",
        f"### Peak memory, {first['threads']} thread(s) (RSS of the whole process, MiB; in "
        "brackets: growth after the import) and the first losses",
        "",
        table(["workload"] + list(FRAMEWORKS) + ["first loss (" + " / ".join(frameworks) + ")"],
              mem_rows),
        "",
        "### Import time (fresh process, median of 3) and installed size (with runtime "
        "dependencies)",
        "",
        table(["import", "ms", "/ deepgrad"], import_rows),
        "",
        table(["distribution", "MiB", "/ deepgrad", "counted"], size_rows),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Python overhead per op: forward + backward of tiny tensors, deepgrad next to PyTorch.

On 16-element tensors the arithmetic is free, so what is timed is the
framework: wrapping, graph recording, the backward walk. The same code runs on
both libraries (deepgrad keeps PyTorch's names), so the comparison is like for
like. Writes the 'overhead' section of docs/PERFORMANCE.md.

    python benchmarks/overhead.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import deepgrad  # noqa: E402
from _report import machine, median_time, table, torch_or_none, write_section  # noqa: E402

UNARY = ["exp", "tanh", "sigmoid", "relu"]
BINARY = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}


def op_step(lib, fn, n_inputs: int):
    xs = [(lib.rand(16) + 0.5).requires_grad_() for _ in range(n_inputs)]  # away from 0 for div

    def step():
        fn(*xs).sum().backward()

    return step


def mlp_step(lib):
    """The playground's 2-8-8-1 tanh network, batch 10, squared error, plain SGD."""
    lib.manual_seed(0)
    sizes = [2, 8, 8, 1]
    params = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        params.append((lib.randn(fan_in, fan_out) * 0.5).requires_grad_())
        params.append(lib.zeros(fan_out, requires_grad=True))
    x, y = lib.randn(10, 2), lib.randn(10, 1)

    def step():
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = h.tanh()
        loss = ((h - y) ** 2).mean()
        loss.backward()
        with lib.no_grad():
            for p in params:
                p -= 0.03 * p.grad
                p.grad = None

    return step


def main() -> None:
    torch = torch_or_none()
    libs = {"deepgrad": deepgrad, "PyTorch": torch} if torch else {"deepgrad": deepgrad}
    workloads = {f"{name} (fwd+bwd)": (lambda lib, n=name: op_step(lib, lambda a: getattr(a, n)(), 1))
                 for name in UNARY}
    workloads |= {f"{name} (fwd+bwd)": (lambda lib, f=f: op_step(lib, f, 2)) for name, f in BINARY.items()}
    workloads["2-8-8-1 MLP training step"] = mlp_step

    rows = []
    for label, make in workloads.items():
        times = {name: median_time(make(lib), number=200) * 1e6 for name, lib in libs.items()}
        ratio = f"{times['deepgrad'] / times['PyTorch']:.2f}x" if torch else "PyTorch absent"
        rows.append([label] + [f"{times[n]:.1f}" for n in libs] + [ratio])
        print(rows[-1])
    header = ["workload"] + [f"{n} (µs)" for n in libs] + ["deepgrad / PyTorch"]
    versions = f"deepgrad {deepgrad.__version__}" + (f", PyTorch {torch.__version__}" if torch else "")
    write_section("overhead", "\n".join([
        "## Python overhead per op",
        "",
        "Forward + backward of one op on 16-element float32 tensors (so only the framework's own "
        "work is timed), and one training step of a tiny MLP. Median of 7 runs of 200 steps. "
        "Goal: within 2x of PyTorch. Command: `python benchmarks/overhead.py`.",
        "",
        f"Machine: {machine()}; {versions}.",
        "",
        table(header, rows),
    ]))


if __name__ == "__main__":
    main()

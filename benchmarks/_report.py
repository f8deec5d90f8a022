"""Shared by the benchmarks: timing, the machine's description, and writing results.

Each benchmark owns one section of docs/PERFORMANCE.md, between
``<!-- BEGIN name -->`` and ``<!-- END name -->``; running it replaces that
section and leaves the rest of the file alone.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

PERFORMANCE_MD = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"


def median_time(fn: Callable[[], object], *, warmup: int = 20, repeats: int = 7,
                number: int = 100) -> float:
    """Median over ``repeats`` runs of the mean time of ``number`` calls, in seconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def machine() -> str:
    """The CPU, its cores, Python, NumPy and the BLAS kernels NumPy's OpenBLAS runs."""
    import numpy

    from deepgrad.info import blas_kernels, cpu_name

    return (f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"NumPy {numpy.__version__} (OpenBLAS kernels: {blas_kernels()})")


def torch_or_none():
    """PyTorch set to the same thread count as NumPy's BLAS would use, or None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    return torch


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section ``name`` of docs/PERFORMANCE.md."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = PERFORMANCE_MD.read_text() if PERFORMANCE_MD.exists() else "# Performance\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    PERFORMANCE_MD.write_text(text)
    print(f"wrote section '{name}' of {PERFORMANCE_MD}")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)

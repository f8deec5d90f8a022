"""What deepgrad runs on: ``python -m deepgrad info`` (or ``deepgrad info``).

Handy in a bug report: the deepgrad version, the array backend, NumPy and the
BLAS library it calls for matmul, the Python version, the platform and the
number of CPU cores.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import numpy


def blas_info() -> str:
    """The BLAS library NumPy was built against, e.g. ``scipy-openblas 0.3.27``.

    Read from ``numpy.show_config(mode="dicts")`` (NumPy >= 1.26); ``unknown``
    when NumPy does not say.
    """
    try:
        config = numpy.show_config(mode="dicts")
    except Exception:  # older NumPy, or a build without the config table
        return "unknown"
    blas = (config or {}).get("Build Dependencies", {}).get("blas", {})
    if not blas or not blas.get("found", True):
        return "unknown"
    name = blas.get("name", "unknown")
    version = blas.get("version")
    text = f"{name} {version}" if version and version != "unknown" else name
    details = blas.get("openblas configuration")
    if details and details != "unknown":
        text += f" ({' '.join(str(details).split())})"
    return text


def cpu_count() -> int:
    """CPU cores this process may use (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def collect() -> dict[str, Any]:
    """Everything ``deepgrad info`` prints, as a dict of strings and numbers."""
    import deepgrad
    from deepgrad import backend

    xp = backend.xp
    return {
        "deepgrad": deepgrad.__version__,
        "backend": f"{backend.name} {getattr(xp, '__version__', '')}".strip(),
        "numpy": numpy.__version__,
        "blas": blas_info(),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "cpus": cpu_count(),
        "blas threads": backend.get_num_threads(),
        "allocator": backend.allocator,
        "default dtype": str(deepgrad.get_default_dtype()),
    }


def format_info(info: dict[str, Any] | None = None) -> str:
    """The info as aligned ``key: value`` lines."""
    info = collect() if info is None else info
    width = max(len(k) for k in info)
    return "\n".join(f"{key + ':':<{width + 1}} {value}" for key, value in info.items())


def main() -> int:
    print(format_info())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

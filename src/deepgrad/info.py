"""What deepgrad runs on: ``python -m deepgrad info`` (or ``deepgrad info``).

Handy in a bug report: the deepgrad version, the array backend, NumPy and the
BLAS library it calls for matmul (and which of its CPU kernels it uses), the
Python version, the platform, the CPU and the number of cores.
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


# OpenBLAS's kernels that use AVX-512 (threadpoolctl's "architecture" names them).
_AVX512_KERNELS = {"skylakex", "cooperlake", "sapphirerapids"}
# What OpenBLAS's SkylakeX kernels need, as Linux's /proc/cpuinfo names it.
_AVX512_FLAGS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}


def _cpuinfo_field(name: str) -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return None


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def blas_kernels(architecture: str | None = None, coretype: str | None = None,
                 cpu_flags: set[str] | None = None) -> str:
    """Which CPU kernels OpenBLAS runs, e.g. ``SkylakeX``, with a warning where the
    environment holds it to older kernels than the CPU can run.

    OpenBLAS picks its kernels for the CPU when NumPy loads it, unless the
    ``OPENBLAS_CORETYPE`` environment variable names them. Naming pre-AVX-512
    kernels (``Haswell``) on a CPU with AVX-512 makes every matrix product slower
    (1.6-2x on float32 products measured here, docs/PERFORMANCE.md). The arguments
    default to this process's values (they are there for the tests).
    """
    if architecture is None:
        from threadpoolctl import threadpool_info

        pools = [pool for pool in threadpool_info() if pool.get("internal_api") == "openblas"]
        if not pools:
            return "not OpenBLAS"
        architecture = str(pools[0].get("architecture") or "unknown")
    coretype = os.environ.get("OPENBLAS_CORETYPE") if coretype is None else coretype
    if cpu_flags is None:
        cpu_flags = set((_cpuinfo_field("flags") or "").split())
    if not coretype:
        return architecture
    text = f"{architecture} (set by OPENBLAS_CORETYPE={coretype})"
    if architecture.lower() not in _AVX512_KERNELS and _AVX512_FLAGS <= cpu_flags:
        text += ("; this CPU has AVX-512, which these kernels leave unused: unset "
                 "OPENBLAS_CORETYPE (before Python starts) for faster matrix products")
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
        "blas kernels": blas_kernels(),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "cpu": cpu_name(),
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

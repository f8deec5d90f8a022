"""The array-module seam: the one place that names the array library.

Op code never imports NumPy directly; it does ``from deepgrad.backend import xp``
and calls ``xp.exp``, ``xp.matmul`` and so on. A CuPy backend is a matter of
setting ``DEEPGRAD_BACKEND=cupy`` before ``import deepgrad``: CuPy mirrors the
NumPy API, so no op changes.

The few functions NumPy lacks (``erf``) live here too, written with ``xp`` so
they work on either backend.
"""

from __future__ import annotations

import os
from typing import Any

_NAME = os.environ.get("DEEPGRAD_BACKEND", "numpy").strip().lower()

if _NAME == "numpy":
    import numpy as xp
elif _NAME == "cupy":  # pragma: no cover - needs a GPU
    import cupy as xp  # type: ignore[import-not-found, no-redef]
else:
    raise ImportError(
        f"DEEPGRAD_BACKEND={_NAME!r} is not a known backend; use 'numpy' (the default) or 'cupy'"
    )

name: str = _NAME
ndarray: type = xp.ndarray


# Memory for arrays. Every op returns new arrays, and a training step makes and frees
# the same multi-megabyte temporaries over and over. glibc's malloc serves such sizes with
# mmap (fresh pages: a page fault per 4 KB on first touch) and gives freed memory back to
# the system at once (munmap: with BLAS threads alive, every one interrupts the other
# cores to flush their TLBs). Measured on LeNet-5's step: 16 ms on one thread and 27 ms on
# two, against 11.5 ms on both when freed memory is kept for reuse. So, as the caching
# allocators of other frameworks do, deepgrad keeps it: blocks up to 32 MiB come from
# malloc's heap, and up to 128 MiB of freed heap stay with the process. Opt out with
# DEEPGRAD_MALLOC=system (read at import).
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 * 2**20, 128 * 2**20


def _tune_malloc() -> str:
    """Apply the settings above where the C library is glibc; say what is in force."""
    if os.environ.get("DEEPGRAD_MALLOC", "").strip().lower() == "system":
        return "system (DEEPGRAD_MALLOC=system)"
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "system (not glibc)"
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "system (libc.so.6 not found)"
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    if libc.mallopt(m_mmap_threshold, _MMAP_THRESHOLD) and libc.mallopt(m_trim_threshold,
                                                                         _TRIM_THRESHOLD):
        return "glibc, freed memory kept for reuse (mmap threshold 32 MiB, trim 128 MiB)"
    return "system (mallopt refused)"


allocator: str = _tune_malloc() if _NAME == "numpy" else "the array library's own"


def to_host(array: Any) -> Any:
    """The array as a NumPy array on the host (a no-op on the NumPy backend)."""
    if _NAME == "cupy":  # pragma: no cover
        return array.get()
    return array


def broadcast_to(array: Any, shape: tuple[int, ...]) -> Any:
    """``xp.broadcast_to(array, shape)``: a read-only view with zero strides where it repeats.

    On NumPy a contiguous array's view is built directly: ``numpy.broadcast_to`` takes
    ~2 µs, a tenth of a small op's whole forward and backward."""
    lead = len(shape) - array.ndim
    if _NAME != "numpy" or lead < 0 or not array.flags.c_contiguous or not array.size:
        return xp.broadcast_to(array, shape)
    strides = [0] * lead
    for size, have, stride in zip(shape[lead:], array.shape, array.strides):
        if have == size:
            strides.append(stride)
        elif have == 1:
            strides.append(0)
        else:
            return xp.broadcast_to(array, shape)  # raises NumPy's error
    view = xp.ndarray(shape, array.dtype, array, 0, tuple(strides))
    view.flags.writeable = False
    return view


# erf: W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969),
# accurate to float64 rounding. NumPy has no erf and a Python loop over
# math.erf would be far too slow.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
_SQRT_PI_INV = 5.6418958354775628695e-1


def erf(x: Any) -> Any:
    """The error function, elementwise, in the dtype of ``x`` (computed in float64)."""
    dtype = x.dtype
    v = xp.asarray(x, dtype=xp.float64)
    a = xp.abs(v)
    out = xp.empty_like(v)

    small = a <= 0.5
    z = v[small] ** 2
    num = _ERF_A[4] * z
    den = z
    for i in range(3):
        num = (num + _ERF_A[i]) * z
        den = (den + _ERF_B[i]) * z
    out[small] = v[small] * (num + _ERF_A[3]) / (den + _ERF_B[3])

    mid = (a > 0.5) & (a <= 4.0)
    y = a[mid]
    num = _ERF_C[8] * y
    den = y
    for i in range(7):
        num = (num + _ERF_C[i]) * y
        den = (den + _ERF_D[i]) * y
    erfc = (num + _ERF_C[7]) / (den + _ERF_D[7])
    out[mid] = _erfc_scale(y, erfc)

    large = a > 4.0
    y = xp.minimum(a[large], 30.0)  # erf(30) is 1 in float64; keeps inf finite
    z = 1.0 / (y * y)
    num = _ERF_P[5] * z
    den = z
    for i in range(4):
        num = (num + _ERF_P[i]) * z
        den = (den + _ERF_Q[i]) * z
    r = z * (num + _ERF_P[4]) / (den + _ERF_Q[4])
    erfc = (_SQRT_PI_INV - r) / y
    out[large] = _erfc_scale(y, erfc)

    out[~(small | mid | large)] = v[~(small | mid | large)]  # NaN stays NaN
    flip = (v < 0) & ~small
    out[flip] = -out[flip]
    return out.astype(dtype, copy=False)


def _erfc_scale(y: Any, erfc_times_exp: Any) -> Any:
    """erf = 1 - exp(-y^2) * R(y), with y^2 split to keep full precision."""
    ysq = xp.trunc(y * 16.0) / 16.0
    delta = (y - ysq) * (y + ysq)
    return 1.0 - xp.exp(-ysq * ysq) * xp.exp(-delta) * erfc_times_exp


# BLAS threads. PyTorch has torch.set_num_threads; NumPy has no such call, and its
# BLAS (OpenBLAS, MKL, BLIS...) reads its thread count from an environment variable at
# load time only. threadpoolctl finds the BLAS libraries loaded in the process and
# changes their pools at run time, whichever they are.
def set_num_threads(n: int) -> None:
    """Use ``n`` threads for the matrix products (the BLAS behind NumPy), as ``torch.set_num_threads``.

    Element-wise NumPy work is single-threaded whatever ``n``. On a machine shared with
    other jobs, ``set_num_threads(1)`` can be many times faster: BLAS threads wait for each
    other by spinning, so a product stalls whenever one of its threads is descheduled
    (see docs/PERFORMANCE.md).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer number of threads, got {n!r}")
    if _NAME == "cupy":  # pragma: no cover - the GPU's own scheduling applies
        return
    from threadpoolctl import threadpool_limits

    # Not used as a context manager: the new limit stays until it is changed again.
    threadpool_limits(limits=n, user_api="blas")


def get_num_threads() -> int:
    """The number of threads the BLAS behind NumPy uses for a matrix product (1 with no BLAS pool found)."""
    if _NAME == "cupy":  # pragma: no cover
        return 1
    from threadpoolctl import threadpool_info

    xp.ones(1) @ xp.ones(1)  # make sure NumPy has loaded its BLAS
    pools = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(pools, default=1)


"""deepgrad.set_num_threads / get_num_threads: the BLAS pool behind NumPy's matrix products."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import deepgrad as dg


def _blas_pools() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def restore_threads():
    before = dg.get_num_threads()
    yield
    dg.set_num_threads(before)


def test_set_num_threads_changes_the_blas_pool_and_products_stay_within_rounding(restore_threads):
    a = np.random.default_rng(0).standard_normal((300, 200)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((200, 100)).astype(np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    # float32 rounding bound of a sum of 200 products: 200 * eps * (|a| @ |b|). More threads
    # may add in another order (the last bits change), never beyond it.
    bound = 200 * np.finfo(np.float32).eps * (np.abs(a).astype(np.float64) @ np.abs(b))
    for n in (1, 2):
        dg.set_num_threads(n)
        assert dg.get_num_threads() == n and set(_blas_pools()) == {n}
        product = (dg.tensor(a) @ dg.tensor(b)).numpy()
        assert product.dtype == np.float32
        assert np.all(np.abs(product - exact) <= bound), f"{n} thread(s)"


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_num_threads_refuses_what_is_not_a_positive_integer(bad, restore_threads):
    with pytest.raises(ValueError, match=r"set_num_threads: expected a positive integer .*got"):
        dg.set_num_threads(bad)


def _allocator_in_child(env: dict) -> str:
    import os
    import subprocess
    import sys

    code = "import deepgrad.backend as b; print(b.allocator)"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not __import__("platform").libc_ver()[0] == "glibc", reason="glibc only")
def test_freed_memory_is_kept_for_reuse_unless_the_user_opts_out():
    assert _allocator_in_child({}).startswith("glibc, freed memory kept for reuse")
    assert _allocator_in_child({"DEEPGRAD_MALLOC": "system"}) == "system (DEEPGRAD_MALLOC=system)"

"""Random-number plumbing for ``deepgrad.data``.

Everything random in ``deepgrad.data`` (shuffling, splits, transforms, the
playground generators) draws from a :class:`numpy.random.Generator` obtained
through :func:`numpy_generator`:

* an explicit ``deepgrad.Generator`` (its ``.np``), a ``numpy.random.Generator``
  or an ``int`` seed is used as given;
* otherwise, inside a :class:`DataLoader` fetch, the per-batch generator that
  the loader derived from its seed and the batch number (so random transforms
  give the same batches whatever ``num_workers`` is);
* otherwise deepgrad's default generator (seeded by ``deepgrad.manual_seed``).

The per-batch generator is also what ``deepgrad.rand``/``randn``/dropout draw from
inside a fetch (``deepgrad.random.rng``), so a dataset may use either.
"""

from __future__ import annotations

import contextlib
from typing import Any
from collections.abc import Iterator

import numpy as np

from deepgrad import random as _random


def numpy_generator(generator: Any = None) -> np.random.Generator:
    """The numpy generator to draw from, given a user-supplied ``generator`` argument.

    ``generator`` may be ``None``, a ``deepgrad.Generator``, a
    ``numpy.random.Generator`` or an ``int`` seed (a fresh generator seeded with it).
    """
    if generator is None:
        return _random.rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    inner = getattr(generator, "np", None)
    if isinstance(inner, np.random.Generator):
        return inner
    raise TypeError(
        f"generator must be None, a deepgrad.Generator, a numpy.random.Generator or an int seed; "
        f"got {type(generator).__name__}"
    )


def stream(generator: Any) -> Any:
    """A generator to *store* on an object (transform, sampler, loader): an int seed
    becomes one persistent numpy generator (so successive calls continue the
    stream instead of restarting it); anything else is kept as given."""
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    if generator is not None:
        numpy_generator(generator)  # validate the type now, with a clear message
    return generator


def draw_seed(generator: Any = None) -> int:
    """A 63-bit seed drawn from ``generator`` (see :func:`numpy_generator`)."""
    return int(numpy_generator(generator).integers(0, 2**63 - 1))


@contextlib.contextmanager
def batch_generator(seed: int, index: int) -> Iterator[np.random.Generator]:
    """Within this block, transforms without an explicit generator draw from a
    generator seeded by ``(seed, index)`` (thread-local, so each worker thread
    has its own)."""
    previous = getattr(_random._thread, "override", None)
    gen = np.random.default_rng([int(seed), int(index)])
    _random._thread.override = gen
    try:
        yield gen
    finally:
        _random._thread.override = previous

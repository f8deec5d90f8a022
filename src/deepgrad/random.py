"""Random number generation: one global generator, and explicit streams.

``deepgrad.manual_seed(n)`` seeds the global generator that every random op
uses by default; ``deepgrad.Generator`` is an independent stream that can be
passed as ``generator=`` (to a DataLoader, ``randn``, dropout...). Draws happen
on the host with NumPy's PCG64 and move to the backend array library.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy


class Generator:
    """An independent random stream (``torch.Generator``)."""

    def __init__(self, seed: int | None = None) -> None:
        self._seed = int(numpy.random.SeedSequence().entropy % (2**63)) if seed is None else int(seed)
        self.np = numpy.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.np = numpy.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Re-seed from fresh entropy and return the new seed."""
        self.manual_seed(int(numpy.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """The full state, as plain data (for checkpoints)."""
        return {"seed": self._seed, "bit_generator": self.np.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        self._seed = int(state["seed"])
        self.np.bit_generator.state = state["bit_generator"]

    def __repr__(self) -> str:
        return f"deepgrad.Generator(initial_seed={self._seed})"


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the global generator; returns it, as PyTorch does."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict[str, Any]:
    return default_generator.get_state()


def set_rng_state(state: dict[str, Any]) -> None:
    default_generator.set_state(state)


# Inside a DataLoader fetch, default draws come from that batch's own stream (set per
# thread by deepgrad.data), so a dataset that calls dg.randn gives the same samples
# whatever num_workers is.
_thread = threading.local()


def rng(generator: Generator | None = None) -> numpy.random.Generator:
    """The NumPy generator to draw from: ``generator``'s, else the batch's or the global one's."""
    if generator is not None:
        return generator.np
    override = getattr(_thread, "override", None)
    return default_generator.np if override is None else override

"""Nested structures of inputs and outputs (a tensor, a list/tuple of them, a dict of them)."""

from __future__ import annotations

from typing import Any, Callable, Iterator


def flatten(struct: Any) -> list[Any]:
    """The leaves of ``struct`` in order (lists, tuples and dicts are containers; dicts by key order)."""
    if isinstance(struct, (list, tuple)):
        out: list[Any] = []
        for item in struct:
            out.extend(flatten(item))
        return out
    if isinstance(struct, dict):
        out = []
        for key in struct:
            out.extend(flatten(struct[key]))
        return out
    return [struct]


def map_structure(fn: Callable[[Any], Any], struct: Any) -> Any:
    """``struct`` with every leaf replaced by ``fn(leaf)``."""
    if isinstance(struct, list):
        return [map_structure(fn, item) for item in struct]
    if isinstance(struct, tuple):
        return tuple(map_structure(fn, item) for item in struct)
    if isinstance(struct, dict):
        return {key: map_structure(fn, value) for key, value in struct.items()}
    return fn(struct)


def pack_like(struct: Any, flat: list[Any]) -> Any:
    """The leaves ``flat`` put back into ``struct``'s shape."""
    it: Iterator[Any] = iter(flat)
    return map_structure(lambda _: next(it), struct)


def any_leaf(predicate: Callable[[Any], bool], struct: Any) -> bool:
    if isinstance(struct, (list, tuple)):
        return any(any_leaf(predicate, item) for item in struct)
    if isinstance(struct, dict):
        return any(any_leaf(predicate, value) for value in struct.values())
    return predicate(struct)

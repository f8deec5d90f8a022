"""Keras's small ``backend`` namespace: float type, epsilon, image data format, session names.

``clear_session()`` resets the counters behind automatic layer names
(``dense``, ``dense_1`` ...), as Keras's does.
"""

from __future__ import annotations

import re
from collections import defaultdict

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_NAME_COUNTS: defaultdict[str, int] = defaultdict(int)


def floatx() -> str:
    """The default float type of layers' weights and inputs (``'float32'``)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type: ``'float16'``, ``'float32'`` or ``'float64'``."""
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(f"set_floatx: unknown float type {value!r}; use 'float16', 'float32' or "
                         "'float64'")
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor of losses and metrics (1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """``'channels_last'`` (NHWC, Keras's default) or ``'channels_first'`` (NCHW)."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"set_image_data_format: expected 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    _IMAGE_DATA_FORMAT = data_format


def standardize_data_format(data_format: str | None) -> str:
    if data_format is None:
        return _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return value


def backend() -> str:
    """The name of the array backend: ``'deepgrad'``."""
    return "deepgrad"


def to_snake_case(name: str) -> str:
    """``'MaxPooling2D'`` -> ``'max_pooling2d'``: Keras's rule for default names."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def unique_name(base: str) -> str:
    """``base`` the first time, then ``base_1``, ``base_2`` ... (until ``clear_session``)."""
    count = _NAME_COUNTS[base]
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def clear_session() -> None:
    """Forget the automatic names given so far, so the next ``Dense`` is ``dense`` again."""
    _NAME_COUNTS.clear()


__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format", "backend", "clear_session"]

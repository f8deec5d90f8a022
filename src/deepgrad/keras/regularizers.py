"""Weight regularizers: penalties added to the training loss (Keras's ``l1``, ``l2``, ``l1_l2``).

``Dense(64, kernel_regularizer=regularizers.l2(1e-4))`` adds ``1e-4 * sum(kernel**2)``
to the loss minimized by ``fit`` (and to the ``loss`` it reports), as Keras does.
"""

from __future__ import annotations

from typing import Any

from deepgrad.tensor import Tensor


class Regularizer:
    """Base class: ``regularizer(weight)`` returns a scalar penalty tensor."""

    def __call__(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x: Tensor) -> Tensor:
        penalty = None
        if self.l1:
            penalty = x.abs().sum() * self.l1
        if self.l2:
            term = (x * x).sum() * self.l2
            penalty = term if penalty is None else penalty + term
        return penalty if penalty is not None else (x * 0.0).sum()

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|x|)`` (default 0.01)."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(x**2)`` (default 0.01)."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


def l1(l1: float = 0.01) -> L1:  # noqa: D103 - Keras's alias
    return L1(l1)


def l2(l2: float = 0.01) -> L2:  # noqa: D103
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Both penalties; Keras's function form defaults both to 0.01."""
    return L1L2(l1=l1, l2=l2)


_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier: Any) -> Regularizer | None:
    """A regularizer from ``None``, a name (``'l2'``), a config dict, an instance or a callable."""
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        makers = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01), **_CLASSES}
        if identifier not in makers:
            raise ValueError(f"Unknown regularizer {identifier!r}; use 'l1', 'l2' or 'l1_l2'")
        return makers[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    raise TypeError(f"regularizer must be a name, a Regularizer or a callable, got {identifier!r}")


def serialize(regularizer: Any) -> Any:
    if regularizer is None:
        return None
    if isinstance(regularizer, Regularizer):
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    raise ValueError(f"can't serialize the regularizer {regularizer!r}; subclass "
                     "keras.regularizers.Regularizer and implement get_config")


__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize"]

"""How an op file plugs in: its Tensor methods and its declared test cases.

``@tensor_method`` makes a function also a method (``deepgrad.exp(x)`` and
``x.exp()`` are one function). ``declare(OpCase(...))`` lists, next to the op,
the inputs to test it on and a NumPy reference; ``tests/test_ops.py`` runs every
declared case through the forward check, gradcheck, gradgradcheck and, when
PyTorch is installed, a comparison with PyTorch. Adding an op is a change to
one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from deepgrad.tensor import Tensor


def tensor_method(*names: str) -> Callable:
    """Attach the decorated function to Tensor under its own name (or ``names``)."""

    def attach(fn: Callable) -> Callable:
        for name in names or (fn.__name__,):
            setattr(Tensor, name, fn)
        return fn

    return attach


@dataclass(frozen=True)
class Arg:
    """One input of a test case: its shape, value range and kind."""

    shape: tuple[int, ...]
    low: float = -2.0
    high: float = 2.0
    kind: str = "float"  # "float" (differentiable), "int" or "bool" (constants)


@dataclass
class OpCase:
    """A declared test of one op.

    ``fn`` takes tensors and is called with deepgrad tensors and, unchanged,
    with torch tensors (PyTorch has the same names), unless ``torch_fn`` says
    otherwise. ``ref`` takes NumPy arrays and gives the expected forward result.
    """

    name: str
    fn: Callable[..., Any]
    args: Sequence[Any]
    ref: Callable[..., Any] | None = None
    torch_fn: Callable[..., Any] | None = None
    low: float = -2.0
    high: float = 2.0
    grad: bool = True
    gradgrad: bool = True
    torch: bool = True
    atol: float = 1e-5
    rtol: float = 1e-3
    label: str = ""
    specs: tuple[Arg, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.specs = tuple(
            a if isinstance(a, Arg) else Arg(tuple(a), self.low, self.high) for a in self.args
        )

    @property
    def id(self) -> str:
        shapes = ",".join("x".join(map(str, s.shape)) or "scalar" for s in self.specs)
        return f"{self.name}[{self.label or shapes}]"


CASES: list[OpCase] = []


def declare(*cases: OpCase) -> None:
    CASES.extend(cases)

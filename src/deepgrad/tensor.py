"""``Tensor``: an n-dimensional array that remembers how it was computed.

A tensor holds a backend array (``tensor.array``, shared, never copied) and,
when it requires grad, the graph node that made it (``grad_fn``). The ops in
``deepgrad.ops`` attach themselves as methods (``x.exp()``, ``x + y``), so this
file holds only what every tensor is: its storage, its place in the graph and
the conversions in and out.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from deepgrad import dtypes
from deepgrad.backend import ndarray, to_host, xp


class Tensor:
    """An n-d array with reverse-mode automatic differentiation.

    Create tensors with ``deepgrad.tensor(data)``, ``deepgrad.zeros(shape)`` and
    friends; ``Tensor(array)`` wraps a backend array as it is.
    """

    __slots__ = (
        "array",          # the backend ndarray
        "requires_grad",  # whether backward computes a gradient for this tensor
        "grad",           # the accumulated gradient (a Tensor) of a leaf, or None
        "grad_fn",        # the Context node that made this tensor, None for leaves
        "_output_index",  # which output of grad_fn this tensor is
        "_version",       # [count] of in-place changes, shared with views
        "_hooks",         # gradient hooks of a leaf
        "__weakref__",
    )

    def __init__(self, array: Any, requires_grad: bool = False) -> None:
        self.array = array
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.grad_fn = None
        self._output_index = 0
        self._version = [0]
        self._hooks: list | None = None

    # --- what it is -------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy_dtype(self.array.dtype)

    @property
    def device(self) -> str:
        return "cpu" if xp.__name__ == "numpy" else "cuda"

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def size(self, dim: int | None = None) -> Any:
        return self.array.shape if dim is None else self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def element_size(self) -> int:
        return self.array.itemsize

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    # NumPy must hand mixed expressions (array @ tensor, array + tensor) to our
    # reflected operators instead of computing a plain array itself.
    __array_ufunc__ = None

    __hash__ = object.__hash__  # ops define == elementwise, so identity hashing is kept here

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.array.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.array)

    # --- conversions ------------------------------------------------------
    def numpy(self) -> Any:
        """The data as a NumPy array, sharing memory (no gradient flows through it)."""
        if self.requires_grad:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; "
                "use tensor.detach().numpy()"
            )
        return to_host(self.array)

    def item(self) -> Any:
        if self.array.size != 1:
            raise ValueError(
                f"item(): only a tensor with one element can be converted to a Python scalar, "
                f"this one has shape {tuple(self.shape)}"
            )
        return self.array.item()

    def tolist(self) -> Any:
        return to_host(self.array).tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        array = to_host(self.array)
        return array if dtype is None else array.astype(dtype, copy=False)

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> Any:
        return self.array.__dlpack_device__()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    # --- autograd ---------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """The same storage as a tensor outside the graph (PyTorch's ``.data``)."""
        return Tensor(self.array)

    @data.setter
    def data(self, value: Tensor) -> None:
        self.array = value.array if isinstance(value, Tensor) else xp.asarray(value)

    def detach(self) -> Tensor:
        """The same storage, cut from the graph; shares the in-place version counter."""
        out = Tensor(self.array)
        out._version = self._version
        return out

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad_: only floating point tensors can require gradients, "
                f"this one is {self.dtype}; convert it first with .float()"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad_(False) on a non-leaf tensor: use detach() to cut it from the graph"
            )
        self.requires_grad = requires_grad
        return self

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (the chain rule)."""
        from deepgrad.autograd import backward

        backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Any:
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        from deepgrad.autograd.function import _HookHandle

        if not self.requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad, so it never gets one")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            return _HookHandle(self._hooks, hook)
        return self.grad_fn.register_hook(self._output_index, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` of a non-leaf tensor after backward."""
        import weakref

        if self.grad_fn is None:
            return
        ref = weakref.ref(self)

        def keep(grad: Tensor) -> None:
            t = ref()
            if t is not None:  # a copy: the same gradient flows on and may become a leaf's .grad
                t.grad = grad.clone() if t.grad is None else t.grad + grad

        self.grad_fn.register_hook(self._output_index, keep)

    def _replace_inplace(self, result: Tensor, op: str) -> Tensor:
        """Make this tensor hold ``result``: the shared step of every in-place op.

        The values are written into the existing storage (so views see them) and
        the tensor takes ``result``'s place in the graph.
        """
        if self.requires_grad and self.grad_fn is None and is_grad_enabled():
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad can't be changed in place, because "
                "its gradient would be wrong. Wrap the update in `with deepgrad.no_grad():` "
                "(as optimizers do), or use the out-of-place op."
            )
        check_inplace_dtype(op, result.array.dtype, self.array.dtype)
        self.array[...] = result.array
        self._version[0] += 1
        if result.grad_fn is not None:
            self.grad_fn = result.grad_fn
            self._output_index = result._output_index
            self.requires_grad = True
        elif self.grad_fn is not None:  # overwritten by constants: no gradient flows back
            self.grad_fn = None
            self.requires_grad = False
        return self

    def _snapshot(self) -> Tensor:
        """This tensor's current value and place in the graph, in storage of its own.

        An in-place op computes its result from the snapshot, so what its backward
        saves is the value before the change (PyTorch saves a clone of the original
        self for the same reason)."""
        copy = Tensor(self.array.copy(), self.requires_grad)
        copy.grad_fn = self.grad_fn
        copy._output_index = self._output_index
        return copy

    def _bump_version(self) -> Tensor:
        self._version[0] += 1
        return self

    # --- printing ---------------------------------------------------------
    def __repr__(self) -> str:
        body = _format_array(to_host(self.array))
        extras = []
        if self.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"


def check_inplace_dtype(op: str, result: Any, target: Any) -> None:
    """PyTorch refuses an in-place op whose result can't be stored in the tensor's dtype."""
    if xp.can_cast(result, target, casting="same_kind"):
        return
    raise RuntimeError(
        f"{op}: the result has dtype {dtypes.from_numpy_dtype(result)}, which can't be cast to "
        f"the tensor's dtype {dtypes.from_numpy_dtype(target)}; convert the tensor first "
        "(e.g. x = x.float())"
    )


def _format_array(a: Any) -> str:
    """PyTorch's layout: 4 decimals, '1.' for whole floats, scientific for wide ranges."""
    import numpy as np

    options: dict[str, Any] = {"precision": 4, "floatmode": "fixed"}
    if a.dtype.kind == "f":
        finite = a[np.isfinite(a)].astype(np.float64)
        nonzero = np.abs(finite[finite != 0])
        wide = nonzero.size and (nonzero.max() / nonzero.min() > 1000 or nonzero.max() > 1e8)
        if finite.size and np.all(finite == np.round(finite)) and not wide:
            # Whole numbers print as '1.', padded to the widest finite one (not to 'nan').
            width = max(len(f"{v:.0f}.") for v in (finite.min(), finite.max()))
            options["formatter"] = {
                "float_kind": lambda v: f"{v:.0f}.".rjust(width) if np.isfinite(v) else str(v)
            }
    text = np.array2string(a, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3,
                           **options)
    return text.replace(", ...,", ",  ...,")


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def value_of(x: Any) -> Any:
    """The backend array of a tensor, or a Python scalar as it is: how ops read operands."""
    return x.array if isinstance(x, Tensor) else x


# Imported last: the autograd package imports this module for ``Tensor``.
from deepgrad.autograd.grad_mode import is_grad_enabled  # noqa: E402

__all__ = ["Tensor", "is_tensor", "value_of", "ndarray"]

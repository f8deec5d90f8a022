"""``Function``: an op's forward and backward side by side, as in PyTorch.

Every differentiable op in deepgrad is a ``Function`` subclass::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = xp.exp(x.array)
            ctx.save_for_backward(y)      # an output: backward gets it as a tensor
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

``forward`` receives the call's arguments (tensors stay tensors) and returns
backend arrays or tensors; ``Function.apply`` wraps them into new tensors and,
when an input requires grad, records a ``Context`` node in the graph.
``backward`` receives one gradient tensor per output and returns one gradient per
forward argument (``None`` where there is none). Because backward is written with
tensor ops, running it with grad mode on records a graph of the backward pass:
that is all ``create_graph=True`` (higher-order gradients) needs.
"""

from __future__ import annotations

from typing import Any, Callable

from deepgrad.autograd.grad_mode import _state, is_grad_enabled
from deepgrad.backend import ndarray, xp
from deepgrad.tensor import Tensor

_NO_GRAD_NEEDED = [(False,) * n for n in range(64)]

# What a saved entry is: an input tensor, one of the op's outputs, or a constant.
_INPUT, _OUTPUT, _CONSTANT = 0, 1, 2


class Context:
    """What forward leaves for backward; the node of the graph (``tensor.grad_fn``)."""

    # Defaults as class attributes: a Context is made for every op call, so its
    # __init__ sets only what differs per call.
    _to_save: tuple = ()
    _saved: tuple | None = ()
    _non_differentiable: tuple = ()
    materialize_grads = True

    def __init__(self, fn: type[Function], needs_input_grad: tuple[bool, ...]) -> None:
        self._fn = fn
        self.needs_input_grad = needs_input_grad

    # --- used in forward --------------------------------------------------
    def save_for_backward(self, *items: Any) -> None:
        """Keep inputs, outputs or constant arrays for backward.

        Inputs and outputs come back as tensors that are part of the graph, so
        backward stays differentiable. Anything else comes back as a constant:
        save only values whose derivative is not needed (masks, indices).
        """
        self._to_save = items

    def mark_non_differentiable(self, *outputs: Any) -> None:
        self._non_differentiable = outputs

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None (not zeros) for outputs without a gradient."""
        self.materialize_grads = value

    # --- used in backward -------------------------------------------------
    @property
    def saved_tensors(self) -> tuple:
        if self._saved is None:
            raise RuntimeError(
                f"{self.name()}: trying to backward through the graph a second time, or to read "
                "saved tensors after they were freed. Pass retain_graph=True to the first "
                "backward() (or autograd.grad()) if you need to backward through it again."
            )
        result = []
        for position, (kind, value, version_box, version) in enumerate(self._saved):
            if version_box is not None and version_box[0] != version:
                shape = value[1].shape if kind == _OUTPUT else value.shape
                raise RuntimeError(
                    f"{self.name()}: one of the tensors it saved for backward (saved tensor "
                    f"{position}, shape {tuple(shape)}) was modified by an in-place "
                    f"operation: it is at version {version_box[0]}, expected version {version}. "
                    "Use the out-of-place op (e.g. x = x + 1 instead of x.add_(1)) or clone() "
                    "the tensor before changing it."
                )
            if kind == _INPUT or kind == _CONSTANT:
                result.append(value)
            else:  # an output: rebuilt so that a graph of the backward pass reaches this node
                index, array = value
                out = Tensor(array)
                out._version = version_box
                if is_grad_enabled():
                    out.requires_grad = True
                    out.grad_fn = self
                    out._output_index = index
                result.append(out)
        return tuple(result)

    # --- inspection -------------------------------------------------------
    def name(self) -> str:
        return self._fn.__name__ + "Backward"

    @property
    def next_functions(self) -> tuple:
        """The nodes backward sends gradients to: (node, output index), or (leaf tensor, None)."""
        return tuple(e if e is not None else (None, 0) for e in self.next_edges)

    def register_hook(self, index: int, hook: Callable) -> _HookHandle:
        hooks = self.__dict__.setdefault("_tensor_hooks", {})
        return _HookHandle(hooks.setdefault(index, []), hook)

    def _release(self) -> None:
        self._saved = None

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook off again."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        hooks.append(hook)
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Function:
    """Base class of differentiable ops; subclass it for a custom op (see module docs)."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a Function subclass must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx: Context, *grad_outputs: Any) -> Any:
        raise NotImplementedError("a Function subclass must implement backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        # Known before forward, so forward can save only what backward will use.
        state = _state
        if state.enabled:
            needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
            record = True in needs
        else:
            needs, record = _NO_GRAD_NEEDED[len(args)], False
        ctx = Context(cls, needs)
        try:
            if record:
                # A custom forward written with tensor ops must not record a graph itself.
                state.enabled = False
                try:
                    raw = cls.forward(ctx, *args, **kwargs)
                finally:
                    state.enabled = True
            else:
                raw = cls.forward(ctx, *args, **kwargs)
        except ValueError as error:
            if "broadcast" not in str(error):
                raise
            raise RuntimeError(
                f"{cls.__name__.lower()}: {error}. Shapes broadcast when, counting from the "
                "last dimension, each pair of sizes is equal or one of them is 1."
            ) from None

        if type(raw) is not tuple:
            out = _wrap_output(raw, args)
            if record:
                _connect(ctx, args, (raw,), (out,))
            return out
        outputs = tuple(_wrap_output(r, args) for r in raw)
        if record:
            _connect(ctx, args, raw, outputs)
        return outputs


def _wrap_output(raw: Any, args: tuple) -> Any:
    """A new tensor for what forward returned; views share their base's version counter."""
    if type(raw) is ndarray:
        array = raw
    elif raw is None:
        return None
    else:
        array = raw.array if isinstance(raw, Tensor) else xp.asarray(raw)
    out = Tensor(array)
    base = array.base
    if base is not None:
        for a in args:
            if isinstance(a, Tensor) and (base is a.array or base is a.array.base):
                out._version = a._version
                break
    return out


def _connect(ctx: Context, args: tuple, raws: tuple, outputs: tuple) -> None:
    """Record ctx as the node that made ``outputs``, with edges to its inputs."""
    # An edge per argument: (node, output index), (leaf, None) for a leaf, whose gradient
    # accumulates in its .grad, or None where no gradient is needed.
    ctx.next_edges = tuple([
        None if not need else (a, None) if a.grad_fn is None else (a.grad_fn, a._output_index)
        for a, need in zip(args, ctx.needs_input_grad)
    ])
    ctx.output_meta = tuple([None if o is None else (o.array.shape, o.array.dtype)
                             for o in outputs])

    non_diff = ctx._non_differentiable
    for i, (raw, out) in enumerate(zip(raws, outputs)):
        if out is None or out.array.dtype.kind != "f":
            continue
        if non_diff and any(raw is n for n in non_diff):
            continue
        out.requires_grad = True
        out.grad_fn = ctx
        out._output_index = i

    if ctx._to_save:
        ctx._saved = tuple([_saved_entry(item, args, raws, outputs) for item in ctx._to_save])
        del ctx._to_save  # back to the class default, ()


def _saved_entry(item: Any, args: tuple, raws: tuple, outputs: tuple) -> tuple:
    for i, raw in enumerate(raws):
        if item is raw and outputs[i].requires_grad:
            out = outputs[i]
            return (_OUTPUT, (i, out.array), out._version, out._version[0])
    if isinstance(item, Tensor):
        for a in args:
            if item is a:
                return (_INPUT, item, item._version, item._version[0])
        return (_CONSTANT, item.detach(), item._version, item._version[0])
    if item is None or isinstance(item, (int, float, bool, complex)):
        return (_CONSTANT, item, None, 0)  # Python scalars come back as they are
    return (_CONSTANT, Tensor(xp.asarray(item)), None, 0)


class _ZeroDerivative(Function):
    """``grad`` unchanged, recorded as a function of ``anchors`` whose derivative is zero."""

    @staticmethod
    def forward(ctx, grad, *anchors):
        ctx.anchors = [(a.shape, a.array.dtype) for a in anchors]
        return grad.array

    @staticmethod
    def backward(ctx, grad):
        zeros = (Tensor(xp.zeros(shape, dtype=dtype)) for shape, dtype in ctx.anchors)
        return (grad, *zeros)


def depends_on(grad: Tensor, *tensors: Tensor) -> Tensor:
    """``grad``, made part of the graph of ``tensors`` with a zero derivative (create_graph only).

    Some backward results do not vary with the tensors the op saved, though they are
    computed from them: ReLU's and max-pool's masks, a conv's bias gradient. PyTorch
    still records them as functions of those tensors, so differentiating them again
    gives zeros (not a "does not require grad" error); a backward calls this to do the same.
    """
    if not _state.enabled or grad.requires_grad:
        return grad
    anchors = [t for t in tensors if isinstance(t, Tensor) and t.requires_grad]
    return _ZeroDerivative.apply(grad, *anchors) if anchors else grad

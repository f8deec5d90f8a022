"""``Layer``, ``KerasTensor`` and ``Input``: Keras's layer protocol on deepgrad modules.

A Keras layer is a ``deepgrad.nn.Module`` that knows only its hyperparameters
(``Dense(64)``) until it first sees an input: ``build(input_shape)`` then
creates its weights with ``add_weight`` (Keras's layouts and initializers).
Calling a layer on a ``Tensor`` (or a NumPy array) computes; calling it on a
symbolic ``KerasTensor`` (what ``Input`` returns) records a ``Node`` of the
functional graph and returns KerasTensors of the output's shape, which
``Model(inputs, outputs)`` later replays.

The ``training`` flag of ``model(x, training=True)`` reaches every layer
inside (for Dropout, BatchNormalization) through a call context, as in Keras.
"""

from __future__ import annotations

import inspect
from typing import Any

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.backend import ndarray, to_host, xp
from deepgrad.keras import backend as K
from deepgrad.keras import constraints as _constraints
from deepgrad.keras import initializers as _initializers
from deepgrad.keras import regularizers as _regularizers
from deepgrad.keras.layers.tree import any_leaf, flatten, map_structure
from deepgrad.nn.modules.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.tensor import Tensor

# The ``training`` flag of the call in progress (None outside any call that set it).
_CONTEXT: list[Any] = [None]
# Losses added during forward passes (``add_loss``, activity regularizers) since the last reset.
ADDED_LOSSES: list[Tensor] = []
# While True (a subclassed model's build), layers remember their output shapes for summary().
RECORD_SHAPES: list[bool] = [False]


class KerasTensor:
    """A symbolic tensor: a shape (``None`` for unknown sizes) and a dtype, and the layer
    call that produced it. Layers called on KerasTensors build the functional graph."""

    __slots__ = ("shape", "dtype", "name", "_keras_history")

    def __init__(self, shape: Any, dtype: str = "float32", name: str | None = None) -> None:
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = str(dtype)
        self.name = name or K.unique_name("keras_tensor")
        self._keras_history: tuple[Layer, int, int] | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse=False, "
                f"name={self.name}>")

    def __bool__(self) -> bool:
        raise TypeError("A KerasTensor is symbolic: it has no value to test. Use it as an input "
                        "to layers; to branch on data, write a custom Layer.")

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("A KerasTensor is symbolic (it only records a layer graph) and cannot be "
                        "converted to an array; call the model on real data instead.")


def _is_keras_tensor(x: Any) -> bool:
    return type(x) is KerasTensor


def _is_symbolic(args: tuple, kwargs: dict) -> bool:
    for a in args:
        if type(a) is KerasTensor or (type(a) in (list, tuple, dict) and any_leaf(_is_keras_tensor, a)):
            return True
    for a in kwargs.values():
        if type(a) is KerasTensor or (type(a) in (list, tuple, dict) and any_leaf(_is_keras_tensor, a)):
            return True
    return False


def shape_of(x: Any) -> Any:
    """The shape structure of an input structure (tensors, arrays or KerasTensors)."""
    return map_structure(lambda t: tuple(t.shape) if hasattr(t, "shape") else None, x)


def is_shape(value: Any) -> bool:
    """Whether ``value`` is one shape (a tuple of ints/None), not a structure of shapes."""
    return isinstance(value, (tuple, list)) and all(v is None or isinstance(v, int) for v in value)


def to_tensor(x: Any, floatx: str | None = None) -> Any:
    """Arrays (and nested lists of them) as deepgrad tensors; tensors unchanged.

    Float arrays take ``floatx`` (a layer's dtype), else float64 ones take ``K.floatx()``.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, ndarray) or hasattr(x, "__array__"):
        array = xp.asarray(x)
        if floatx is not None and array.dtype.kind == "f":
            array = array.astype(floatx, copy=False)
        elif array.dtype == xp.float64 and K.floatx() != "float64":
            array = array.astype(K.floatx())
        return Tensor(array)
    if isinstance(x, (list, tuple, dict)):
        return map_structure(lambda leaf: to_tensor(leaf, floatx), x)
    return x


class Node:
    """One call of a layer on symbolic inputs: its arguments and the KerasTensors it made."""

    __slots__ = ("layer", "args", "kwargs", "outputs", "input_tensors", "output_tensors", "index")

    def __init__(self, layer: Layer, args: tuple, kwargs: dict, outputs: Any) -> None:
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in flatten([list(args), kwargs]) if type(t) is KerasTensor]
        self.output_tensors = flatten(outputs)
        self.index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, t in enumerate(self.output_tensors):
            t._keras_history = (layer, self.index, i)

    @property
    def parent_nodes(self) -> list[Node]:
        nodes = []
        for t in self.input_tensors:
            layer, index, _ = t._keras_history
            nodes.append(layer._inbound_nodes[index])
        return nodes


def _accepts(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


_BASE_KWARGS = {"name", "dtype", "trainable", "input_shape", "batch_input_shape", "batch_size",
                "input_dim", "autocast", "activity_regularizer", "weights", "dynamic"}


class Layer(Module):
    """Base class of Keras layers: lazy ``build``, ``add_weight``, ``call`` and configs.

    Subclass it as in Keras: create weights in ``build(input_shape)`` with
    ``self.add_weight(shape, initializer, ...)``, compute in
    ``call(inputs, training=None)``, and list constructor arguments in
    ``get_config`` so that models holding the layer can be saved and reloaded.
    """

    _keeps_dtype = False  # output dtype = input dtype (shape-only layers)
    _takes_training = False  # whether call() has a ``training`` argument (set per subclass)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._takes_training = _accepts(cls.call, "training")

    def __init__(self, trainable: bool = True, name: str | None = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        unknown = set(kwargs) - _BASE_KWARGS
        if unknown:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword argument(s) "
                            f"{sorted(unknown)}")
        Module.__init__(self)
        d = self.__dict__
        d["name"] = name or K.unique_name(K.to_snake_case(type(self).__name__))
        d["built"] = False
        d["_trainable"] = bool(trainable)
        d["_dtype"] = K.floatx() if dtype is None else str(getattr(dtype, "name", dtype))
        d["_own_weights"] = []   # [(attribute name, trainable)] in creation order
        d["_regularizers"] = []  # [(attribute name, regularizer)]
        d["_constraints"] = []   # [(attribute name, constraint)]
        d["_inbound_nodes"] = []
        d["_build_shape"] = None
        d["activity_regularizer"] = _regularizers.get(kwargs.get("activity_regularizer"))
        shape = kwargs.get("batch_input_shape")
        if shape is None and kwargs.get("input_shape") is not None:
            shape = (kwargs.get("batch_size"), *tuple(kwargs["input_shape"]))
        if shape is None and kwargs.get("input_dim") is not None:
            shape = (kwargs.get("batch_size"), int(kwargs["input_dim"]))
        d["_batch_input_shape"] = None if shape is None else tuple(shape)

    # --- properties -----------------------------------------------------------------
    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.__dict__["_trainable"] = bool(value)
        for name, is_trainable in self._own_weights:
            if is_trainable:
                self._parameters[name].requires_grad = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    def _sublayers(self) -> list[Layer]:
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    @property
    def weights(self) -> list[Tensor]:
        """Own trainable weights, own non-trainable weights, then sublayers' (Keras's order)."""
        return [t for _, t in self._weight_items()]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The weights the optimizer updates (Keras's order: own first, then sublayers')."""
        return [t for _, t in self._weight_items() if isinstance(t, Parameter) and t.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        return [t for _, t in self._weight_items() if not (isinstance(t, Parameter) and t.requires_grad)]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def variables(self) -> list[Tensor]:
        return self.weights

    def _own_tensor(self, name: str) -> Tensor:
        return self._parameters[name] if name in self._parameters else self._buffers[name]

    def _weight_items(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        """(path, tensor) of every weight in Keras's order (own trainable, own non-trainable,
        then each sublayer's under ``<attribute>/``); paths are stable across sessions."""
        own = sorted(self._own_weights, key=lambda item: not item[1])  # trainable first
        items = [(prefix + n, self._own_tensor(n)) for n, _ in own]
        seen = {id(t) for _, t in items}
        # weights registered otherwise (``self.w = Parameter(...)``, or add_weight's tensor
        # assigned under another attribute name), each once
        for n, t in list(self._parameters.items()) + [
                (n, b) for n, b in self._buffers.items() if n not in self._non_persistent_buffers_set]:
            if t is not None and id(t) not in seen:
                seen.add(id(t))
                items.append((prefix + n, t))
        for attr, module in self._child_items():
            if isinstance(module, Layer):
                items.extend(module._weight_items(f"{prefix}{attr}/"))
            elif module is not None:  # a plain deepgrad module inside a Keras layer
                items.extend((f"{prefix}{attr}/{k}", v) for k, v in module.state_dict(keep_vars=True).items())
        return items

    def _child_items(self) -> list[tuple[str, Module]]:
        """(path name, child module) of the sublayers whose weights this layer lists."""
        return list(self._modules.items())

    @property
    def input(self) -> Any:
        """The symbolic input of the layer's first call in a functional graph."""
        node = self._first_node("input")
        return node.args[0] if len(node.args) == 1 else list(node.args)

    @property
    def output(self) -> Any:
        """The symbolic output of the layer's first call in a functional graph."""
        return self._first_node("output").outputs

    @property
    def output_shape(self) -> Any:
        return map_structure(lambda t: t.shape, self.output)

    def _first_node(self, what: str) -> Node:
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has never been called on a symbolic input "
                                 f"(keras.Input), so it has no defined {what}")
        return self._inbound_nodes[0]

    # --- weights ------------------------------------------------------------------------
    def _add_kernel_and_bias(self, kernel_shape: tuple, bias_shape: tuple) -> None:
        """``self.kernel`` and, with ``use_bias``, ``self.bias`` (else None), each with the
        layer's ``*_initializer``, ``*_regularizer`` and ``*_constraint``."""
        self.kernel = self.add_weight(kernel_shape, self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(bias_shape, self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")

    def add_weight(self, shape: Any = None, initializer: Any = None, dtype: Any = None,
                   trainable: bool = True, regularizer: Any = None, constraint: Any = None,
                   name: str | None = None, **kwargs: Any) -> Tensor:
        """Create a weight: a registered ``Parameter`` (trainable) or a buffer (not trainable).

        ``initializer`` defaults to ``'glorot_uniform'`` for floats (Keras's default).
        Returns the tensor, also reachable as ``self.<name>``.
        """
        shape = () if shape is None else tuple(int(s) for s in shape)
        dtype = self._dtype if dtype is None else str(getattr(dtype, "name", dtype))
        base = name or "variable"
        if self.__dict__.get(base, 0) is None:  # ``self.bias = None`` set before the weight exists
            del self.__dict__[base]
        name, n = base, 0
        while name in self._parameters or name in self._buffers or name in self._modules or \
                name in self.__dict__:
            n += 1
            name = f"{base}_{n}"
        init = _initializers.get("glorot_uniform" if initializer is None else initializer)
        value = init(shape, dtype)
        array = value.array if isinstance(value, Tensor) else xp.asarray(value, dtype=dtype)
        if tuple(array.shape) != shape:
            raise ValueError(f"{self.name}.add_weight({name!r}): the initializer returned shape "
                             f"{tuple(array.shape)}, expected {shape}")
        if trainable:
            tensor: Tensor = Parameter(Tensor(array), requires_grad=self._trainable)
            self.register_parameter(name, tensor)
        else:
            tensor = Tensor(array)
            self.register_buffer(name, tensor)
        self._own_weights.append((name, bool(trainable)))
        if regularizer is not None:
            self._regularizers.append((name, _regularizers.get(regularizer)))
        if constraint is not None:
            self._constraints.append((name, _constraints.get(constraint)))
        return tensor

    def get_weights(self) -> list[Any]:
        """The weights as NumPy arrays (copies), in Keras's order."""
        return [to_host(w.array).copy() for w in self.weights]

    def set_weights(self, weights: list[Any]) -> None:
        """Overwrite the weights from arrays in ``get_weights`` order and layouts."""
        items = self._weight_items()
        weights = list(weights)
        if len(weights) != len(items):
            raise ValueError(f"{self.name}.set_weights: expected {len(items)} arrays "
                             f"({[p for p, _ in items]}), got {len(weights)}")
        for (path, tensor), value in zip(items, weights):
            value = value.array if isinstance(value, Tensor) else xp.asarray(value)
            if tuple(value.shape) != tuple(tensor.shape):
                raise ValueError(f"{self.name}.set_weights: weight {path!r} has shape "
                                 f"{tuple(tensor.shape)}, the array given has shape "
                                 f"{tuple(value.shape)}")
        for (_, tensor), value in zip(items, weights):
            value = value.array if isinstance(value, Tensor) else xp.asarray(value)
            tensor.array[...] = value
            tensor._version[0] += 1

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"You tried to call count_params on layer {self.name!r}, but the "
                             "layer isn't built. Build it first (call it on data or on keras.Input).")
        return int(sum(w.array.size for w in self.weights))

    def _regularization_penalties(self) -> list[Tensor]:
        out = [reg(self._own_tensor(n)) for n, reg in self._regularizers]
        for layer in self._sublayers():
            out.extend(layer._regularization_penalties())
        return out

    def _apply_constraints(self) -> None:
        for name, constraint in self._constraints:
            t = self._own_tensor(name)
            value = constraint(t.array)
            t.array[...] = value.array if isinstance(value, Tensor) else value
            t._version[0] += 1
        for layer in self._sublayers():
            layer._apply_constraints()

    def add_loss(self, loss: Tensor) -> None:
        """Add a scalar to the loss ``fit`` minimizes (call it from ``call``)."""
        ADDED_LOSSES.append(loss)

    @property
    def losses(self) -> list[Tensor]:
        """The weight-regularization penalties of this layer and its sublayers (fresh tensors)."""
        return self._regularization_penalties()

    # --- building -----------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension included)."""

    def _build_from_args(self, args: tuple, kwargs: dict) -> None:
        shape = shape_of(args[0]) if args else shape_of(next(iter(kwargs.values())))
        self._build_shape = shape
        self.build(shape)
        self.built = True

    def _check_input_rank(self, shape: Any, ndim: int | tuple, what: str) -> None:
        ranks = (ndim,) if isinstance(ndim, int) else ndim
        if not is_shape(shape) or len(shape) not in ranks:
            raise ValueError(f"Input 0 of layer {self.name!r} ({type(self).__name__}) is "
                             f"incompatible with the layer: expected {what}, got shape "
                             f"{tuple(shape) if is_shape(shape) else shape}")

    # --- calling --------------------------------------------------------------------------
    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement call()")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _is_symbolic(args, kwargs):
            return self._symbolic_call(args, kwargs)
        # As Keras: arrays in any position become tensors (attention's value, key, masks),
        # float ones in the layer's dtype.
        floatx = self._dtype if self._dtype in ("float16", "float32", "float64") else None
        if args and not isinstance(args[0], Tensor):
            args = (to_tensor(args[0], floatx),) + args[1:]
        args = args[:1] + tuple(to_tensor(a, floatx) if isinstance(a, ndarray) else a for a in args[1:])
        for name, value in kwargs.items():
            if isinstance(value, ndarray):
                kwargs[name] = to_tensor(value, floatx)
        if not self.built:
            self._build_from_args(args, kwargs)
        training = kwargs.get("training")
        if self._takes_training:
            if training is None:
                kwargs["training"] = _CONTEXT[0]
        elif "training" in kwargs:
            del kwargs["training"]
        if training is not None and training is not _CONTEXT[0]:
            previous = _CONTEXT[0]
            _CONTEXT[0] = bool(training)
            try:
                out = self.call(*args, **kwargs)
            finally:
                _CONTEXT[0] = previous
        else:
            out = self.call(*args, **kwargs)
        if self.activity_regularizer is not None:
            for t in flatten(out):
                ADDED_LOSSES.append(self.activity_regularizer(t) * (1.0 / t.shape[0]))
        if RECORD_SHAPES[0]:
            self.__dict__["_recorded_shape"] = map_structure(
                lambda t: (None, *tuple(t.shape)[1:]) if hasattr(t, "shape") else None, out)
        return out

    def _symbolic_call(self, args: tuple, kwargs: dict) -> Any:
        if not self.built:
            self._build_from_args(args, kwargs)
        outputs = self.compute_output_spec(*args, **kwargs)
        Node(self, args, kwargs, outputs)
        return outputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape (or a structure of shapes) for ``input_shape``, ``None`` = unknown."""
        raise NotImplementedError

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        """KerasTensors describing the output of ``call`` on these symbolic arguments."""
        first = args[0] if args else next(iter(kwargs.values()))
        try:
            shapes = self.compute_output_shape(shape_of(first))
        except NotImplementedError:
            return self._spec_by_running(args, kwargs)
        dtype = flatten(first)[0].dtype if self._keeps_dtype else self._dtype
        return _map_shapes(lambda s: KerasTensor(s, dtype), shapes)

    def _spec_by_running(self, args: tuple, kwargs: dict) -> Any:
        """Output specs found by calling the layer on zeros (unknown sizes as 1), in inference mode."""

        def dummy(t: Any) -> Any:
            if type(t) is not KerasTensor:
                return t
            return Tensor(xp.zeros(tuple(1 if s is None else s for s in t.shape), dtype=t.dtype))

        first = flatten(args[0] if args else list(kwargs.values()))[0]
        batch_unknown = first.shape[0] is None if first.shape else False
        previous = _CONTEXT[0]
        _CONTEXT[0] = False
        try:
            with no_grad():
                out = self.call(*map_structure(dummy, args), **map_structure(dummy, kwargs))
        finally:
            _CONTEXT[0] = previous
        del ADDED_LOSSES[:]

        def spec(t: Any) -> KerasTensor:
            shape = tuple(t.shape)
            if batch_unknown and shape:
                shape = (None, *shape[1:])
            return KerasTensor(shape, str(t.array.dtype))

        return map_structure(spec, out)

    # --- configs -------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able) that ``from_config`` rebuilds the layer from."""
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable, "dtype": self._dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = _regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def get_build_config(self) -> dict[str, Any] | None:
        if self._build_shape is None:
            return None
        return {"input_shape": _jsonable_shape(self._build_shape)}

    def build_from_config(self, config: dict[str, Any] | None) -> None:
        if config and not self.built:
            shape = _shapes_as_structure(config["input_shape"])
            self._build_shape = shape
            self.build(shape)
            self.built = True

    def extra_repr(self) -> str:
        return f"name={self.name!r}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _jsonable_shape(shape: Any) -> Any:
    if is_shape(shape):
        return list(shape)
    if isinstance(shape, dict):
        return {k: _jsonable_shape(v) for k, v in shape.items()}
    return [_jsonable_shape(s) for s in shape]


def _map_shapes(fn: Any, shapes: Any) -> Any:
    """``fn`` applied to each shape of a shape or a (nested) list/dict of shapes."""
    if is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    return [_map_shapes(fn, s) for s in shapes]


def _shapes_as_structure(shapes: Any) -> Any:
    """JSON lists back to shape tuples (a shape, or a list of shapes)."""
    if is_shape(shapes):
        return tuple(shapes)
    if isinstance(shapes, dict):
        return {k: _shapes_as_structure(v) for k, v in shapes.items()}
    return [_shapes_as_structure(s) for s in shapes]


__all__ = ["Layer", "KerasTensor", "Node"]

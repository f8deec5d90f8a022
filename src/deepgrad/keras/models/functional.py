"""``Functional``: the model ``Model(inputs, outputs)`` makes from a graph of layer calls.

Layers called on KerasTensors recorded ``Node``s; the model walks back from its
outputs to its inputs, orders the nodes so that each runs after the nodes it
reads from, and replays them on real tensors. Shared layers (one layer called
at several places), several inputs and several outputs (lists or dicts) work
as in Keras.
"""

from __future__ import annotations

from typing import Any

from deepgrad.keras import backend as K
from deepgrad.keras.layers.base import KerasTensor, Layer, Node
from deepgrad.keras.layers.input_layer import InputLayer
from deepgrad.keras.layers.tree import flatten, map_structure, pack_like
from deepgrad.keras.models.model import Model
from deepgrad.tensor import Tensor


def _check_structure(value: Any, what: str) -> None:
    for t in flatten(value):
        if type(t) is not KerasTensor:
            raise TypeError(f"Model: all {what} must be KerasTensors (from keras.Input and layer "
                            f"calls on them), got {type(t).__name__}")


def _node_of(t: KerasTensor) -> Node:
    layer, index, _ = t._keras_history
    return layer._inbound_nodes[index]


def _topological(outputs: list[KerasTensor]) -> list[Node]:
    """The nodes the outputs depend on, each after the nodes it reads from."""
    order: list[Node] = []
    done: set[int] = set()
    for out in outputs:
        stack: list[tuple[Node, bool]] = [(_node_of(out), False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                continue
            stack.append((node, True))
            for t in reversed(node.input_tensors):
                parent = _node_of(t)
                if id(parent) not in done:
                    stack.append((parent, False))
    return order


class Functional(Model):
    """A model defined by its inputs and outputs: ``Model(inputs, outputs, name=None)``."""

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(name=name or K.unique_name("functional"), trainable=trainable, **kwargs)
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(outputs, tuple):
            outputs = list(outputs)
        _check_structure(inputs, "inputs")
        _check_structure(outputs, "outputs")
        flat_inputs, flat_outputs = flatten(inputs), flatten(outputs)
        for t in flat_inputs:
            if not isinstance(t._keras_history[0], InputLayer):
                raise ValueError(f"Model: inputs must come straight from keras.Input(); {t.name} "
                                 f"was made by layer {t._keras_history[0].name!r}")
        nodes = _topological(flat_outputs)
        known = {id(t) for t in flat_inputs}
        seen: list[str] = []
        for node in nodes:
            if isinstance(node.layer, InputLayer):
                if id(node.output_tensors[0]) not in known:
                    raise ValueError(
                        f"Graph disconnected: cannot obtain value for tensor {node.outputs!r} at "
                        f"layer {node.layer.name!r}. It is an Input that is not among the model's "
                        f"inputs; the following previous layers were accessed without issue: {seen}")
            seen.append(node.layer.name)
        self.__dict__["_inputs_struct"] = inputs
        self.__dict__["_outputs_struct"] = outputs
        self.__dict__["_flat_inputs"] = flat_inputs
        self.__dict__["_flat_outputs"] = flat_outputs
        self.__dict__["_nodes"] = [n for n in nodes if not isinstance(n.layer, InputLayer)]
        layers: list[Layer] = [t._keras_history[0] for t in flat_inputs]
        for node in self._nodes:
            if node.layer not in layers:
                layers.append(node.layer)
        names = {}
        for layer in layers:
            if layer.name in names:
                raise ValueError(f"Model: all layer names should be unique; {layer.name!r} is used "
                                 "by two layers (pass distinct name= arguments)")
            names[layer.name] = layer
            self.add_module(layer.name, layer)
        self.__dict__["_plan"] = [self._compile_node(n) for n in self._nodes]
        self.built = True

    @staticmethod
    def _compile_node(node: Node) -> tuple:
        """(layer, fast input id or None, args, kwargs, output ids) for replaying the node."""
        simple = (len(node.args) == 1 and type(node.args[0]) is KerasTensor and
                  not any(type(t) is KerasTensor for t in flatten(list(node.kwargs.values()))))
        out_ids = [id(t) for t in node.output_tensors]
        return (node.layer, id(node.args[0]) if simple else None, node.args, node.kwargs, out_ids,
                len(node.output_tensors) == 1 and type(node.outputs) is KerasTensor)

    # --- structure ---------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._flat_inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._flat_outputs)

    @property
    def input(self) -> Any:
        return self._inputs_struct

    @property
    def output(self) -> Any:
        return self._outputs_struct

    @property
    def input_names(self) -> list[str]:
        return [t._keras_history[0].name for t in self._flat_inputs]

    @property
    def output_names(self) -> list[str]:
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_struct)
        return [t._keras_history[0].name for t in self._flat_outputs]

    @property
    def input_shape(self) -> Any:
        shapes = [t.shape for t in self._flat_inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        shapes = [t.shape for t in self._flat_outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _child_items(self) -> list[tuple[str, Any]]:
        """Weight paths named as Keras names them in files: class name and a counter, in layer
        order, so they do not depend on the names the session handed out."""
        counts: dict[str, int] = {}
        items = []
        for layer in self.layers:
            base = K.to_snake_case(type(layer).__name__)
            n = counts.get(base, 0)
            counts[base] = n + 1
            items.append((base if n == 0 else f"{base}_{n}", layer))
        return items

    # --- running -----------------------------------------------------------------------
    def _bind_inputs(self, inputs: Any) -> list[Any]:
        flat_kt = self._flat_inputs
        if isinstance(inputs, dict):
            by_name = {t._keras_history[0].name: t for t in flat_kt}
            if isinstance(self._inputs_struct, dict):
                by_name.update(self._inputs_struct)
            missing = [n for n in by_name if n not in inputs]
            if missing and len(inputs) != len(flat_kt):
                raise ValueError(f"Model {self.name!r}: missing inputs {missing} (got keys {sorted(inputs)})")
            values = [inputs[n] if n in inputs else None for n in by_name]
            if any(v is None for v in values):
                raise ValueError(f"Model {self.name!r}: missing inputs {missing}")
            keys = list(by_name)
            order = {id(by_name[k]): inputs[k] for k in keys}
            return [order[id(t)] for t in flat_kt]
        flat = flatten(inputs)
        if len(flat) != len(flat_kt):
            raise ValueError(f"Model {self.name!r} expects {len(flat_kt)} input(s) "
                             f"({self.input_names}), got {len(flat)}")
        return flat

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        values: dict[int, Any] = {}
        for kt, value in zip(self._flat_inputs, self._bind_inputs(inputs)):
            if not isinstance(value, Tensor):
                from deepgrad.keras.layers.base import to_tensor

                value = to_tensor(value)
            shape = value.shape
            expected = kt.shape
            if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
                raise ValueError(f"Input {kt._keras_history[0].name!r} of model {self.name!r} "
                                 f"expects shape {expected}, got {tuple(shape)}")
            if str(value.array.dtype) != kt.dtype and not value.requires_grad:
                value = Tensor(value.array.astype(kt.dtype))
            values[id(kt)] = value
        for layer, fast, args, kwargs, out_ids, single in self._plan:
            if fast is not None:
                out = layer(values[fast], **kwargs)
            else:
                def get(t: Any) -> Any:
                    return values[id(t)] if type(t) is KerasTensor else t

                out = layer(*map_structure(get, list(args)), **map_structure(get, kwargs))
            if single:
                values[out_ids[0]] = out
            else:
                for i, o in zip(out_ids, flatten(out)):
                    values[i] = o
        outs = [values[id(t)] for t in self._flat_outputs]
        if type(self._outputs_struct) is KerasTensor:
            return outs[0]
        return pack_like(self._outputs_struct, outs)

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        return map_structure(lambda t: KerasTensor(t.shape, t.dtype), self._outputs_struct)

    def build(self, input_shape: Any = None) -> None:
        self.built = True

    # --- configs -----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        from deepgrad.keras.saving import serialize_layer

        node_index: dict[int, tuple[str, int]] = {}
        layer_configs = []
        for layer in self.layers:
            mine = [n for n in layer._inbound_nodes if id(n) in {id(m) for m in self._nodes}] \
                if not isinstance(layer, InputLayer) else layer._inbound_nodes[:1]
            for i, node in enumerate(mine):
                node_index[id(node)] = (layer.name, i)
            layer_configs.append((layer, mine))

        def ref(t: Any) -> Any:
            if type(t) is KerasTensor:
                name, i = node_index[id(_node_of(t))]
                return {"__keras_tensor__": [name, i, t._keras_history[2]]}
            if isinstance(t, (bool, int, float, str)) or t is None:
                return t
            raise ValueError(f"Model.get_config: a layer call argument {t!r} can't be serialized")

        layers = []
        for layer, mine in layer_configs:
            entry = serialize_layer(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [] if isinstance(layer, InputLayer) else [
                {"args": map_structure(ref, list(n.args)), "kwargs": map_structure(ref, n.kwargs)}
                for n in mine]
            layers.append(entry)
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": map_structure(ref, self._inputs_struct),
                "output_layers": map_structure(ref, self._outputs_struct)}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Functional:
        from deepgrad.keras.saving import deserialize_layer

        created: dict[str, Layer] = {}
        tensors: dict[tuple, KerasTensor] = {}
        pending: list[tuple[Layer, int, dict]] = []
        for entry in config["layers"]:
            layer = deserialize_layer(entry, custom_objects)
            created[entry["name"]] = layer
            if isinstance(layer, InputLayer):
                tensors[(entry["name"], 0, 0)] = layer.output
            for i, node in enumerate(entry.get("inbound_nodes", [])):
                pending.append((layer, i, node))

        def resolve(value: Any) -> Any:
            if isinstance(value, dict) and "__keras_tensor__" in value:
                return tensors[tuple(value["__keras_tensor__"])]
            return value

        def ready(value: Any) -> bool:
            if isinstance(value, dict) and "__keras_tensor__" in value:
                return tuple(value["__keras_tensor__"]) in tensors
            if isinstance(value, dict):
                return all(ready(v) for v in value.values())
            if isinstance(value, list):
                return all(ready(v) for v in value)
            return True

        def walk(value: Any) -> Any:
            if isinstance(value, dict) and "__keras_tensor__" in value:
                return resolve(value)
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            return value

        while pending:
            progress = False
            for item in list(pending):
                layer, i, node = item
                if not ready(node):
                    continue
                out = layer(*walk(node["args"]), **walk(node["kwargs"]))
                for j, t in enumerate(flatten(out)):
                    tensors[(layer.name, i, j)] = t
                pending.remove(item)
                progress = True
            if not progress:
                raise ValueError("load: the model config's layer graph can't be rebuilt (a node "
                                 "refers to a tensor no layer produces)")
        inputs = walk(config["input_layers"])
        outputs = walk(config["output_layers"])
        return cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))


__all__ = ["Functional"]

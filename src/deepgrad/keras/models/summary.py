"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts.

    Model: "functional"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┓
    ┃ Layer (type)                         ┃ Output Shape                    ┃     Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━┩
    │ input_layer (InputLayer)             │ (None, 28, 28, 1)               │           0 │
    ├──────────────────────────────────────┼─────────────────────────────────┼─────────────┤
    │ conv2d (Conv2D)                      │ (None, 28, 28, 16)              │         160 │
    └──────────────────────────────────────┴─────────────────────────────────┴─────────────┘
     Total params: 160 (640.00 B)
     Trainable params: 160 (640.00 B)
     Non-trainable params: 0 (0.00 B)

Graphs that are not a simple chain get a fourth column, "Connected to".
"""

from __future__ import annotations

from typing import Any, Callable

from deepgrad.keras.layers.base import KerasTensor, Layer
from deepgrad.keras.layers.input_layer import InputLayer
from deepgrad.nn.parameter import Parameter


def readable_memory_size(size: float) -> str:
    """Bytes as Keras prints them: '110.75 KB' (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _shape_text(spec: Any) -> str:
    if spec is None:
        return "?"
    if type(spec) is KerasTensor:
        return str(spec.shape).replace(",)", ")")
    if isinstance(spec, tuple) and all(s is None or isinstance(s, int) for s in spec):
        return str(spec).replace(",)", ")")
    if isinstance(spec, (list, tuple)):
        return "[" + ", ".join(_shape_text(s) for s in spec) + "]"
    if isinstance(spec, dict):
        return "{" + ", ".join(f"{k}: {_shape_text(v)}" for k, v in spec.items()) + "}"
    return "?"


def _count(weights: list) -> tuple[int, int]:
    return sum(int(w.array.size) for w in weights), sum(int(w.array.nbytes) for w in weights)


def _rows(model: Any) -> tuple[list[list[str]], bool]:
    """Rows of (layer, output shape, params[, connected to]) and whether to show connections."""
    from deepgrad.keras.models.functional import Functional
    from deepgrad.keras.models.sequential import Sequential

    def params(layer: Layer) -> str:
        if not layer.built:
            return "0 (unbuilt)"
        return f"{layer.count_params():,}"

    rows: list[list[str]] = []
    if isinstance(model, Functional):
        nodes = {id(n) for n in model._nodes}
        consumers: dict[int, int] = {}
        for node in model._nodes:
            for t in node.input_tensors:
                consumers[id(t)] = consumers.get(id(t), 0) + 1
        chain = (len(model._flat_inputs) == 1 and len(model._flat_outputs) == 1 and
                 all(len(n.input_tensors) <= 1 for n in model._nodes) and
                 all(c <= 1 for c in consumers.values()) and
                 len(model._nodes) == len({id(n.layer) for n in model._nodes}))
        for layer in model.layers:
            mine = [n for n in layer._inbound_nodes if id(n) in nodes] or layer._inbound_nodes[:1]
            spec = mine[0].outputs if len(mine) == 1 else [n.outputs for n in mine]
            row = [f"{layer.name} ({type(layer).__name__})", _shape_text(spec), params(layer)]
            if not chain:
                links = []
                for node in mine:
                    for t in node.input_tensors:
                        src, index, tensor = t._keras_history
                        links.append(f"{src.name}[{index}][{tensor}]")
                row.append(", ".join(links) if links and not isinstance(layer, InputLayer) else "-")
            rows.append(row)
        return rows, not chain
    specs = model._specs if isinstance(model, Sequential) else {}
    for layer in model.layers:
        spec = specs.get(id(layer)) if specs else layer.__dict__.get("_recorded_shape")
        rows.append([f"{layer.name} ({type(layer).__name__})", _shape_text(spec), params(layer)])
    return rows, False


def print_summary(model: Any, line_length: int | None = None, positions: list | None = None,
                  print_fn: Callable[[str], Any] | None = None, show_trainable: bool = False) -> None:
    """Print (or pass to ``print_fn`` line by line) the summary table of ``model``."""
    from deepgrad.keras.models.sequential import Sequential

    if isinstance(model, Sequential) and not model.built and model.layers:
        raise ValueError(
            "This model has not yet been built. Build the model first by calling `build()` or by "
            "calling the model on a batch of data, or give it an Input: "
            "Sequential([keras.Input(shape=...), ...]).")
    rows, connected = _rows(model)
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    align = ["<", "<", ">"] + (["<"] if connected else [])
    line_length = line_length or (108 if connected else 88)
    positions = positions or ([0.3, 0.6, 0.7, 1.0] if connected else [0.45, 0.84, 1.0])
    if all(p <= 1 for p in positions):
        positions = [int(line_length * p) for p in positions]
    widths, previous = [], 0
    for p in positions:
        widths.append(max(int(p) - previous, 4))
        previous = int(p)
    for row in rows + [header]:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text) + 3)
    inner = [w - 3 for w in widths]

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w - 1) for w in widths) + right

    def cells(values: list[str], edge: str, aligns: list[str]) -> str:
        parts = [f" {v:{a}{n}} " for v, a, n in zip(values, aligns, inner)]
        return edge + edge.join(parts) + edge

    out = [f'Model: "{model.name}"', line("┏", "━", "┳", "┓"),
           cells(header, "┃", ["<", "<", ">", "<"][:len(header)]), line("┡", "━", "╇", "┩")]
    for i, row in enumerate(rows):
        if i:
            out.append(line("├", "─", "┼", "┤"))
        out.append(cells(row, "│", align))
    out.append(line("└", "─", "┴", "┘"))
    weights = model.weights
    trainable = [w for w in weights if isinstance(w, Parameter) and w.requires_grad]
    other = [w for w in weights if not (isinstance(w, Parameter) and w.requires_grad)]
    total, total_bytes = _count(weights)
    n_train, train_bytes = _count(trainable)
    n_other, other_bytes = _count(other)
    out.append(f" Total params: {total:,} ({readable_memory_size(total_bytes)})")
    out.append(f" Trainable params: {n_train:,} ({readable_memory_size(train_bytes)})")
    out.append(f" Non-trainable params: {n_other:,} ({readable_memory_size(other_bytes)})")
    emit = print_fn or print
    for text in out:
        emit(text)


__all__ = ["print_summary", "readable_memory_size"]

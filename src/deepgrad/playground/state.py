"""The playground's state: every setting of the page, parsed and validated.

The state is what a link reproduces: :meth:`PlaygroundState.to_query` writes it
as a URL query with the TensorFlow Playground's own keys (``dataset=spiral&
networkShape=4,2&learningRate=0.03&...``) plus ours (``optimizer``, ``loss``,
``dropout``, ``batchNorm``), and :func:`parse_query` / :func:`apply_changes`
read it back. Every value from the page or the URL goes through
:func:`apply_changes`, which refuses anything out of range or malformed with a
:class:`StateError` naming the field, the value received and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

__all__ = [
    "PlaygroundState", "StateError", "parse_query", "apply_changes",
    "LEARNING_RATES", "REGULARIZATION_RATES", "DROPOUT_RATES", "ACTIVATIONS", "OPTIMIZERS",
    "CLASSIFY_DATASETS", "REGRESS_DATASETS", "FEATURES", "MAX_LAYERS", "MAX_NEURONS",
]

# The playground's lists (playground.ts / index.html).
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATION_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
DROPOUT_RATES = (0.0, 0.1, 0.2, 0.3, 0.5)
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
REGULARIZATIONS = ("none", "L1", "L2")
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
LOSSES = ("mse", "softmax")
PROBLEMS = ("classification", "regression")
CLASSIFY_DATASETS = ("circle", "xor", "gauss", "spiral", "moons", "checkerboard", "csv")
REGRESS_DATASETS = ("reg-plane", "reg-gauss", "csv")
# Input features in the page's order: state key -> label.
FEATURES = {"x": "X1", "y": "X2", "xSquared": "X1^2", "ySquared": "X2^2",
            "xTimesY": "X1X2", "sinX": "sin(X1)", "sinY": "sin(X2)"}
MAX_LAYERS = 6
MAX_NEURONS = 8
MAX_SEED = 2**31 - 1


class StateError(ValueError):
    """A setting out of range or malformed; ``field`` names it (``None`` for the whole state)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class PlaygroundState:
    """All the settings of one playground session (the TensorFlow Playground's defaults)."""

    problem: str = "classification"
    dataset: str = "circle"
    regDataset: str = "reg-plane"
    noise: int = 0
    percTrainData: int = 50
    batchSize: int = 10
    seed: int = 1
    x: bool = True
    y: bool = True
    xSquared: bool = False
    ySquared: bool = False
    xTimesY: bool = False
    sinX: bool = False
    sinY: bool = False
    networkShape: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    learningRate: float = 0.03
    regularization: str = "none"
    regularizationRate: float = 0.0
    showTestData: bool = False
    discretize: bool = False
    optimizer: str = "sgd"
    loss: str = "mse"
    dropout: float = 0.0
    batchNorm: bool = False

    # --- derived -----------------------------------------------------------
    @property
    def classify(self) -> bool:
        return self.problem == "classification"

    @property
    def active_dataset(self) -> str:
        """The data set the problem uses (``dataset`` or ``regDataset``)."""
        return self.dataset if self.classify else self.regDataset

    @property
    def features(self) -> list[str]:
        """The keys of the input features switched on, in the page's order."""
        return [key for key in FEATURES if getattr(self, key)]

    @property
    def softmax(self) -> bool:
        """Softmax cross-entropy over two outputs (classification only)."""
        return self.classify and self.loss == "softmax"

    # --- serialization -----------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["networkShape"] = list(self.networkShape)
        return data

    def to_query(self) -> str:
        """The URL query that reproduces this state (every key, canonical spelling)."""
        return urlencode([(name, _format(getattr(self, name))) for name in FIELD_NAMES], safe=",")


FIELD_NAMES = tuple(f.name for f in fields(PlaygroundState))
DEFAULTS = PlaygroundState()


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):  # 0.00001, not 1e-05; 1, not 1.0
        return ("%.10f" % value).rstrip("0").rstrip(".")
    return str(value)


# --- field parsers -------------------------------------------------------------
def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _choice(options: tuple[str, ...]) -> Any:
    def parse(name: str, value: Any) -> str:
        if isinstance(value, str):
            for option in options:  # case-insensitive: ``l2`` and ``L2`` both work
                if value.lower() == option.lower():
                    return option
        raise StateError(name, f"{name} must be one of {', '.join(options)}; got {_show(value)}")
    return parse


def _integer(low: int, high: int) -> Any:
    def parse(name: str, value: Any) -> int:
        number = value
        if isinstance(value, str):
            text = value.strip()
            number = int(text) if text.lstrip("+-").isdigit() and len(text) < 20 else None
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise StateError(name, f"{name} must be a whole number from {low} to {high}; got {_show(value)}")
        return number
    return parse


def _listed(values: tuple[float, ...], what: str) -> Any:
    def parse(name: str, value: Any) -> float:
        number: Any = None
        if isinstance(value, str) and len(value) < 40:
            try:
                number = float(value)
            except ValueError:
                number = None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        if number is not None and math.isfinite(number):
            for allowed in values:
                if math.isclose(number, allowed, rel_tol=1e-9, abs_tol=1e-12):
                    return allowed
        listed = ", ".join(_format(float(v)) for v in values)
        raise StateError(name, f"{name} must be one of the {what} {listed}; got {_show(value)}")
    return parse


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise StateError(name, f"{name} must be true or false; got {_show(value)}")


def _shape(name: str, value: Any) -> tuple[int, ...]:
    items: Any = value
    if isinstance(value, str):
        text = value.strip()
        items = [] if text == "" else text.split(",")
    if not isinstance(items, (list, tuple)) or len(items) > MAX_LAYERS:
        raise StateError(name, f"{name} lists the neurons of each hidden layer, at most {MAX_LAYERS} "
                               f"layers (e.g. '4,2', or '' for none); got {_show(value)}")
    sizes = []
    for i, item in enumerate(items):
        try:
            sizes.append(_integer(1, MAX_NEURONS)(name, item))
        except StateError:
            raise StateError(name, f"{name}: hidden layer {i + 1} must have 1 to {MAX_NEURONS} neurons; "
                                   f"got {_show(item)}") from None
    return tuple(sizes)


PARSERS: dict[str, Any] = {
    "problem": _choice(PROBLEMS),
    "dataset": _choice(CLASSIFY_DATASETS),
    "regDataset": _choice(REGRESS_DATASETS),
    "noise": _integer(0, 50),
    "percTrainData": _integer(10, 90),
    "batchSize": _integer(1, 30),
    "seed": _integer(0, MAX_SEED),
    "networkShape": _shape,
    "activation": _choice(ACTIVATIONS),
    "learningRate": _listed(LEARNING_RATES, "learning rates"),
    "regularization": _choice(REGULARIZATIONS),
    "regularizationRate": _listed(REGULARIZATION_RATES, "regularization rates"),
    "optimizer": _choice(OPTIMIZERS),
    "loss": _choice(LOSSES),
    "dropout": _listed(DROPOUT_RATES, "dropout rates"),
    **{key: _boolean for key in (*FEATURES, "showTestData", "discretize", "batchNorm")},
}


def _check_whole(state: PlaygroundState) -> None:
    """Rules that involve several fields."""
    if not state.features:
        raise StateError("features", "switch on at least one input feature (X1, X2, ...): "
                                     "a network without inputs has nothing to learn from")
    if state.batchNorm and state.batchSize < 2:
        raise StateError("batchNorm", "batch norm needs a batch size of at least 2 "
                                      "(one point has no batch statistics); raise the batch size "
                                      "or switch batch norm off")


def apply_changes(state: PlaygroundState, changes: Mapping[str, Any]) -> PlaygroundState:
    """``state`` with ``changes`` applied, every value validated.

    Raises :class:`StateError` (the first problem found: unknown key, malformed
    or out-of-range value, inconsistent combination) and leaves nothing half-applied.
    """
    if not isinstance(changes, Mapping):
        raise StateError(None, f"the settings must be an object of name: value; got {_show(changes)}")
    parsed = {}
    for key, value in changes.items():
        if key not in PARSERS:
            raise StateError(key if isinstance(key, str) else None,
                             f"unknown setting {_show(key)}; known settings: {', '.join(FIELD_NAMES)}")
        parsed[key] = PARSERS[key](key, value)
    new = replace(state, **parsed)
    _check_whole(new)
    return new


def parse_query(query: str | Mapping[str, Any], base: PlaygroundState = DEFAULTS,
                ignore: tuple[str, ...] = ("session",)) -> tuple[PlaygroundState, list[StateError]]:
    """Read a URL query leniently: each bad or unknown key is reported and left at ``base``.

    Returns the state and the list of problems (empty when the query is clean),
    so a link with one typo still opens, with a message naming the typo.
    """
    if isinstance(query, str):
        if len(query) > 4096:
            return base, [StateError(None, f"the URL query is {len(query)} characters long; "
                                           "at most 4096 are read, so the defaults are used")]
        pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    else:
        pairs = list(query.items())
    errors: list[StateError] = []
    state = base
    seen = {}
    for key, value in pairs:
        if key in ignore:
            continue
        if key not in PARSERS:
            errors.append(StateError(key, f"unknown setting {_show(key)} in the URL was ignored"))
            continue
        try:
            seen[key] = PARSERS[key](key, value)
        except StateError as error:
            errors.append(StateError(key, error.message + f" (the URL's value was ignored; "
                                                          f"using {_format(getattr(base, key))})"))
    state = replace(state, **seen)
    try:
        _check_whole(state)
    except StateError as error:
        errors.append(error)
        state = base
    return state, errors


def state_schema() -> dict[str, Any]:
    """The allowed values of every setting, for the page's controls."""
    return {
        "learningRates": list(LEARNING_RATES), "regularizationRates": list(REGULARIZATION_RATES),
        "dropoutRates": list(DROPOUT_RATES), "activations": list(ACTIVATIONS),
        "regularizations": list(REGULARIZATIONS), "optimizers": list(OPTIMIZERS), "losses": list(LOSSES),
        "problems": list(PROBLEMS), "classifyDatasets": list(CLASSIFY_DATASETS),
        "regressDatasets": list(REGRESS_DATASETS), "features": FEATURES,
        "maxLayers": MAX_LAYERS, "maxNeurons": MAX_NEURONS, "maxSeed": MAX_SEED,
        "defaults": DEFAULTS.to_json(),
    }


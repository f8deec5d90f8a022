"""Export a session's network: a safetensors file and a Python script that rebuilds it.

The safetensors file holds the ``nn.Sequential``'s ``state_dict`` (written with
``safetensors.numpy``; the settings' URL query is in its metadata under
``"playground"``). The script builds the same ``Sequential`` from the same layer
spec as the session (:func:`deepgrad.playground.network.layer_spec`), loads the
file and prints the network's output for points given on the command line.
"""

from __future__ import annotations

import json

from .network import PlaygroundNet
from .state import FEATURES, PlaygroundState

__all__ = ["export_safetensors", "export_script", "SAFETENSORS_NAME", "SCRIPT_NAME"]

SAFETENSORS_NAME = "playground.safetensors"
SCRIPT_NAME = "playground_predict.py"


def export_safetensors(net: PlaygroundNet) -> bytes:
    """The network's parameters and buffers as safetensors bytes.

    Raises ImportError with the install command when ``safetensors`` is missing.
    """
    try:
        from safetensors.numpy import save
    except ImportError:
        raise ImportError("exporting needs the safetensors package: pip install safetensors") from None
    arrays = net.state_arrays()
    metadata = {"playground": net.state.to_query(), "format": "deepgrad.nn.Sequential state_dict"}
    return save(arrays, metadata=metadata)


_OUTPUT_DOC = {
    "mse": "tanh output in [-1, 1]; the class is its sign (+1 blue, -1 orange)",
    "softmax": "2 * p(class +1) - 1 from the two softmax outputs; the class is its sign",
    "regression": "the predicted value",
}


def _postprocess(state: PlaygroundState) -> str:
    if state.softmax:
        return "return (2 * F.softmax(out, dim=1)[:, 1] - 1).numpy()"
    return "return out[:, 0].numpy()"


def export_script(state: PlaygroundState, spec: list[tuple[str, tuple]]) -> str:
    """A standalone Python script that rebuilds the network with deepgrad and predicts."""
    features = [FEATURES[key] for key in state.features]
    layers = "\n".join(f"        nn.{name}({', '.join(repr(a) for a in args)})," for name, args in spec)
    kind = "regression" if not state.classify else ("softmax" if state.softmax else "mse")
    return f'''"""Rebuild the network trained in the deepgrad Playground and predict with it.

    python {SCRIPT_NAME} [{SAFETENSORS_NAME}] [points.csv]

points.csv holds one point x1,x2 per line (extra columns are ignored); without
it a few points are shown. The output is the {_OUTPUT_DOC[kind]}.

Settings (open http://127.0.0.1:8000/?<settings> in the playground to see them again):
    {state.to_query()}
"""

import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn

FEATURES = {json.dumps(features)}  # the network's inputs, computed from each point (x1, x2)


def features(points: np.ndarray) -> np.ndarray:
    x1, x2 = points[:, 0].astype(np.float32), points[:, 1].astype(np.float32)
    columns = {{"X1": x1, "X2": x2, "X1^2": x1 * x1, "X2^2": x2 * x2, "X1X2": x1 * x2,
               "sin(X1)": np.sin(x1), "sin(X2)": np.sin(x2)}}
    return np.stack([columns[name] for name in FEATURES], axis=1).astype(np.float32)


def build() -> nn.Sequential:
    return nn.Sequential(
{layers}
    )


def load(path) -> nn.Sequential:
    model = build()
    model.load_state_dict({{name: dg.tensor(array) for name, array in load_file(str(path)).items()}})
    return model.eval()


def predict(model: nn.Sequential, points) -> np.ndarray:
    """The network's output for an (n, 2) array of points."""
    with dg.no_grad():
        out = model(dg.tensor(features(np.asarray(points, dtype=np.float32).reshape(-1, 2))))
        {_postprocess(state)}


if __name__ == "__main__":
    weights = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "{SAFETENSORS_NAME}"
    model = load(weights)
    if len(sys.argv) > 2:
        points = np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)[:, :2]
    else:
        points = np.array([[-3.0, -3.0], [-3.0, 3.0], [0.0, 0.0], [3.0, -3.0], [3.0, 3.0]])
    for (x1, x2), value in zip(points, predict(model, points)):
        print(f"{{x1:8.3f}} {{x2:8.3f}} -> {{value:+.5f}}")
'''

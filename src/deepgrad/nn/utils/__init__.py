"""Utilities around training: gradient clipping, flattening parameters, packed sequences (``torch.nn.utils``)."""

from importlib import import_module, util

from deepgrad.nn.utils.clip_grad import (
    clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm,
)
from deepgrad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = [
    "clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
    "parameters_to_vector", "vector_to_parameters",
]

if util.find_spec("deepgrad.nn.utils.rnn") is not None:  # nn.utils.rnn, as in PyTorch
    rnn = import_module("deepgrad.nn.utils.rnn")
    __all__.append("rnn")

"""Flatten parameters into one vector and back (PyTorch's ``parameters_to_vector`` / ``vector_to_parameters``)."""

from __future__ import annotations

from typing import Iterable

from deepgrad.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All ``parameters`` flattened and concatenated into one 1-D tensor (differentiable).

    Shape:
        the sum of the parameters' numbers of elements.
    """
    from deepgrad.ops.join import cat

    flat = []
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters_to_vector: expected Tensors, got a {type(p).__name__}")
        flat.append(p.reshape(-1))
    if not flat:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter a view of its consecutive slice of ``vec`` (as PyTorch's ``param.data = ...``).

    The parameters then share ``vec``'s memory; ``vec`` must be 1-D with as
    many elements as all the parameters together.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a deepgrad Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if total != vec.numel():
        raise ValueError(
            f"vector_to_parameters: vec has {vec.numel()} elements but the parameters have {total}; "
            "pass the vector made by parameters_to_vector from the same parameters"
        )
    pointer = 0
    for p in parameters:
        n = p.numel()
        p.array = vec.array[pointer:pointer + n].reshape(p.shape)
        pointer += n

"""deepgrad: a deep learning system you can read end to end, built on NumPy.

    import deepgrad as dg
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4., 6.])
"""

from __future__ import annotations

__version__ = "0.1.0"

from deepgrad import backend
from deepgrad.backend import get_num_threads, set_num_threads
from deepgrad.dtypes import (
    bool_, double, dtype, float, float16, float32, float64, get_default_dtype, half, int, int8,
    int16, int32, int64, long, set_default_dtype, short, uint8,
)
from deepgrad.dtypes import bool_ as bool  # noqa: A001 - PyTorch's name
from deepgrad.dtypes import result_type
from deepgrad.tensor import Tensor, is_tensor
from deepgrad import autograd
from deepgrad.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from deepgrad.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from deepgrad.creation import (
    arange, as_tensor, bernoulli, empty, empty_like, eye, from_dlpack, from_numpy, full, full_like,
    linspace, normal, ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor,
    zeros, zeros_like,
)
from deepgrad import ops
from deepgrad.ops import *  # noqa: F401,F403 - every op as deepgrad.<name>
from deepgrad import random  # noqa: E402  (after ops: ``deepgrad.random`` is the module)
from deepgrad import nn, optim  # noqa: E402

"""One step of a recurrent network: ``RNNCell``, ``LSTMCell``, ``GRUCell`` (PyTorch's).

Parameters ``weight_ih`` (G * hidden, input), ``weight_hh`` (G * hidden, hidden),
``bias_ih``, ``bias_hh`` (G * hidden) with the gates in PyTorch's order, all
U(-1/sqrt(hidden), 1/sqrt(hidden)). A step is the fused recurrence of
``deepgrad.nn.functional.recurrent`` run for one time step.
"""

from __future__ import annotations

import math
from typing import Any

from deepgrad.backend import xp
from deepgrad.nn import init
from deepgrad.nn.functional.recurrent import GATES, Plan, fused_recurrence
from deepgrad.nn.modules.module import Module
from deepgrad.nn.modules.rnn import _new_parameter, _positive_int, check_float_input
from deepgrad.tensor import Tensor


class RNNCellBase(Module):
    """The parameters and checks shared by the cells."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self._mode = mode
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        gate_size = GATES[mode] * hidden_size
        self.weight_ih = _new_parameter((gate_size, input_size), dtype)
        self.weight_hh = _new_parameter((gate_size, hidden_size), dtype)
        if bias:
            self.bias_ih = _new_parameter((gate_size,), dtype)
            self.bias_hh = _new_parameter((gate_size,), dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = self.__dict__.get("nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _config(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"

    def _check_input(self, input: Any) -> tuple[Tensor, bool]:
        check_float_input(self, input, self.weight_ih)
        if input.ndim not in (1, 2):
            raise self._input_error(
                input.shape, f"expected a 2-d batch (B, input_size) or a 1-d (input_size,) "
                f"input, got {input.ndim}-d", "a cell takes one time step; use the "
                "sequence layer (RNN/LSTM/GRU) for whole sequences", self._config())
        if input.shape[-1] != self.input_size:
            raise self._input_error(
                input.shape, f"its last dimension is {input.shape[-1]}, expected "
                f"input_size={self.input_size}", None, self._config())
        unbatched = input.ndim == 1
        return (input.unsqueeze(0) if unbatched else input), unbatched

    def _check_state(self, name: str, state: Any, batch: int, unbatched: bool) -> Tensor:
        check_float_input(self, state, self.weight_ih, name)
        expected = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        if tuple(state.shape) != expected:
            raise RuntimeError(
                f"{self._describe()} ({self._config()}): expected {name} of shape "
                f"{'(hidden_size,)' if unbatched else '(batch, hidden_size)'} = {expected} for "
                f"an input of batch {batch if not unbatched else 'none (1-d)'}, got "
                f"{tuple(state.shape)}"
            )
        return state.unsqueeze(0) if unbatched else state

    def _step(self, x: Tensor, h: Tensor, c: Tensor | None) -> tuple:
        plan = Plan((x.shape[0],))
        return fused_recurrence(self._mode, x, h, c, self.weight_ih, self.weight_hh,
                                self.bias_ih, self.bias_hh, None, plan)

    def _zeros(self, batch: int) -> Tensor:
        return Tensor(xp.zeros((batch, self.hidden_size), dtype=self.weight_ih.array.dtype))


class RNNCell(RNNCellBase):
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu).

    Shape:
        input (B, input_size) or (input_size,), hx (B, hidden_size) or (hidden_size,)
        (zeros when None) -> h' like hx
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity: {nonlinearity}; use 'tanh' or 'relu'")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, unbatched = self._check_input(input)
        h = self._zeros(x.shape[0]) if hx is None else \
            self._check_state("hx", hx, x.shape[0], unbatched)
        h_new = self._step(x, h, None)[1]
        return h_new.squeeze(0) if unbatched else h_new


class LSTMCell(RNNCellBase):
    """One LSTM step: gates (i, f, g, o), ``c' = f c + i g``, ``h' = o tanh(c')``.

    Shape:
        input (B, input_size) or (input_size,), hx = (h, c) each (B, hidden_size) or
        (hidden_size,) (zeros when None) -> (h', c') like (h, c)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, Tensor]:
        x, unbatched = self._check_input(input)
        batch = x.shape[0]
        if hx is None:
            h, c = self._zeros(batch), self._zeros(batch)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError(
                    f"{self._describe()}: hx must be a tuple (h, c), got {type(hx).__name__}"
                )
            h = self._check_state("hx[0] (h)", hx[0], batch, unbatched)
            c = self._check_state("hx[1] (c)", hx[1], batch, unbatched)
        _, h_new, c_new = self._step(x, h, c)
        if unbatched:
            return h_new.squeeze(0), c_new.squeeze(0)
        return h_new, c_new


class GRUCell(RNNCellBase):
    """One GRU step, gates (r, z, n): ``h' = (1 - z) n + z h``.

    Shape:
        input (B, input_size) or (input_size,), hx (B, hidden_size) or (hidden_size,)
        (zeros when None) -> h' like hx
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, unbatched = self._check_input(input)
        h = self._zeros(x.shape[0]) if hx is None else \
            self._check_state("hx", hx, x.shape[0], unbatched)
        h_new = self._step(x, h, None)[1]
        return h_new.squeeze(0) if unbatched else h_new


__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

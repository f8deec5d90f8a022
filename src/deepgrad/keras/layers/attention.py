"""MultiHeadAttention with Keras's call signature and weights (query/key/value/output dense)."""

from __future__ import annotations

import math
from typing import Any

import deepgrad.nn.functional as F
from deepgrad.backend import xp
from deepgrad.keras import initializers as _initializers
from deepgrad.keras import regularizers as _regularizers
from deepgrad.keras.layers.base import KerasTensor, Layer, shape_of
from deepgrad.tensor import Tensor


class _HeadsDense(Layer):
    """Keras's EinsumDense as MultiHeadAttention uses it: (.., in) -> (.., heads, dim) with
    kernel (in, heads, dim), or (.., heads, dim) -> (.., out) with kernel (heads, dim, out)."""

    def __init__(self, kernel_shape: tuple, bias_shape: tuple | None, kernel_initializer: Any,
                 bias_initializer: Any, kernel_regularizer: Any, bias_regularizer: Any,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel = self.add_weight(kernel_shape, kernel_initializer, regularizer=kernel_regularizer,
                                      name="kernel")
        self.bias = None if bias_shape is None else self.add_weight(
            bias_shape, bias_initializer, regularizer=bias_regularizer, name="bias")
        self.built = True


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention (Vaswani et al.), Keras's layer.

    ``mha(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)``; ``attention_mask`` (batch, T_q, T_k) is
    True where attention is allowed.

    Shape:
        query (batch, T_q, dim_q), value (batch, T_k, dim_v), key (batch, T_k, dim_k) ->
        (batch, T_q, output_shape or dim_q); scores (batch, num_heads, T_q, T_k).
        Weights: query/key/value kernels (dim, num_heads, key_dim) and biases
        (num_heads, key_dim); output kernel (num_heads, value_dim, dim_out), bias (dim_out,).
    """

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True, output_shape: Any = None,
                 attention_axes: Any = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if attention_axes is not None:
            raise NotImplementedError("MultiHeadAttention: attention_axes is not supported; "
                                      "attention runs over the sequence axis")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout, self.use_bias = float(dropout), use_bias
        self._output_shape = output_shape
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.seed = seed

    def _dense(self, name: str, kernel: tuple, bias: tuple) -> _HeadsDense:
        return _HeadsDense(kernel, bias if self.use_bias else None, self.kernel_initializer,
                           self.bias_initializer, self.kernel_regularizer, self.bias_regularizer,
                           name=name, dtype=self._dtype)

    def _out_dim(self, query_shape: tuple) -> int:
        if self._output_shape is None:
            return query_shape[-1]
        return int(self._output_shape if isinstance(self._output_shape, int) else self._output_shape[-1])

    def _parse(self, args: tuple, kwargs: dict) -> tuple:
        names = ("query", "value", "key")
        values = dict(zip(names, args))
        for n in names:
            if n in kwargs:
                values[n] = kwargs[n]
        if "query" not in values or "value" not in values:
            raise TypeError("MultiHeadAttention: call it as mha(query, value, key=None, ...)")
        return values["query"], values["value"], values.get("key")

    def _build_from_args(self, args: tuple, kwargs: dict) -> None:
        query, value, key = self._parse(args, kwargs)
        self.build(shape_of(query), shape_of(value), None if key is None else shape_of(key))
        self._build_shape = [shape_of(query), shape_of(value)]
        self.built = True

    def build(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> None:
        value_shape = value_shape or query_shape
        key_shape = key_shape or value_shape
        h, d, dv = self.num_heads, self.key_dim, self.value_dim
        self.query_dense = self._dense("query", (query_shape[-1], h, d), (h, d))
        self.key_dense = self._dense("key", (key_shape[-1], h, d), (h, d))
        self.value_dense = self._dense("value", (value_shape[-1], h, dv), (h, dv))
        out = self._out_dim(query_shape)
        self.output_dense = self._dense("attention_output", (h, dv, out), (out,))

    def build_from_config(self, config: dict[str, Any] | None) -> None:
        if config and not self.built:
            shapes = config["input_shape"]
            self.build(tuple(shapes[0]), tuple(shapes[1]))
            self._build_shape = [tuple(shapes[0]), tuple(shapes[1])]
            self.built = True

    @staticmethod
    def _project(x: Tensor, dense: _HeadsDense) -> Tensor:
        """(B, T, in) -> (B, heads, T, dim)."""
        k = dense.kernel
        y = x.matmul(k.reshape(k.shape[0], -1))
        if dense.bias is not None:
            y = y + dense.bias.reshape(-1)
        return y.reshape(x.shape[0], x.shape[1], k.shape[1], k.shape[2]).transpose(1, 2)

    def call(self, query: Tensor, value: Tensor, key: Tensor | None = None,
             query_mask: Any = None, value_mask: Any = None, key_mask: Any = None,
             attention_mask: Any = None, return_attention_scores: bool = False,
             training: bool | None = None, use_causal_mask: bool = False) -> Any:
        key = value if key is None else key
        q = self._project(query, self.query_dense) * (1.0 / math.sqrt(self.key_dim))
        k = self._project(key, self.key_dense)
        v = self._project(value, self.value_dense)
        scores = q.matmul(k.transpose(-1, -2))  # (B, H, Tq, Tk)
        allowed = None
        if attention_mask is not None:
            mask = attention_mask.array if isinstance(attention_mask, Tensor) else xp.asarray(attention_mask)
            allowed = mask.astype(bool)
            if allowed.ndim == 3:
                allowed = allowed[:, None]
        if use_causal_mask:
            tq, tk = scores.shape[-2:]
            causal = xp.tril(xp.ones((tq, tk), dtype=bool))  # query i sees keys 0..i, as Keras
            allowed = causal if allowed is None else allowed & causal
        if allowed is not None:
            scores = scores.masked_fill(Tensor(xp.broadcast_to(~allowed, scores.shape)), float("-inf"))
        probs = scores.softmax(-1)
        if training and self.dropout > 0:
            probs = F.dropout(probs, self.dropout, True)
        context = probs.matmul(v).transpose(1, 2)  # (B, Tq, H, dv)
        w = self.output_dense.kernel
        out = context.reshape(context.shape[0], context.shape[1], -1).matmul(w.reshape(-1, w.shape[-1]))
        if self.output_dense.bias is not None:
            out = out + self.output_dense.bias
        return [out, probs] if return_attention_scores else out

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        query, value, key = self._parse(args, kwargs)
        out = KerasTensor((*query.shape[:-1], self._out_dim(query.shape)), self._dtype)
        if kwargs.get("return_attention_scores"):
            scores = KerasTensor((query.shape[0], self.num_heads, query.shape[1], value.shape[1]),
                                 self._dtype)
            return [out, scores]
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self._output_shape,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": _regularizers.serialize(self.bias_regularizer),
                "seed": self.seed}


__all__ = ["MultiHeadAttention"]

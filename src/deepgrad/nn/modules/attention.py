"""Attention layers: ``MultiheadAttention`` (PyTorch's) and ``AdditiveAttention`` (Bahdanau).

``MultiheadAttention`` has PyTorch's parameters (``in_proj_weight``,
``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``; ``q_proj_weight``,
``k_proj_weight``, ``v_proj_weight`` when kdim/vdim differ from embed_dim;
``bias_k``, ``bias_v`` with ``add_bias_kv``), initialization and forward, so a
PyTorch state_dict loads 1:1 and gives the same numbers.

``AdditiveAttention`` is the attention of Bahdanau, Cho & Bengio (2015) used by
encoder-decoder translation models: ``score(q, k) = v^T tanh(W_q q + W_k k)``.
"""

from __future__ import annotations

from typing import Any

from deepgrad.backend import xp
from deepgrad.nn import init
from deepgrad.nn.functional.attention import canonical_mask, multi_head_attention_forward
from deepgrad.nn.functional.dropout import dropout as _dropout
from deepgrad.nn.modules.linear import Linear
from deepgrad.nn.modules.module import Module
from deepgrad.nn.modules.rnn import _new_parameter, _positive_int, check_float_input
from deepgrad.ops.softmax import softmax
from deepgrad.tensor import Tensor


class MultiheadAttention(Module):
    """Multi-head attention, ``torch.nn.MultiheadAttention``.

    ``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True,
    add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False)``.
    forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False) returns
    (attn_output, attn_weights or None). Boolean masks are True where attention
    is NOT allowed; float masks are added to the scores.

    Shape:
        query (L, N, E) ((N, L, E) with batch_first, (L, E) unbatched), key (S, N, kdim),
        value (S, N, vdim); key_padding_mask (N, S); attn_mask (L, S) or
        (N * num_heads, L, S) -> attn_output like query, attn_weights (N, L, S)
        (averaged) or (N, num_heads, L, S)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = "MultiheadAttention"
        embed_dim = _positive_int(name, "embed_dim", embed_dim)
        num_heads = _positive_int(name, "num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(
                f"{name}: embed_dim must be divisible by num_heads, got embed_dim={embed_dim} and "
                f"num_heads={num_heads}"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = embed_dim // num_heads
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = _new_parameter((embed_dim, embed_dim), dtype)
            self.k_proj_weight = _new_parameter((embed_dim, self.kdim), dtype)
            self.v_proj_weight = _new_parameter((embed_dim, self.vdim), dtype)
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = _new_parameter((3 * embed_dim, embed_dim), dtype)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = _new_parameter((3 * embed_dim,), dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = _new_parameter((1, 1, embed_dim), dtype)
            self.bias_v = _new_parameter((1, 1, embed_dim), dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def _check(self, name: str, t: Any, dim: int, batched: bool) -> None:
        weight = self.out_proj.weight
        check_float_input(self, t, weight, name)
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if t.ndim not in (2, 3):
            raise RuntimeError(
                f"{self._describe()} (embed_dim={self.embed_dim}, num_heads={self.num_heads}): "
                f"{name} must be 3-d {layout} or 2-d unbatched (L, E), got shape {tuple(t.shape)}"
            )
        if (t.ndim == 3) != batched:
            raise RuntimeError(
                f"{self._describe()}: query, key and value must all be batched (3-d) or all "
                f"unbatched (2-d); {name} has shape {tuple(t.shape)}"
            )
        if t.shape[-1] != dim:
            raise RuntimeError(
                f"{self._describe()} (embed_dim={self.embed_dim}, kdim={self.kdim}, "
                f"vdim={self.vdim}): {name} of shape {tuple(t.shape)} has {t.shape[-1]} features, "
                f"expected {dim}"
            )

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        batched = isinstance(query, Tensor) and query.ndim == 3
        self._check("query", query, self.embed_dim, batched)
        self._check("key", key, self.kdim, batched)
        self._check("value", value, self.vdim, batched)
        if self.batch_first and batched:
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = query.transpose(1, 0), key.transpose(1, 0)
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        separate = not self._qkv_same_embed_dim
        out, weights = multi_head_attention_forward(
            query, key, value, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight,
            self.out_proj.bias, training=self.training, key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask, use_separate_proj_weight=separate,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal, op=self._describe(),
        )
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}" + (
            f", dropout={self.dropout}" if self.dropout else "") + (
            ", batch_first=True" if self.batch_first else "")


class AdditiveAttention(Module):
    """Additive (Bahdanau) attention: ``score(q, k_j) = v^T tanh(W_q q + W_k k_j [+ b])``.

    The scores over the keys go through a softmax (masked keys get weight 0) and
    weight the values: ``context = sum_j a_j value_j``. Typical use is a decoder
    state (the query) attending to the encoder outputs (keys = values).

    ``AdditiveAttention(query_size, key_size, hidden_size, dropout=0.0, bias=False)``:
    parameters ``W_q.weight`` (hidden, query_size), ``W_k.weight`` (hidden, key_size)
    (and ``W_k.bias`` with ``bias=True``), ``w_v.weight`` (1, hidden).

    forward(query, key, value=None, key_padding_mask=None) returns (context, weights);
    ``key_padding_mask`` is True at padded keys (as in MultiheadAttention), or
    pass ``valid_lens`` (N,), the number of real keys per batch element.

    Shape:
        query (N, Lq, query_size) or (N, query_size), key (N, S, key_size),
        value (N, S, value_size) (default: key), key_padding_mask (N, S) ->
        context (N, Lq, value_size) or (N, value_size), weights (N, Lq, S) or (N, S)
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int, dropout: float = 0.0,
                 bias: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = "AdditiveAttention"
        self.query_size = _positive_int(name, "query_size", query_size)
        self.key_size = _positive_int(name, "key_size", key_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        self.dropout = float(dropout)
        self.W_q = Linear(query_size, hidden_size, bias=False, dtype=dtype)
        self.W_k = Linear(key_size, hidden_size, bias=bias, dtype=dtype)
        self.w_v = Linear(hidden_size, 1, bias=False, dtype=dtype)

    def _error(self, problem: str) -> RuntimeError:
        return RuntimeError(
            f"{self._describe()} (query_size={self.query_size}, key_size={self.key_size}): "
            f"{problem}"
        )

    def forward(self, query: Tensor, key: Tensor, value: Tensor | None = None,
                key_padding_mask: Tensor | None = None,
                valid_lens: Any = None) -> tuple[Tensor, Tensor]:
        value = key if value is None else value
        weight = self.W_q.weight
        for name, t in (("query", query), ("key", key), ("value", value)):
            check_float_input(self, t, weight, name)
        single = query.ndim == 2
        if query.ndim not in (2, 3) or query.shape[-1] != self.query_size:
            raise self._error(f"query must be (N, Lq, {self.query_size}) or "
                              f"(N, {self.query_size}), got shape {tuple(query.shape)}")
        if key.ndim != 3 or key.shape[-1] != self.key_size:
            raise self._error(f"key must be (N, S, {self.key_size}), got shape {tuple(key.shape)}")
        if value.ndim != 3 or value.shape[:2] != key.shape[:2]:
            raise self._error(f"value must be (N, S, value_size) with the key's (N, S) = "
                              f"{tuple(key.shape[:2])}, got shape {tuple(value.shape)}")
        if query.shape[0] != key.shape[0]:
            raise self._error(f"query batch {query.shape[0]} (shape {tuple(query.shape)}) differs "
                              f"from the key's {key.shape[0]} (shape {tuple(key.shape)})")
        q = query.unsqueeze(1) if single else query
        batch, source = key.shape[0], key.shape[1]
        features = (self.W_q(q).unsqueeze(2) + self.W_k(key).unsqueeze(1)).tanh()  # (N, Lq, S, h)
        scores = self.w_v(features).squeeze(-1)  # (N, Lq, S)
        mask = None
        if valid_lens is not None:
            lens = valid_lens.array if isinstance(valid_lens, Tensor) else xp.asarray(valid_lens)
            if lens.shape != (batch,):
                raise self._error(f"valid_lens must have shape ({batch},), got {tuple(lens.shape)}")
            mask = xp.arange(source)[None, :] >= lens[:, None]
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (batch, source):
                raise self._error(f"key_padding_mask must have shape (N, S) = {(batch, source)}, "
                                  f"got {tuple(key_padding_mask.shape)}")
            kpm = canonical_mask(self._describe(), "key_padding_mask", key_padding_mask,
                                 scores.array.dtype)
            scores = scores + kpm.unsqueeze(1)
        if mask is not None:
            scores = scores.masked_fill(Tensor(mask[:, None, :]), float("-inf"))
        weights = softmax(scores, -1)
        attended = weights
        if self.training and self.dropout:
            attended = _dropout(weights, self.dropout, True)
        context = attended.matmul(value)
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def extra_repr(self) -> str:
        extra = f", dropout={self.dropout}" if self.dropout else ""
        return f"query_size={self.query_size}, key_size={self.key_size}, " \
               f"hidden_size={self.hidden_size}{extra}"


__all__ = ["MultiheadAttention", "AdditiveAttention"]

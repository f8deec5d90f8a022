"""Attention: ``scaled_dot_product_attention`` and the multi-head attention forward.

    softmax(Q K^T * scale + mask) V

Both are compositions of differentiable ops (``matmul``, ``softmax``, ``dropout``),
so gradients of any order come for free. Masks are constants: they are turned
into one additive float array (0 where attention is allowed, -inf where it is
not) before they meet the scores.

Mask conventions are PyTorch's, and they differ between the two functions:

* ``scaled_dot_product_attention``: a *boolean* ``attn_mask`` is True where a
  query **may** attend; a float mask is added to the scores. A query row with no
  allowed key gives zeros (and zero gradients), as PyTorch's does.
* ``multi_head_attention_forward`` (``nn.MultiheadAttention``): boolean
  ``attn_mask`` and ``key_padding_mask`` are True where attention is **not**
  allowed (padding); float masks are added. With ``need_weights=True`` a fully
  masked row gives NaN, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

from deepgrad.backend import xp
from deepgrad.nn.functional.dropout import dropout
from deepgrad.nn.functional.linear import linear
from deepgrad.ops._registry import Arg, OpCase, declare
from deepgrad.ops.join import cat
from deepgrad.ops.softmax import softmax
from deepgrad.tensor import Tensor


def _mask_array(op: str, name: str, mask: Any, dtype: Any, allowed_when_true: bool) -> Any:
    """An additive float mask array (0 / -inf, or the float mask's values)."""
    m = mask.array if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype == xp.bool_:
        keep = m if allowed_when_true else ~m
        return xp.where(keep, xp.asarray(0, dtype=dtype), xp.asarray(-xp.inf, dtype=dtype))
    if m.dtype.kind == "f":
        return m.astype(dtype, copy=False)
    raise TypeError(
        f"{op}: only bool and floating types of {name} are supported, got {m.dtype}; use a bool "
        f"mask (True = {'attend' if allowed_when_true else 'masked out'}) or an additive float mask"
    )


def _check_qkv(op: str, query: Any, key: Any, value: Any) -> None:
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise RuntimeError(
                f"{op}: {name} must have at least 2 dimensions (..., length, features), got shape "
                f"{tuple(t.shape)}"
            )
        if t.array.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be floating point, got {t.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"{op}: query (shape {tuple(query.shape)}) and key (shape {tuple(key.shape)}) must "
            "have the same last dimension (the embedding size E)"
        )
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"{op}: key (shape {tuple(key.shape)}) and value (shape {tuple(value.shape)}) must "
            "have the same sequence length (dimension -2)"
        )
    if not (query.array.dtype == key.array.dtype == value.array.dtype):
        raise RuntimeError(
            f"{op}: query, key and value must have the same dtype, got {query.dtype}, "
            f"{key.dtype} and {value.dtype}"
        )


def _repeat_heads(t: Tensor, repeats: int) -> Tensor:
    """(..., Hkv, S, E) -> (..., Hkv * repeats, S, E), each head repeated (repeat_interleave)."""
    heads = t.shape[-3]
    index = Tensor(xp.repeat(xp.arange(heads), repeats))
    return t.index_select(t.ndim - 3, index)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value`` (``torch.nn.functional``'s).

    ``attn_mask``: bool (True = may attend) or float (added), broadcastable to
    (..., L, S). ``is_causal``: query i attends keys 0..i (top-left aligned);
    don't combine it with ``attn_mask``. ``scale`` defaults to 1/sqrt(E).
    ``dropout_p`` drops attention weights (always, like PyTorch's function: pass
    0 in evaluation). ``enable_gqa`` repeats key/value heads (dimension -3) to
    match the query's.

    Shape:
        query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev)
    """
    op = "scaled_dot_product_attention"
    _check_qkv(op, query, key, value)
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{op}: Explicit attn_mask should not be set when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hk == 0 or hq % hk or value.shape[-3] != hk:
            raise RuntimeError(
                f"{op}: with enable_gqa the query heads ({hq}) must be a multiple of the key/value "
                f"heads ({hk}, {value.shape[-3]})"
            )
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // hk)
    length, source = query.shape[-2], key.shape[-2]
    dt = query.array.dtype
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    scores = query.matmul(key.transpose(-2, -1)) * factor
    additive = None
    if is_causal:
        allowed = xp.tril(xp.ones((length, source), dtype=xp.bool_))
        additive = _mask_array(op, "attn_mask", allowed, dt, True)
    elif attn_mask is not None:
        additive = _mask_array(op, "attn_mask", attn_mask, dt, True)
        try:
            xp.broadcast_shapes(additive.shape, scores.shape)
        except ValueError:
            raise RuntimeError(
                f"{op}: attn_mask of shape {tuple(additive.shape)} can't be broadcast to the "
                f"attention scores' shape {tuple(scores.shape)} (..., L={length}, S={source})"
            ) from None
    keep = None
    if additive is not None:
        dead = xp.all(xp.isneginf(additive), axis=-1, keepdims=True)
        if dead.any():  # rows with no allowed key: softmax of a 0 row, then zeroed, as PyTorch
            additive = xp.where(dead, xp.asarray(0, dtype=dt), additive)
            keep = Tensor((~dead).astype(dt))
        scores = scores + Tensor(additive)
    weights = softmax(scores, -1)
    if keep is not None:
        weights = weights * keep
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(value)


# --- multi-head attention ------------------------------------------------------------------
def canonical_mask(op: str, name: str, mask: Any, dtype: Any) -> Tensor | None:
    """A bool (True = masked out) or float mask as an additive float tensor, or None."""
    if mask is None:
        return None
    return Tensor(_mask_array(op, name, mask, dtype, allowed_when_true=False))


def _in_projection(query: Tensor, key: Tensor, value: Tensor, w: Tensor | None,
                   b: Tensor | None, separate: tuple | None, embed_dim: int) -> tuple:
    """q, k, v = the three projections, sharing work when query/key/value are one tensor."""
    bq = bk = bv = None
    if b is not None:
        bq, bk, bv = b[:embed_dim], b[embed_dim:2 * embed_dim], b[2 * embed_dim:]
    if separate is not None:
        wq, wk, wv = separate
        return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    if key is value:
        if query is key:  # self-attention: one product for all three
            q, k, v = linear(query, w, b).chunk(3, -1)
            return q, k, v
        q = linear(query, w[:embed_dim], bq)
        k, v = linear(key, w[embed_dim:], None if b is None else b[embed_dim:]).chunk(2, -1)
        return q, k, v
    return (linear(query, w[:embed_dim], bq), linear(key, w[embed_dim:2 * embed_dim], bk),
            linear(value, w[2 * embed_dim:], bv))


def multi_head_attention_forward(
    query: Tensor, key: Tensor, value: Tensor, num_heads: int,
    in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
    bias_k: Tensor | None, bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
    out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
    key_padding_mask: Tensor | None = None, need_weights: bool = True,
    attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None, average_attn_weights: bool = True,
    is_causal: bool = False, *, op: str = "multi_head_attention_forward",
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on sequence-first inputs, PyTorch's function of the same name.

    Shape:
        query (L, N, E) or (L, E), key (S, N, kdim), value (S, N, vdim);
        key_padding_mask (N, S); attn_mask (L, S) or (N * num_heads, L, S) ->
        output (L, N, E), weights (N, L, S) averaged over heads or
        (N, num_heads, L, S) (None unless need_weights)
    """
    batched = query.ndim == 3
    if batched:
        if key.ndim != 3 or value.ndim != 3:
            raise RuntimeError(
                f"{op}: for a batched 3-d query (L, N, E), key and value must be 3-d too; got "
                f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise RuntimeError(
                f"{op}: for a batched query, key_padding_mask must be 2-d (N, S), got shape "
                f"{tuple(key_padding_mask.shape)}"
            )
    elif query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise RuntimeError(
                f"{op}: for an unbatched 2-d query (L, E), key and value must be 2-d too; got "
                f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise RuntimeError(
                f"{op}: for an unbatched query, key_padding_mask must be 1-d (S,), got shape "
                f"{tuple(key_padding_mask.shape)}"
            )
        same_kv = key is value
        same_qk = query is key
        query = query.unsqueeze(1)
        key = query if same_qk else key.unsqueeze(1)
        value = key if same_kv else value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.reshape(1, -1)
    else:
        raise RuntimeError(
            f"{op}: query should be unbatched 2-d (L, E) or batched 3-d, got shape "
            f"{tuple(query.shape)}"
        )

    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    head_dim = embed_dim // num_heads
    dt = query.array.dtype
    if key.shape[:2] != value.shape[:2]:
        raise RuntimeError(
            f"{op}: key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)} "
            "in (S, N)"
        )
    if key.shape[1] != bsz:
        raise RuntimeError(
            f"{op}: query has batch {bsz} (shape {tuple(query.shape)}) but key has batch "
            f"{key.shape[1]} (shape {tuple(key.shape)})"
        )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            f"{op}: Need attn_mask if specifying the is_causal hint. You may use "
            "Transformer.generate_square_subsequent_mask to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint says the mask is causal: sdpa's is_causal does the same
    else:
        attn_mask = canonical_mask(op, "attn_mask", attn_mask, dt)
        if key_padding_mask is not None:
            is_causal = False
    key_padding_mask = canonical_mask(op, "key_padding_mask", key_padding_mask, dt)

    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else None
    q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias, separate, embed_dim)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"{op}: The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but should "
                    f"be {(tgt_len, src_len)} (L, S)."
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"{op}: The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but should "
                    f"be {(bsz * num_heads, tgt_len, src_len)} (N * num_heads, L, S)."
                )
        else:
            raise RuntimeError(
                f"{op}: attn_mask's dimension {attn_mask.ndim} is not supported; use (L, S) or "
                "(N * num_heads, L, S)"
            )
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (bsz, src_len):
        raise RuntimeError(
            f"{op}: expecting key_padding_mask shape of {(bsz, src_len)} (N, S), but got "
            f"{tuple(key_padding_mask.shape)}"
        )

    def pad_mask(m: Tensor | None) -> Tensor | None:
        if m is None:
            return None
        return Tensor(xp.concatenate([m.array, xp.zeros(m.shape[:-1] + (1,), dtype=dt)], -1))

    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.expand(1, bsz, embed_dim)], 0)
        v = cat([v, bias_v.expand(1, bsz, embed_dim)], 0)
        attn_mask, key_padding_mask = pad_mask(attn_mask), pad_mask(key_padding_mask)

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zeros = Tensor(xp.zeros((bsz * num_heads, 1, head_dim), dtype=dt))
        k, v = cat([k, zeros], 1), cat([v, zeros], 1)
        attn_mask, key_padding_mask = pad_mask(attn_mask), pad_mask(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        kpm = key_padding_mask.array.reshape(bsz, 1, 1, src_len)
        kpm = xp.broadcast_to(kpm, (bsz, num_heads, 1, src_len)).reshape(bsz * num_heads, 1,
                                                                          src_len)
        attn_mask = Tensor(kpm if attn_mask is None else attn_mask.array + kpm)
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * math.sqrt(1.0 / head_dim)).matmul(k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p, True)
        out = weights.matmul(v)  # (N * heads, L, head_dim)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        if attn_mask.shape[0] == 1:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not batched:
        out = out.squeeze(1)
    return out, None


# --- declared cases (tests/test_ops.py) ----------------------------------------------------------
def _sdpa_ref(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False) -> Any:
    s = q @ xp.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if causal:
        mask = xp.tril(xp.ones(s.shape[-2:], dtype=bool))
    if mask is None:
        mask = xp.ones(s.shape[-2:], dtype=bool)
    live = mask.any(-1, keepdims=True)
    s = xp.where(mask, s, -xp.inf)
    s = xp.exp(s - xp.where(live, s.max(-1, keepdims=True), 0))
    return xp.where(live, s / xp.where(live, s.sum(-1, keepdims=True), 1), 0) @ v


def _torch_sdpa(*args: Any, **kwargs: Any) -> Any:
    import torch

    return torch.nn.functional.scaled_dot_product_attention(*args, **kwargs)


declare(
    OpCase("scaled_dot_product_attention", lambda q, k, v: scaled_dot_product_attention(q, k, v),
           [(2, 3, 4), (2, 5, 4), (2, 5, 3)], ref=_sdpa_ref, torch_fn=_torch_sdpa),
    OpCase("scaled_dot_product_attention",
           lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True),
           [(1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 2)],
           ref=lambda q, k, v: _sdpa_ref(q, k, v, causal=True),
           torch_fn=lambda q, k, v: _torch_sdpa(q, k, v, is_causal=True), label="causal"),
    OpCase("scaled_dot_product_attention",
           lambda q, k, v, m: scaled_dot_product_attention(q, k, v, attn_mask=m),
           [(2, 3, 4), (2, 5, 4), (2, 5, 3), Arg((3, 5), kind="bool")], ref=_sdpa_ref,
           torch_fn=lambda q, k, v, m: _torch_sdpa(q, k, v, attn_mask=m), label="bool_mask"),
)

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

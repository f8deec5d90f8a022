"""The Transformer of "Attention is all you need", with PyTorch's modules and numbers.

``TransformerEncoderLayer``, ``TransformerDecoderLayer``, ``TransformerEncoder``,
``TransformerDecoder`` and ``Transformer`` take PyTorch's arguments (d_model,
nhead, dim_feedforward, dropout, activation 'relu'/'gelu'/callable,
layer_norm_eps, batch_first, norm_first, bias) and have its submodule names
(``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``, ``norm1``..,
``layers.0``..), so a PyTorch state_dict loads 1:1. ``PositionalEncoding`` is the
sinusoidal encoding of the paper (as in PyTorch's tutorial).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

from deepgrad.backend import xp
from deepgrad.nn import init
from deepgrad.nn.functional.activation import gelu, relu
from deepgrad.nn.modules.attention import MultiheadAttention
from deepgrad.nn.modules.container import ModuleList
from deepgrad.nn.modules.dropout import Dropout
from deepgrad.nn.modules.linear import Linear
from deepgrad.nn.modules.module import Module
from deepgrad.nn.modules.normalization import LayerNorm
from deepgrad.nn.modules.rnn import _positive_int
from deepgrad.tensor import Tensor


def _activation(layer: str, activation: Any) -> Callable:
    if isinstance(activation, str):
        if activation == "relu":
            return relu
        if activation == "gelu":
            return gelu
        raise RuntimeError(f"{layer}: activation should be relu/gelu, not {activation}")
    if callable(activation):
        return activation
    raise RuntimeError(
        f"{layer}: activation should be 'relu', 'gelu' or a callable, got "
        f"{type(activation).__name__}"
    )


def _square_subsequent_mask(size: int, dtype: Any = None) -> Tensor:
    from deepgrad import dtypes

    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return Tensor(xp.triu(xp.full((size, size), -xp.inf, dtype=d.np), 1))


def _detect_is_causal_mask(mask: Tensor | None, is_causal: bool | None = None,
                           size: int | None = None) -> bool:
    """PyTorch's check: is ``mask`` the causal mask (when the caller did not say)?"""
    make_causal = bool(is_causal)
    if is_causal is None and mask is not None:
        sz = size if size is not None else mask.shape[-2]
        if mask.ndim == 2 and tuple(mask.shape) == (sz, sz):
            causal = xp.triu(xp.ones((sz, sz), dtype=xp.bool_), 1)
            m = mask.array
            if m.dtype == xp.bool_:
                make_causal = bool(xp.array_equal(m, causal))
            else:
                make_causal = bool(xp.array_equal(xp.isneginf(m), causal) and
                                   xp.all(m[~causal] == 0))
    return make_causal


def _check_d_model(layer: Module, name: str, t: Any, d_model: int, batch_first: bool) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{layer._describe()}: {name} must be a Tensor, got {type(t).__name__}")
    if t.ndim not in (2, 3) or t.shape[-1] != d_model:
        layout = "(N, S, d_model)" if batch_first else "(S, N, d_model)"
        raise RuntimeError(
            f"{layer._describe()} (d_model={d_model}): {name} must be {layout} or unbatched "
            f"(S, d_model), got shape {tuple(t.shape)}"
        )


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual and LayerNorm.

    ``norm_first=False`` (post-norm, the paper): ``x = norm1(x + sa(x))``,
    ``x = norm2(x + ff(x))``; ``norm_first=True``: ``x = x + sa(norm1(x))``,
    ``x = x + ff(norm2(x))``. forward(src, src_mask=None, src_key_padding_mask=None,
    is_causal=False).

    Shape:
        src (S, N, d_model) ((N, S, d_model) with batch_first, (S, d_model) unbatched)
        -> same
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Any = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation("TransformerEncoderLayer", activation)
        self.d_model, self.batch_first = d_model, batch_first

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        _check_d_model(self, "src", src, self.d_model, self.batch_first)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's memory, and a feed-forward block.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False).

    Shape:
        tgt (T, N, d_model), memory (S, N, d_model) (batch first with batch_first) ->
        like tgt
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Any = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation("TransformerDecoderLayer", activation)
        self.d_model, self.batch_first = d_model, batch_first

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        _check_d_model(self, "tgt", tgt, self.d_model, self.batch_first)
        _check_d_model(self, "memory", memory, self.d_model, self.batch_first)
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any,
                   is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (deep copies), then ``norm`` if given.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None).

    Shape:
        as the layer's
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, _positive_int("TransformerEncoder", "num_layers",
                                                           num_layers))
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        batch_first = getattr(self.layers[0], "batch_first", False)
        seq_dim = 1 if batch_first and src.ndim == 3 else 0
        is_causal = _detect_is_causal_mask(mask, is_causal, src.shape[seq_dim])
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal,
                           src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` (deep copies), then ``norm`` if given.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False).

    Shape:
        as the layer's
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, _positive_int("TransformerDecoder", "num_layers",
                                                           num_layers))
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        batch_first = getattr(self.layers[0], "batch_first", False)
        seq_dim = 1 if batch_first and tgt.ndim == 3 else 0
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, tgt.shape[seq_dim])
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder Transformer (``torch.nn.Transformer``).

    ``Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
    dim_feedforward=2048, dropout=0.1, activation='relu', custom_encoder=None,
    custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
    bias=True)``; the encoder and decoder end with a LayerNorm; every parameter with
    more than one dimension starts Xavier-uniform.

    Shape:
        src (S, N, E), tgt (T, N, E) ((N, S, E), (N, T, E) with batch_first);
        src_mask (S, S), tgt_mask (T, T), memory_mask (T, S); *_key_padding_mask
        (N, S) / (N, T) -> output (T, N, E)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Any = "relu", custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias,
                                            dtype=dtype)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias,
                                            dtype=dtype)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        _check_d_model(self, "src", src, self.d_model, self.batch_first)
        _check_d_model(self, "tgt", tgt, self.d_model, self.batch_first)
        if src.ndim != tgt.ndim:
            raise RuntimeError(
                f"{self._describe()}: src (shape {tuple(src.shape)}) and tgt (shape "
                f"{tuple(tgt.shape)}) must both be batched (3-d) or both unbatched (2-d)"
            )
        if src.ndim == 3:
            bdim = 0 if self.batch_first else 1
            if src.shape[bdim] != tgt.shape[bdim]:
                raise RuntimeError(
                    f"{self._describe()}: the batch number of src and tgt must be equal; got src "
                    f"{tuple(src.shape)} and tgt {tuple(tgt.shape)} (batch_first="
                    f"{self.batch_first})"
                )
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The causal mask: 0 on and below the diagonal, -inf above (float, (sz, sz))."""
        return _square_subsequent_mask(sz, dtype)


class PositionalEncoding(Module):
    """Sinusoidal positional encoding ("Attention is all you need", section 3.5).

    ``PE[pos, 2i] = sin(pos / 10000^(2i / d_model))``, ``PE[pos, 2i + 1] = cos(...)``,
    added to the input, then dropout. The table is the buffer ``pe`` of shape
    (max_len, 1, d_model), as in PyTorch's tutorial, so its state_dict loads 1:1.

    Shape:
        (S, N, d_model), or (N, S, d_model) with batch_first, or (S, d_model) -> same
    """

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000,
                 batch_first: bool = False, dtype: Any = None) -> None:
        super().__init__()
        from deepgrad import dtypes

        self.d_model = _positive_int("PositionalEncoding", "d_model", d_model)
        self.max_len = _positive_int("PositionalEncoding", "max_len", max_len)
        self.batch_first = batch_first
        self.dropout = Dropout(p=dropout)
        d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        position = xp.arange(max_len, dtype=xp.float64)[:, None]
        div_term = xp.exp(xp.arange(0, d_model, 2, dtype=xp.float64)
                          * (-math.log(10000.0) / d_model))
        pe = xp.zeros((max_len, 1, d_model), dtype=xp.float64)
        pe[:, 0, 0::2] = xp.sin(position * div_term)
        pe[:, 0, 1::2] = xp.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", Tensor(pe.astype(d.np)))

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise RuntimeError(
                f"{self._describe()} (d_model={self.d_model}): expected input (S, N, d_model), "
                f"(N, S, d_model) with batch_first, or (S, d_model); got {shape}"
            )
        length = x.shape[1] if (self.batch_first and x.ndim == 3) else x.shape[0]
        if length > self.max_len:
            raise RuntimeError(
                f"{self._describe()}: sequence length {length} exceeds max_len={self.max_len}; "
                "construct it with a larger max_len"
            )
        pe = self.pe[:length, 0]  # (S, d_model)
        if x.ndim == 3 and not self.batch_first:
            pe = pe.unsqueeze(1)
        return self.dropout(x + pe.to(x.dtype))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}" + (
            ", batch_first=True" if self.batch_first else "")


__all__ = [
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerDecoder", "Transformer", "PositionalEncoding",
]

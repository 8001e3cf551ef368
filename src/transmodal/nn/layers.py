r"""Encoder and decoder layers and stacks (paper §3.1, Figure 1).

Encoder layer (two sub-layers, each wrapped by :class:`~transmodal.nn.residual.Residual`)::

    x = Residual(x, SelfAttention(·, mask=source padding))
    x = Residual(x, FFN(·))

Decoder layer (three sub-layers)::

    y = Residual(y, MaskedSelfAttention(·, causal + target padding))    # position t sees ≤ t
    y = Residual(y, CrossAttention(·, memory, mask=source padding))     # queries from y, keys/values from the encoder
    y = Residual(y, FFN(·))

A stack is N such layers; with pre-norm it ends with a LayerNorm (the residual stream is never normalised otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from transmodal.nn.cache import KVCache
from transmodal.nn.feedforward import FeedForward
from transmodal.nn.multihead import MultiHeadAttention
from transmodal.nn.residual import Residual


@dataclass
class LayerSpec:
    """Sizes and options shared by the layers of one stack."""

    d_model: int
    n_heads: int
    d_ff: int | None = None
    dropout: float = 0.1
    attn_dropout: float = 0.0
    activation: str = "relu"
    norm_first: bool = False
    rotary: bool = False


class EncoderLayer(nn.Module):
    def __init__(self, spec: LayerSpec):
        super().__init__()
        d = spec.d_model
        self.self_attn = MultiHeadAttention(d, spec.n_heads, spec.attn_dropout, rotary=spec.rotary)
        self.ff = FeedForward(d, spec.d_ff, spec.dropout, spec.activation)
        self.res_attn = Residual(d, spec.dropout, spec.norm_first)
        self.res_ff = Residual(d, spec.dropout, spec.norm_first)

    def forward(self, x: Tensor, mask: Tensor | None = None, causal: bool = False, cache: KVCache | None = None) -> Tensor:
        """x: (B, T, D); mask: boolean, broadcastable to (B, H, T, T), True = may attend.

        With ``cache`` (decoder-only models), x holds only the new positions; self-attention reads the cached
        keys/values of the earlier ones and appends its own.
        """
        x = self.res_attn(x, lambda h: self.self_attn(h, mask=mask, causal=causal, cache=cache)[0])
        return self.res_ff(x, self.ff)


@dataclass
class DecoderLayerCache:
    self_attn: KVCache = field(default_factory=KVCache)
    cross_attn: KVCache = field(default_factory=KVCache)

    def reorder(self, index: Tensor) -> None:
        self.self_attn.reorder(index)
        self.cross_attn.reorder(index)


class DecoderLayer(nn.Module):
    def __init__(self, spec: LayerSpec):
        super().__init__()
        d = spec.d_model
        self.self_attn = MultiHeadAttention(d, spec.n_heads, spec.attn_dropout, rotary=spec.rotary)
        self.cross_attn = MultiHeadAttention(d, spec.n_heads, spec.attn_dropout, cross=True)
        self.ff = FeedForward(d, spec.d_ff, spec.dropout, spec.activation)
        self.res_self = Residual(d, spec.dropout, spec.norm_first)
        self.res_cross = Residual(d, spec.dropout, spec.norm_first)
        self.res_ff = Residual(d, spec.dropout, spec.norm_first)

    def forward(
        self,
        y: Tensor,
        memory: Tensor | None,
        self_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        cache: DecoderLayerCache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """y: (B, T, D) target positions (only the new ones when ``cache`` is given); memory: (B, S, D).

        Returns the new y and, if ``need_weights``, the cross-attention weights (B, H, T, S).
        """
        weights = None

        def cross(h: Tensor) -> Tensor:
            nonlocal weights
            out, weights = self.cross_attn(
                h,
                memory,
                mask=memory_mask,
                cache=cache.cross_attn if cache is not None else None,
                need_weights=need_weights,
            )
            return out

        y = self.res_self(
            y,
            lambda h: self.self_attn(
                h, mask=self_mask, causal=True, cache=cache.self_attn if cache is not None else None
            )[0],
        )
        y = self.res_cross(y, cross)
        return self.res_ff(y, self.ff), weights


class Encoder(nn.Module):
    """N encoder layers (+ final LayerNorm when pre-norm)."""

    def __init__(self, spec: LayerSpec, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(spec) for _ in range(n_layers))
        self.norm = nn.LayerNorm(spec.d_model) if spec.norm_first else nn.Identity()

    def new_cache(self) -> list[KVCache]:
        """One empty key/value cache per layer, for incremental (causal) decoding with ``forward(..., caches=)``."""
        return [KVCache() for _ in self.layers]

    def forward(self, x: Tensor, mask: Tensor | None = None, causal: bool = False,
                caches: list[KVCache] | None = None) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, causal, caches[i] if caches is not None else None)
        return self.norm(x)


class Decoder(nn.Module):
    """N decoder layers (+ final LayerNorm when pre-norm)."""

    def __init__(self, spec: LayerSpec, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(spec) for _ in range(n_layers))
        self.norm = nn.LayerNorm(spec.d_model) if spec.norm_first else nn.Identity()

    def new_cache(self) -> list[DecoderLayerCache]:
        return [DecoderLayerCache() for _ in self.layers]

    def forward(
        self,
        y: Tensor,
        memory: Tensor | None,
        self_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        cache: list[DecoderLayerCache] | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, list[Tensor]]:
        """Returns (y (B, T, D), list of per-layer cross-attention weights — empty unless need_weights)."""
        all_weights = []
        for i, layer in enumerate(self.layers):
            y, w = layer(y, memory, self_mask, memory_mask, cache[i] if cache is not None else None, need_weights)
            if w is not None:
                all_weights.append(w)
        return self.norm(y), all_weights

r"""Multi-head attention (paper §3.2.2).

    MultiHead(Q, K, V) = Concat(head_1, …, head_h) W^O,   head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

with d_k = d_v = d_model / h. Self-attention projects x once through a fused (d_model → 3·d_model)
matrix [W^Q W^K W^V]; cross-attention projects the queries from the decoder and keys/values (fused,
d_model → 2·d_model) from the encoder's memory. The attention itself is computed by
:func:`transmodal.nn.attention.attention`.
"""

from __future__ import annotations

from torch import Tensor, nn

from transmodal.nn.attention import attention
from transmodal.nn.cache import KVCache
from transmodal.nn.positions import RotaryEmbedding


class MultiHeadAttention(nn.Module):
    """Self- (``cross=False``) or cross-attention (``cross=True``) with optional rotary positions and KV cache."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        *,
        cross: bool = False,
        bias: bool = True,
        rotary: bool = False,
    ):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.cross = cross
        self.dropout = dropout
        if cross:
            self.q_proj = nn.Linear(d_model, d_model, bias=bias)
            self.kv_proj = nn.Linear(d_model, 2 * d_model, bias=bias)
        else:
            self.qkv_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.rotary = RotaryEmbedding(self.d_head) if rotary else None

    def _split(self, x: Tensor) -> Tensor:  # (B, T, D) -> (B, H, T, d_head)
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.d_head).transpose(1, 2)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        causal: bool = False,
        bias: Tensor | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """x: (B, T, D); memory: (B, S, D) for cross-attention. Returns ((B, T, D), weights (B, H, T, S) or None).

        With a ``cache``, self-attention appends this call's keys/values to it (x holds only the new
        positions) and cross-attention computes the memory's keys/values on the first call only.
        """
        if self.cross:
            if memory is None and (cache is None or cache.k is None):
                raise ValueError("cross-attention needs the encoder memory (or a filled cache)")
            q = self._split(self.q_proj(x))
            if cache is not None and cache.k is not None:
                k, v = cache.k, cache.v
            else:
                k, v = (self._split(t) for t in self.kv_proj(memory).chunk(2, dim=-1))
                if cache is not None:
                    cache.append(k, v)
        else:
            q, k, v = (self._split(t) for t in self.qkv_proj(x).chunk(3, dim=-1))
            offset = cache.length if cache is not None else 0
            if self.rotary is not None:
                q, k = self.rotary(q, offset), self.rotary(k, offset)
            if cache is not None:
                k, v = cache.append(k, v)
        out, weights = attention(
            q,
            k,
            v,
            mask,
            causal=causal,
            bias=bias,
            dropout_p=self.dropout if self.training else 0.0,
            need_weights=need_weights,
        )
        b, _, t, _ = out.shape
        out = out.transpose(1, 2).reshape(b, t, self.d_model)
        return self.out_proj(out), weights

r"""Self-attention with relative positional encoding (Transformer-XL; Conformer's MHSA).

Transformer-XL (Dai et al. 2019, §3.3) replaces absolute positions by the distance i − j between
query i and key j. With q_i = W_q x_i, k_j = W_k x_j, a sinusoidal embedding R_{i−j} of the
distance and its projection r_{i−j} = W_R R_{i−j}, the score of the pair is

    s_ij = (q_i + u)·k_j  +  (q_i + v)·r_{i−j}          (terms (a)+(c) and (b)+(d) of the paper)

where u and v are learned per-head vectors (a content bias and a position bias, shared by all
queries). Conformer (Gulati et al. 2020) uses this attention in every block. The first term is an
ordinary dot product with shifted queries q + u; the second — "BD" — does not depend on the keys'
content, so it goes to :func:`~transmodal.nn.attention.attention` as its additive ``bias``
(divided by √d_k like the first term)::

    Attention = softmax( (q + u)·kᵀ / √d_k  +  BD / √d_k ) V

Computing BD pair by pair would build a (T, T, d) tensor. The *relative shift* trick instead
multiplies (q + v) by the 2T − 1 distinct embeddings r_{T−1}, …, r_0, …, r_{−(T−1)} once,
giving (T, 2T − 1), and then slides row i left by T − 1 − i so that column j holds distance
i − j (:func:`rel_shift`).

With ``window=w`` the attention is limited to |i − j| ≤ w and computed block by block
(:func:`~transmodal.nn.local_attention.local_attention`, linear in T); the position term then
needs only the 2w + 1 embeddings r_w … r_{−w}. With ``n_global=G`` as well, the first G positions
of the input are *global tokens*: they attend to every position and every position attends to
them (Longformer-style). Their distances are measured like everyone else's, so with a window
wider than the sequence the result equals full attention.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from transmodal.nn.attention import attention, padding_mask
from transmodal.nn.local_attention import local_attention


def relative_sinusoids(distances: Tensor, d_model: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Sinusoidal embeddings of (possibly negative) integer distances: (...,) → (..., d_model), computed in float64.

    R(r, 2i) = sin(r / 10000^(2i/d)),  R(r, 2i+1) = cos(r / 10000^(2i/d))  — "Attention Is All You
    Need"'s table, evaluated at r = i − j instead of an absolute position.
    """
    if d_model % 2:
        raise ValueError(f"sinusoidal relative positions need an even dimension, got {d_model}")
    inv_freq = torch.pow(10000.0, -torch.arange(0, d_model, 2, dtype=torch.float64, device=distances.device) / d_model)
    angle = distances.to(torch.float64)[..., None] * inv_freq  # (..., d/2)
    table = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)  # interleave: sin, cos, sin, cos …
    return table.to(dtype)


def rel_shift(x: Tensor) -> Tensor:
    """(..., T, 2T − 1) scores against distances T−1 … −(T−1) → (..., T, T) with out[i, j] at distance i − j.

    Column c of row i holds distance T − 1 − c, so out[i, j] = x[i, T − 1 − i + j]: row i must move
    left by T − 1 − i. Padding one zero column in front of every row, reading the flat buffer with
    rows one element *shorter* (2T − 1 instead of 2T) after skipping T elements, moves row i left by
    exactly that amount; the first T columns are the answer. No gather, one copy.
    """
    *batch, t, n = x.shape
    if n != 2 * t - 1:
        raise ValueError(f"rel_shift expects (..., T, 2T-1) scores, got (..., {t}, {n})")
    padded = torch.cat([x.new_zeros(*batch, t, 1), x], dim=-1)  # (..., T, 2T)
    flat = padded.reshape(*batch, t * 2 * t)[..., t:]  # drop the first T entries
    return flat.reshape(*batch, t, 2 * t - 1)[..., :t]


class RelPositionMultiHeadAttention(nn.Module):
    """Multi-head self-attention with Transformer-XL relative positions; optionally local + global tokens.

    Parameters: fused W_q, W_k, W_v (d → 3d, with bias), W_o (d → d, with bias), W_R (d → d, no bias;
    projects the sinusoidal distance embeddings), and the biases u, v: (H, d_head).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, *, window: int | None = None, n_global: int = 0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        if window is not None and window < 1:
            raise ValueError(f"window must be None (full attention) or at least 1, got {window}")
        if n_global and window is None:
            raise ValueError("global tokens only make sense with a limited window; set window= or n_global=0")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.dropout, self.window, self.n_global = dropout, window, n_global
        self.qkv_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.pos_proj = nn.Linear(d_model, d_model, bias=False)  # W_R
        self.pos_bias_u = nn.Parameter(torch.zeros(n_heads, self.d_head))  # u
        self.pos_bias_v = nn.Parameter(torch.zeros(n_heads, self.d_head))  # v

    def _split(self, x: Tensor) -> Tensor:  # (B, T, D) -> (B, H, T, d_head)
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.d_head).transpose(1, 2)

    def _positions(self, distances: Tensor) -> Tensor:
        """r = W_R R(distances): (...,) → (..., H, d_head)."""
        r = self.pos_proj(relative_sinusoids(distances, self.d_model, self.pos_proj.weight.dtype))
        return r.view(*distances.shape, self.n_heads, self.d_head)

    def forward(self, x: Tensor, keep: Tensor | None = None, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """x: (B, T, D); keep: (B, T) booleans, True = real frame. Returns ((B, T, D), weights (B, H, T, T) or None)."""
        b, t, _ = x.shape
        q, k, v = (self._split(z) for z in self.qkv_proj(x).chunk(3, dim=-1))  # (B, H, T, dh) each
        q_u = q + self.pos_bias_u[:, None, :]  # (q + u) meets the keys' content
        q_v = q + self.pos_bias_v[:, None, :]  # (q + v) meets the distances
        scale = 1.0 / math.sqrt(self.d_head)
        p_drop = self.dropout if self.training else 0.0

        if self.window is None:
            r = self._positions(torch.arange(t - 1, -t, -1, device=x.device))  # (2T−1, H, dh), distances T−1 … −(T−1)
            bd = rel_shift(torch.einsum("bhtd,nhd->bhtn", q_v, r))  # (B, H, T, T)
            mask = None if keep is None else padding_mask(keep)
            out, weights = attention(q_u, k, v, mask, bias=bd * scale, dropout_p=p_drop, need_weights=need_weights)
        else:
            if need_weights:
                raise ValueError("need_weights is not available with a limited window (no T × T matrix is built)")
            out = self._local(q_u, q_v, k, v, keep, scale, p_drop)
            weights = None
        return self.out_proj(out.transpose(1, 2).reshape(b, t, self.d_model)), weights

    def _local(self, q_u: Tensor, q_v: Tensor, k: Tensor, v: Tensor, keep: Tensor | None, scale: float, p_drop: float) -> Tensor:
        """Banded attention for the frames, full attention for the G global tokens at the front."""
        b, _, t, _ = q_u.shape
        g, dev = self.n_global, q_u.device
        w = min(self.window, max(t - g, 1))  # distances between frames never exceed F − 1
        if keep is None:
            keep = torch.ones(b, t, dtype=torch.bool, device=dev)
        # Frames: positions g … t−1. Band column w + δ is key i + δ, at distance −δ.
        r_band = self._positions(torch.arange(w, -w - 1, -1, device=dev))  # (2w+1, H, dh)
        band = torch.einsum("bhtd,nhd->bhtn", q_v[:, :, g:], r_band) * scale  # (B, H, F, 2w+1)
        global_k = global_v = global_bias = None
        if g:
            global_k, global_v = k[:, :, :g], v[:, :, :g]
            # Frame at position g + i sees global token p < g at distance g + i − p.
            dist = torch.arange(g, t, device=dev)[:, None] - torch.arange(g, device=dev)[None, :]  # (F, G)
            global_bias = torch.einsum("bhtd,tghd->bhtg", q_v[:, :, g:], self._positions(dist)) * scale
        frames = local_attention(
            q_u[:, :, g:], k[:, :, g:], v[:, :, g:], w, keep=keep[:, g:], band_bias=band,
            global_k=global_k, global_v=global_v, global_bias=global_bias, dropout_p=p_drop,
        )  # (B, H, F, dh)
        if not g:
            return frames
        # Global tokens see everything: G queries × T keys, still linear in T.
        dist = torch.arange(g, device=dev)[:, None] - torch.arange(t, device=dev)[None, :]  # (G, T)
        bias = torch.einsum("bhgd,gthd->bhgt", q_v[:, :, :g], self._positions(dist)) * scale
        tokens, _ = attention(q_u[:, :, :g], k, v, padding_mask(keep), bias=bias, dropout_p=p_drop)
        return torch.cat([tokens, frames], dim=2)

r"""Scaled dot-product attention — the one place in transmodal where attention is computed.

"Attention Is All You Need" (Vaswani et al., 2017), eq. (1):

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V

with an optional additive bias B (relative positions, ALiBi, …) inside the softmax,
softmax(Q Kᵀ / √d_k + B), and a boolean mask where **True means "may attend"** and False
positions get a score of −∞.

Every model calls :func:`attention` (usually through :class:`~transmodal.nn.MultiHeadAttention`);
it hands the work to ``torch.nn.functional.scaled_dot_product_attention`` (fused kernels on CPU
and GPU). Only when the caller asks for the attention weights — to draw them — does it compute the
softmax explicitly, with the same masking rules.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def causal_mask(q_len: int, k_len: int, device: torch.device | None = None) -> Tensor:
    """Boolean (q_len, k_len) mask, True where query i may see key j.

    The queries are taken to be the *last* ``q_len`` positions of the ``k_len`` keys (as during
    cached incremental decoding), so query i sits at absolute position ``k_len - q_len + i`` and may
    attend keys j ≤ that position.
    """
    offset = k_len - q_len
    q_pos = torch.arange(q_len, device=device)[:, None] + offset
    k_pos = torch.arange(k_len, device=device)[None, :]
    return k_pos <= q_pos


def padding_mask(lengths_or_keep: Tensor) -> Tensor:
    """Key-padding mask (B, S) of booleans → (B, 1, 1, S), ready to broadcast over heads and queries."""
    if lengths_or_keep.dtype != torch.bool:
        raise TypeError("padding_mask expects a boolean (B, S) tensor with True for real tokens")
    return lengths_or_keep[:, None, None, :]


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    causal: bool = False,
    bias: Tensor | None = None,
    dropout_p: float = 0.0,
    need_weights: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """softmax(Q Kᵀ/√d_k + bias) V with boolean masks.

    Args:
        q: (B, H, T, d_k) queries.  k: (B, H, S, d_k) keys.  v: (B, H, S, d_v) values.
        mask: boolean, broadcastable to (B, H, T, S); True = may attend. A key-padding mask is
            (B, 1, 1, S) (see :func:`padding_mask`).
        causal: also forbid attending to later positions (see :func:`causal_mask`).
        bias: float, broadcastable to (B, H, T, S), added to the scores before the softmax.
        dropout_p: dropout on the attention weights (pass 0.0 at evaluation time).
        need_weights: also return the (B, H, T, S) attention weights (computed explicitly).

    Returns:
        (out (B, H, T, d_v), weights or None)
    """
    t, s = q.shape[-2], k.shape[-2]
    allowed = mask
    if causal:
        c = causal_mask(t, s, q.device)
        allowed = c if allowed is None else allowed & c

    if need_weights:
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        if bias is not None:
            scores = scores + bias
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if dropout_p > 0.0:
            weights = F.dropout(weights, p=dropout_p)
        return weights @ v, weights

    attn_mask = allowed
    if bias is not None:
        attn_mask = bias if allowed is None else bias.masked_fill(~allowed, float("-inf"))
    # Let SDPA pick its causal kernel when the mask is exactly "square causal".
    use_is_causal = causal and mask is None and bias is None and t == s
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=None if use_is_causal else attn_mask, dropout_p=dropout_p, is_causal=use_is_causal
    )
    return out, None

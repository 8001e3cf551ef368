r"""Limited-context ("local") attention with optional global tokens, in time and memory linear in T.

Each query i attends only to keys j with |i − j| ≤ w (a band of width 2w + 1), as in Longformer
(Beltagy et al. 2020) and Fast Conformer's limited-context attention (Rekesh et al. 2023):

    out_i = Σ_{|j−i| ≤ w} softmax_j( q_i·k_j/√d + B_{i, j−i} ) v_j      (+ the global keys, below)

Computing the full T × T score matrix and masking it would cost O(T²). Instead the queries are cut
into blocks of w frames; block b (queries bw … bw + w − 1) can only reach keys bw − w … bw + 2w − 1,
i.e. itself and its two neighbours. Every block therefore attends to 3w keys, with a (w × 3w) mask
that removes the pairs farther than w apart, and the whole computation is nb = ⌈T/w⌉ independent
attentions of size w × 3w: O(T·w) time and memory. (The last block is padded; its padded queries
are dropped and its padded keys are masked.)

Global tokens (Longformer's global attention; Fast Conformer adds one for long audio): G extra
keys/values that *every* query may attend to, whatever its position. The other direction — a
global token attending to every frame — is an ordinary attention of G queries over T keys, also
linear in T; :class:`~transmodal.nn.relative.RelPositionMultiHeadAttention` does it.

The attention itself is computed by :func:`transmodal.nn.attention.attention`, once, on all blocks
at once (blocks are folded into the head axis).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from transmodal.nn.attention import attention


def _pad_time(x: Tensor, before: int, after: int, value: float | bool = 0) -> Tensor:
    """Pad the time axis (second-to-last for (B, H, T, d); last for (B, T) masks)."""
    if x.dim() == 2:
        return F.pad(x, (before, after), value=value)
    return F.pad(x, (0, 0, before, after), value=value)


def _windows(x: Tensor, nb: int, w: int, prefix: Tensor | None = None) -> Tensor:
    """x (…, (nb + 2)·w, d) → the nb overlapping windows of 3w frames, starting every w: (…, nb, 3w, d).

    Window b is chunks b, b + 1, b + 2 of the w-frame chunks side by side (what ``unfold`` gives, built from
    slices so that it also traces to ONNX with a dynamic length). ``prefix`` (…, nb, G, d), e.g. the global keys,
    is put in front of every window in the same copy.
    """
    chunks = x.view(*x.shape[:-2], nb + 2, w, x.shape[-1])
    parts = ([] if prefix is None else [prefix]) + [chunks.narrow(-3, i, nb) for i in range(3)]
    return torch.cat(parts, dim=-2)


def local_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    window: int,
    *,
    keep: Tensor | None = None,
    band_bias: Tensor | None = None,
    global_k: Tensor | None = None,
    global_v: Tensor | None = None,
    global_bias: Tensor | None = None,
    dropout_p: float = 0.0,
) -> Tensor:
    """Banded attention: query i sees keys j with |i − j| ≤ ``window`` (and all global keys).

    Args:
        q: (B, H, T, d_k) queries.  k: (B, H, T, d_k) keys.  v: (B, H, T, d_v) values (same positions).
        window: w ≥ 1, how far each query looks to either side.
        keep: (B, T) booleans, True = real frame; padded keys are never attended.
        band_bias: (B, H, T, 2w + 1) float added to the scores; column w + δ is for key j = i + δ.
        global_k: (B, H, G, d_k), global_v: (B, H, G, d_v) keys/values every query may attend to.
        global_bias: (B, H, T, G) float added to the scores of the global keys.
        dropout_p: dropout on the attention weights.

    Returns:
        (B, H, T, d_v). A padded query (keep False) sees only itself (and the global keys), so that
        no row of the softmax is empty; its output is meaningless and should be ignored.
    """
    b, h, t, d_k = q.shape
    if window < 1:
        raise ValueError(f"window must be at least 1 frame, got {window}")
    if band_bias is not None and band_bias.shape[-1] != 2 * window + 1:
        raise ValueError(f"band_bias must have 2·window + 1 = {2 * window + 1} columns, got {band_bias.shape[-1]}")
    if (global_k is None) != (global_v is None):
        raise ValueError("pass both global_k and global_v, or neither")

    # Distances never exceed T − 1, so a window wider than the sequence changes nothing: clamp it,
    # and drop the band-bias columns for offsets that cannot occur.
    w = min(window, t)
    if band_bias is not None and w < window:
        band_bias = band_bias[..., window - w : window + w + 1]

    nb = (t + w - 1) // w  # number of query blocks, ⌈T / w⌉ (exported to ONNX as written: its integer division truncates)
    extra = nb * w - t  # padding of the last block

    # Queries (B, H, nb, w, d); keys/values of block b are positions (b−1)w … (b+2)w − 1 → (B, H, nb, 3w, d).
    q_blocks = _pad_time(q, 0, extra).view(b, h, nb, w, d_k)
    # With global keys/values, they come first in every block's window (G + 3w keys).
    g = 0 if global_k is None else global_k.shape[2]
    k_global = None if global_k is None else global_k[:, :, None].expand(b, h, nb, g, d_k)
    v_global = None if global_v is None else global_v[:, :, None].expand(b, h, nb, g, v.shape[-1])
    k_blocks = _windows(_pad_time(k, w, extra + w), nb, w, k_global)
    v_blocks = _windows(_pad_time(v, w, extra + w), nb, w, v_global)

    # Which (query, key) pairs are allowed: within the band, key a real frame — or the query itself.
    row = torch.arange(w, device=q.device)[:, None]  # query's place in its block
    col = torch.arange(3 * w, device=q.device)[None, :]  # key's place in the block's 3w window
    offset = col - w - row  # (w, 3w): j − i
    if keep is None:
        keep = torch.ones(b, t, dtype=torch.bool, device=q.device)
    key_real = _windows(_pad_time(keep, w, extra + w, value=False)[..., None], nb, w)[..., 0]  # (B, nb, 3w)
    allowed = ((offset.abs() <= w) & key_real[:, :, None, :]) | (offset == 0)  # (B, nb, w, 3w)

    bias = None
    if band_bias is not None:
        # bias[b, r, c] = band_bias[query bw + r, column w + (j − i)] with j − i = c − w − r.
        band = _pad_time(band_bias, 0, extra).view(b, h, nb, w, 2 * w + 1)
        column = (offset + w).clamp(0, 2 * w).expand(b, h, nb, w, 3 * w)  # out-of-band pairs are masked anyway
        bias = band.gather(-1, column)  # (B, H, nb, w, 3w)

    if global_k is not None:
        allowed = torch.cat([allowed.new_ones(b, nb, w, g), allowed], dim=3)
        if global_bias is not None or bias is not None:
            gb = q.new_zeros(b, h, t, g) if global_bias is None else global_bias
            gb = _pad_time(gb, 0, extra).view(b, h, nb, w, g)
            lb = q.new_zeros(b, h, nb, w, 3 * w) if bias is None else bias
            bias = torch.cat([gb, lb], dim=-1)

    # Fold the blocks into the head axis: (B, H·nb, w, ·) — nb small attentions in one call.
    s = k_blocks.shape[3]
    mask = allowed[:, None].expand(b, h, nb, w, s).reshape(b, h * nb, w, s)
    out, _ = attention(
        q_blocks.reshape(b, h * nb, w, d_k),
        k_blocks.reshape(b, h * nb, s, d_k),
        v_blocks.reshape(b, h * nb, s, v.shape[-1]),
        mask,
        bias=None if bias is None else bias.reshape(b, h * nb, w, s),
        dropout_p=dropout_p,
    )
    return out.view(b, h, nb * w, v.shape[-1])[:, :, :t]

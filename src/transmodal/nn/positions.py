r"""Position information: sinusoidal (fixed), learned (absolute), and rotary.

Self-attention is permutation-equivariant, so order must be injected.

* Sinusoidal ("Attention Is All You Need", §3.5)::

      PE(t, 2i)   = sin(t / 10000^(2i / d))
      PE(t, 2i+1) = cos(t / 10000^(2i / d))

  added to the (scaled) token embeddings. Extends to any length, no parameters.
* Learned: a table of ``max_len`` trainable vectors, one per position (BERT, GPT-2, ViT).
* Rotary (RoPE, Su et al. 2021): rotate each (x_{2i}, x_{2i+1})-style pair of query/key features
  by the angle t·θ_i, θ_i = base^(−2i/d), so that q_t·k_s depends on t − s only. Applied inside
  attention, not added to the embeddings. We pair feature i with feature i + d/2 ("half" layout).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def sinusoidal_table(length: int, d_model: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """(length, d_model) table with PE(t,2i)=sin(t/10000^(2i/d)), PE(t,2i+1)=cos(t/10000^(2i/d))."""
    if d_model % 2:
        raise ValueError(f"sinusoidal positions need an even d_model, got {d_model}")
    t = torch.arange(length, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)[None, :]
    angle = t / torch.pow(10000.0, two_i / d_model)
    table = torch.empty(length, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle)
    return table.to(dtype)


class SinusoidalPositions(nn.Module):
    """x + PE[offset : offset + T] for x: (B, T, D). No parameters; grows its table on demand."""

    def __init__(self, d_model: int, max_len: int = 1024):
        super().__init__()
        self.d_model = d_model
        self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        end = offset + x.shape[1]
        if end > self.table.shape[0]:
            self.table = sinusoidal_table(max(end, 2 * self.table.shape[0]), self.d_model).to(self.table.device)
        return x + self.table[offset:end].to(x.dtype)


class LearnedPositions(nn.Module):
    """x + P[offset : offset + T] with P a trainable (max_len, D) table."""

    def __init__(self, d_model: int, max_len: int = 1024, init_std: float = 0.02):
        super().__init__()
        self.max_len = max_len
        self.table = nn.Parameter(torch.randn(max_len, d_model) * init_std)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        end = offset + x.shape[1]
        if end > self.max_len:
            raise ValueError(
                f"sequence reaches position {end} but learned positions stop at max_len={self.max_len}; "
                "use shorter inputs or a model with a larger max_len"
            )
        return x + self.table[offset:end]


class RotaryEmbedding(nn.Module):
    """Rotary position embedding applied to queries and keys of shape (B, H, T, d_head)."""

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head dimension, got {head_dim}")
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """Rotate x: (..., T, d) so that position t = offset + index is encoded by angle t·θ_i."""
        t = torch.arange(offset, offset + x.shape[-2], device=x.device, dtype=torch.float64)
        angle = t[:, None] * self.inv_freq[None, :]  # (T, d/2)
        cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
        half = x.shape[-1] // 2
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def make_positions(kind: str, d_model: int, max_len: int) -> nn.Module | None:
    """Additive position module by name: 'sinusoidal', 'learned', or None for 'rotary'/'none'."""
    if kind == "sinusoidal":
        return SinusoidalPositions(d_model, max_len)
    if kind == "learned":
        return LearnedPositions(d_model, max_len)
    if kind in ("rotary", "none"):
        return None
    raise ValueError(f"unknown position kind {kind!r}; choose sinusoidal, learned, rotary or none")


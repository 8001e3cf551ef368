r"""Fast Conformer: "Fast Conformer with Linearly Scalable Attention for Efficient Speech Recognition"
(Rekesh et al. 2023).

Three changes to Conformer (:mod:`transmodal.models.conformer`), the blocks being otherwise the same:

1. 8× subsampling instead of 4× (80 ms frames): three stride-2 3×3 stages with 256 channels, the
   second and third depthwise-separable (:class:`~transmodal.nn.subsampling.Conv2dSubsampling`
   with ``separable=True``), then Linear(256·10 → d). Attention over T/8 frames costs 4× less.
2. A depthwise kernel of 9 instead of 31 (at 80 ms a frame already sees 9 × 80 ms = 720 ms).
3. For long audio, *limited-context attention*: each frame attends to ±w frames
   (``window=w``; the paper fine-tunes with 128 each side), computed block by block in time and
   memory linear in the length (:func:`~transmodal.nn.local_attention.local_attention`), plus one
   *global token* that attends to all frames and that all frames attend to (``global_tokens=1``).

Here the global token is a learned vector prepended to the frames after subsampling (one per
model, like a [CLS] token) and dropped from the output; it shares the attention projections with
the frames and skips the convolution modules. (Longformer gives global tokens their own Q/K/V
projections; we do not.) With a window wider than the sequence, each block's attention equals full
relative-position attention over [global token; frames].

Parameter count of the encoder ("L": d = 512, 17 layers, 8 heads, 256 subsampling channels,
kernel 9): 108.76 M. The paper's 115 M counts the whole transducer; NeMo's RNN-T decoder for it
(1-layer LSTM of 640, a 1024-token embedding and a 640-wide joint network) adds about 5.3 M,
giving ≈ 114.1 M (the tests check encoder + that decoder against 115 M within 5 %).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from transmodal.models.conformer import ConformerBlock
from transmodal.models.registry import register
from transmodal.nn.lengths import check_features, check_out_lengths, length_mask
from transmodal.nn.subsampling import Conv2dSubsampling


@dataclass
class FastConformerConfig:
    n_mels: int = 80
    d_model: int = 512
    n_layers: int = 17
    n_heads: int = 8
    ff_mult: int = 4
    kernel_size: int = 9
    subsampling_channels: int = 256
    dropout: float = 0.1
    attn_dropout: float = 0.0
    window: int | None = None  # None = full attention; w = each frame attends to ±w frames
    global_tokens: int = 0  # learned tokens every frame attends to (needs a window)


CONFIGS: dict[str, FastConformerConfig] = {
    # The paper's Fast Conformer-L (full attention) and its long-form variant (±128 frames + 1 global token).
    "L": FastConformerConfig(d_model=512, n_layers=17, n_heads=8),
    "L_longform": FastConformerConfig(d_model=512, n_layers=17, n_heads=8, window=128, global_tokens=1),
    # Smaller sizes (NeMo's FastConformer small / medium shapes).
    "medium": FastConformerConfig(d_model=256, n_layers=16, n_heads=4),
    "small": FastConformerConfig(d_model=176, n_layers=16, n_heads=4),
    # ≈2.8 M parameters (see conformer "cpu"), local attention ±16 frames (1.28 s at 80 ms) + 1 global token.
    "cpu": FastConformerConfig(d_model=144, n_layers=5, n_heads=4, subsampling_channels=144, window=16, global_tokens=1),
    # CPU-sized model for tests, with limited context.
    "tiny": FastConformerConfig(d_model=64, n_layers=2, n_heads=4, subsampling_channels=32, dropout=0.0, window=4, global_tokens=1),
}


def config(name: str, **overrides) -> FastConformerConfig:
    """A named configuration with fields replaced, e.g. ``config("L", window=128, global_tokens=1)``."""
    if name not in CONFIGS:
        raise ValueError(f"unknown fast_conformer configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


@register("fast_conformer", FastConformerConfig)
class FastConformer(nn.Module):
    """``forward(feats (B, T, n_mels), lengths (B,))`` → (out (B, T', d_model), out_lengths (B,)), T' = ⌈T/8⌉."""

    def __init__(self, config: FastConformerConfig):
        super().__init__()
        c = self.config = config
        if c.global_tokens and c.window is None:
            raise ValueError("global_tokens need limited-context attention: set window= (e.g. 128) or global_tokens=0")
        self.embed = Conv2dSubsampling(c.n_mels, c.d_model, c.subsampling_channels, n_stages=3, separable=True, padding=1)
        self.subsampling = self.embed.factor  # 8
        self.global_tokens = nn.Parameter(torch.randn(c.global_tokens, c.d_model) * 0.02) if c.global_tokens else None
        self.dropout = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            ConformerBlock(
                c.d_model, c.n_heads, c.ff_mult, c.kernel_size, c.dropout, c.attn_dropout,
                window=c.window, n_global=c.global_tokens,
            )
            for _ in range(c.n_layers)
        )

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        check_features(feats, lengths, self.config.n_mels)
        check_out_lengths(self.embed.out_lengths(lengths), lengths, self.subsampling, self.embed.min_frames())
        x, out_lengths = self.embed(feats, lengths)  # (B, T', D)
        b, t, _ = x.shape
        keep = length_mask(out_lengths, t)
        x = self.dropout(x)
        g = self.config.global_tokens
        if g:
            x = torch.cat([self.global_tokens.expand(b, g, -1).to(x.dtype), x], dim=1)  # (B, G + T', D)
            keep = torch.cat([keep.new_ones(b, g), keep], dim=1)
        for block in self.blocks:
            x = block(x, keep)
        x, keep = x[:, g:], keep[:, g:]
        return x * keep[..., None].to(x.dtype), out_lengths

r"""Conformer encoder: "Conformer: Convolution-augmented Transformer for Speech Recognition" (Gulati et al. 2020).

    (B, T, 80) log-mels ─Conv2d subsampling (2 × [3×3, stride 2] + Linear, 4×)─ Dropout ─ N × ConformerBlock ─ (B, T/4, d)

A Conformer block (paper §2, eq. 1) sandwiches self-attention and convolution between two
half-step ("macaron") feed-forward modules:

    x̃   = x  + ½ FFN(x)
    x'  = x̃  + MHSA(x̃)
    x'' = x' + Conv(x')
    y   = LayerNorm(x'' + ½ FFN(x''))

* FFN (§2.3): LayerNorm, Linear(d → 4d), Swish, Dropout, Linear(4d → d), Dropout.
* MHSA (§2.1): LayerNorm, multi-head self-attention with Transformer-XL relative positions
  (:class:`~transmodal.nn.relative.RelPositionMultiHeadAttention`), Dropout.
* Conv (§2.2): :class:`~transmodal.nn.conv.ConvolutionModule` — LayerNorm, pointwise d → 2d + GLU,
  depthwise conv (kernel 31), BatchNorm, Swish, pointwise, Dropout.

Named configurations follow Table 1 (the paper lists a kernel of 32; an odd 31 keeps lengths
symmetric). Parameter counts below are for *this encoder* — subsampling convolutions, their linear
map and the blocks; the paper's column counts the whole RNN-Transducer, i.e. also a 1-layer LSTM
decoder (320 / 640 / 640 units) and the joint network, which this file does not build:

    name   d    layers heads   this encoder   paper (encoder + LSTM decoder + joint)
    S      144  16     4        8.69 M         10.3 M
    M      256  16     4       27.26 M         30.7 M
    L      512  17     8      114.85 M        118.8 M

Per block that is 24d² + Kd + 32d (two FFNs 16d², attention 5d² with W_R, convolution 3d²).
The paper does not spell out its decoder; a 1-layer LSTM alone has 0.82 M (320 units) or 3.28 M
(640 units) parameters, and with a 1k word-piece embedding and a joint network the decoder side is
1.63 M / 5.17 M / 5.33 M. The paper's totals lie between "encoder + LSTM" and "encoder + LSTM +
embedding + joint" for all three sizes (the tests check this bracket; the encoder alone is 16 %,
11 % and 3 % below the paper's numbers).

BatchNorm uses batch statistics while training (over real frames only) and running statistics at
evaluation, so "a padded batch gives each item's own output" holds exactly in ``eval()`` mode.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.nn.conv import ConvolutionModule
from transmodal.nn.feedforward import FeedForward
from transmodal.nn.lengths import check_features, check_out_lengths, length_mask
from transmodal.nn.relative import RelPositionMultiHeadAttention
from transmodal.nn.subsampling import Conv2dSubsampling


@dataclass
class ConformerConfig:
    n_mels: int = 80
    d_model: int = 256
    n_layers: int = 16
    n_heads: int = 4
    ff_mult: int = 4  # FFN hidden size = ff_mult · d_model
    kernel_size: int = 31  # depthwise convolution (odd)
    dropout: float = 0.1
    attn_dropout: float = 0.0  # dropout on the attention weights
    subsampling_channels: int | None = None  # None → d_model, as in the paper


CONFIGS: dict[str, ConformerConfig] = {
    # Table 1 of the paper (encoder only; see the module docstring for parameter counts).
    "S": ConformerConfig(d_model=144, n_layers=16, n_heads=4),
    "M": ConformerConfig(d_model=256, n_layers=16, n_heads=4),
    "L": ConformerConfig(d_model=512, n_layers=17, n_heads=8),
    # CPU-sized models.
    "small": ConformerConfig(d_model=144, n_layers=4, n_heads=4),
    # ≈2.6 M parameters; every speech encoder has a "cpu" configuration of about this size, for comparisons.
    "cpu": ConformerConfig(d_model=144, n_layers=4, n_heads=4, kernel_size=15),
    "tiny": ConformerConfig(d_model=64, n_layers=2, n_heads=4, kernel_size=15, dropout=0.0),
}


def config(name: str, **overrides) -> ConformerConfig:
    """A named configuration with fields replaced, e.g. ``config("S", dropout=0.0)``."""
    if name not in CONFIGS:
        raise ValueError(f"unknown conformer configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


class MacaronFeedForward(nn.Module):
    """LayerNorm, Linear(d → mult·d), Swish, Dropout, Linear(mult·d → d), Dropout (the caller halves it)."""

    def __init__(self, d_model: int, mult: int = 4, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, mult * d_model, dropout, activation="swish")
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.ff(self.norm(x)))


class ConformerBlock(nn.Module):
    """x̃ = x + ½FFN(x); x' = x̃ + MHSA(x̃); x'' = x' + Conv(x'); y = LayerNorm(x'' + ½FFN(x'')).

    ``window``/``n_global`` limit the attention (Fast Conformer); the first ``n_global`` positions
    are then global tokens, which take part in attention and the feed-forward modules but not in
    the convolution (they are not frames of the signal).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        ff_mult: int = 4,
        kernel_size: int = 31,
        dropout: float = 0.1,
        attn_dropout: float = 0.0,
        *,
        window: int | None = None,
        n_global: int = 0,
    ):
        super().__init__()
        self.n_global = n_global
        self.ff1 = MacaronFeedForward(d_model, ff_mult, dropout)
        self.attn_norm = nn.LayerNorm(d_model)
        self.attn = RelPositionMultiHeadAttention(d_model, n_heads, attn_dropout, window=window, n_global=n_global)
        self.attn_dropout = nn.Dropout(dropout)
        self.conv = ConvolutionModule(d_model, kernel_size, dropout)
        self.ff2 = MacaronFeedForward(d_model, ff_mult, dropout)
        self.norm_out = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """x: (B, T, D); keep: (B, T) booleans, True = real frame (global tokens count as real)."""
        x = x + 0.5 * self.ff1(x)  # x̃
        x = x + self.attn_dropout(self.attn(self.attn_norm(x), keep)[0])  # x'
        g = self.n_global
        frames_keep = None if keep is None else keep[:, g:]
        x = torch.cat([x[:, :g], x[:, g:] + self.conv(x[:, g:], frames_keep)], dim=1)  # x''
        return self.norm_out(x + 0.5 * self.ff2(x))  # y


@register("conformer", ConformerConfig)
class Conformer(nn.Module):
    """``forward(feats (B, T, n_mels), lengths (B,))`` → (out (B, T', d_model), out_lengths (B,)), T' ≈ T/4."""

    def __init__(self, config: ConformerConfig):
        super().__init__()
        c = self.config = config
        self.embed = Conv2dSubsampling(c.n_mels, c.d_model, c.subsampling_channels or c.d_model, n_stages=2)
        self.subsampling = self.embed.factor  # 4
        self.dropout = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            ConformerBlock(c.d_model, c.n_heads, c.ff_mult, c.kernel_size, c.dropout, c.attn_dropout) for _ in range(c.n_layers)
        )

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        check_features(feats, lengths, self.config.n_mels)
        check_out_lengths(self.embed.out_lengths(lengths), lengths, self.subsampling, self.embed.min_frames())
        x, out_lengths = self.embed(feats, lengths)  # (B, T', D)
        keep = length_mask(out_lengths, x.shape[1])
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x, keep)
        return x * keep[..., None].to(x.dtype), out_lengths

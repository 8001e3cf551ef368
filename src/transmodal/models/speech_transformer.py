r"""Speech Transformer encoder: 4× convolutional subsampling + a plain pre-norm Transformer encoder.

The baseline between the CNN and Conformer (as in ESPnet's Transformer ASR encoder, and
Dong et al. 2018, "Speech-Transformer")::

    (B, T, 80) ─Conv2d subsampling (2 × [3×3, stride 2] + Linear, 4×)─ + PE ─ Dropout
               ─N × [x + MHSA(LN(x)); x + FFN(LN(x))]─ LayerNorm ─ (B, T/4, d)

PE is the fixed sinusoidal table of "Attention Is All You Need" (absolute positions), the layers
are :class:`transmodal.nn.layers.Encoder` with ``norm_first=True`` and a ReLU FFN; padded frames
are masked as keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.nn.attention import padding_mask
from transmodal.nn.layers import Encoder, LayerSpec
from transmodal.nn.lengths import check_features, check_out_lengths, length_mask
from transmodal.nn.positions import SinusoidalPositions
from transmodal.nn.subsampling import Conv2dSubsampling


@dataclass
class SpeechTransformerConfig:
    n_mels: int = 80
    d_model: int = 256
    n_heads: int = 4
    n_layers: int = 12
    d_ff: int | None = 2048  # None → 4·d_model
    dropout: float = 0.1
    attn_dropout: float = 0.0
    max_len: int = 2048  # initial size of the position table (it grows on demand)


CONFIGS: dict[str, SpeechTransformerConfig] = {
    # ESPnet's LibriSpeech Transformer encoder shape (12 × 256, 4 heads, FFN 2048).
    "base": SpeechTransformerConfig(d_model=256, n_heads=4, n_layers=12, d_ff=2048),
    "small": SpeechTransformerConfig(d_model=256, n_heads=4, n_layers=6, d_ff=1024),
    "cpu": SpeechTransformerConfig(d_model=160, n_heads=4, n_layers=6, d_ff=640),  # ≈2.6 M (see conformer "cpu")
    "tiny": SpeechTransformerConfig(d_model=64, n_heads=4, n_layers=2, d_ff=128, dropout=0.0, max_len=256),
}


def config(name: str, **overrides) -> SpeechTransformerConfig:
    if name not in CONFIGS:
        raise ValueError(f"unknown speech_transformer configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


@register("speech_transformer", SpeechTransformerConfig)
class SpeechTransformer(nn.Module):
    """``forward(feats (B, T, n_mels), lengths (B,))`` → (out (B, T', d_model), out_lengths (B,)), T' ≈ T/4."""

    def __init__(self, config: SpeechTransformerConfig):
        super().__init__()
        c = self.config = config
        self.embed = Conv2dSubsampling(c.n_mels, c.d_model, c.d_model, n_stages=2)
        self.subsampling = self.embed.factor  # 4
        self.positions = SinusoidalPositions(c.d_model, c.max_len)
        self.dropout = nn.Dropout(c.dropout)
        spec = LayerSpec(c.d_model, c.n_heads, c.d_ff, c.dropout, c.attn_dropout, "relu", norm_first=True)
        self.encoder = Encoder(spec, c.n_layers)

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        check_features(feats, lengths, self.config.n_mels)
        check_out_lengths(self.embed.out_lengths(lengths), lengths, self.subsampling, self.embed.min_frames())
        x, out_lengths = self.embed(feats, lengths)  # (B, T', D)
        keep = length_mask(out_lengths, x.shape[1])
        x = self.encoder(self.dropout(self.positions(x)), padding_mask(keep))
        return x * keep[..., None].to(x.dtype), out_lengths

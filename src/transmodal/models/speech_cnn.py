r"""A 1-D convolutional speech encoder — the baseline the attention models must beat.

Convolutions over time, treating the 80 mel bins as input channels (no attention, no recurrence)::

    (B, T, 80) ─[Conv1d(k, stride s) → Norm → ReLU → Dropout] per stride─ (B, T/Πs, C)
               ─N × residual [x + Dropout(ReLU(Norm(Conv1d_k(x))))]─ (B, T/Πs, C)

Each output frame sees a receptive field that grows by (k − 1)·(frame step) per layer; with
kernel 5, strides (2, 2) and 6 residual layers a frame sees about 1.1 s of audio — enough for a
syllable, not for a sentence, which is the point of comparing it with the Transformer encoders.

Norm is LayerNorm over channels (per frame; default) or BatchNorm (``norm="batch"``; its training
statistics skip padded frames). Before every convolution the padded frames are zeroed, so a padded
batch gives each item what it gives alone (with BatchNorm, in ``eval()`` mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.nn.lengths import check_features, check_out_lengths, conv_out_lengths, length_mask, zero_padding
from transmodal.nn.norms import MaskedBatchNorm1d


@dataclass
class SpeechCNNConfig:
    n_mels: int = 80
    d_model: int = 256  # channels of every convolution
    n_layers: int = 6  # residual layers after the strided ones
    kernel_size: int = 5  # odd
    strides: tuple[int, ...] = (2, 2)  # one strided layer each; subsampling = their product
    norm: str = "layer"  # "layer" | "batch"
    dropout: float = 0.1


CONFIGS: dict[str, SpeechCNNConfig] = {
    "small": SpeechCNNConfig(d_model=256, n_layers=6, kernel_size=5),
    "cpu": SpeechCNNConfig(d_model=256, n_layers=6, kernel_size=5),  # ≈2.4 M (see conformer "cpu")
    "tiny": SpeechCNNConfig(d_model=64, n_layers=2, kernel_size=5, dropout=0.0),
}


def config(name: str, **overrides) -> SpeechCNNConfig:
    if name not in CONFIGS:
        raise ValueError(f"unknown speech_cnn configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


class ConvLayer(nn.Module):
    """Conv1d → Norm → ReLU → Dropout, with a residual connection when shapes allow (stride 1, same width)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, norm: str, dropout: float):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, kernel_size // 2
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, stride=stride, padding=self.padding)
        self.batch_norm = norm == "batch"
        self.norm = MaskedBatchNorm1d(c_out) if self.batch_norm else nn.LayerNorm(c_out)
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """x: (B, C, T) → ((B, C', T'), lengths')."""
        y = self.conv(zero_padding(x, lengths, time_dim=2))
        out_lengths = conv_out_lengths(lengths, self.kernel_size, self.stride, self.padding)
        if self.batch_norm:
            y = self.norm(y, length_mask(out_lengths, y.shape[-1]))
        else:
            y = self.norm(y.transpose(1, 2)).transpose(1, 2)
        y = self.dropout(self.act(y))
        return (x + y if self.residual else y), out_lengths


@register("speech_cnn", SpeechCNNConfig)
class SpeechCNN(nn.Module):
    """``forward(feats (B, T, n_mels), lengths (B,))`` → (out (B, T', d_model), out_lengths (B,))."""

    def __init__(self, config: SpeechCNNConfig):
        super().__init__()
        c = self.config = config
        if c.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (centred, length-keeping convolutions), got {c.kernel_size}")
        if c.norm not in ("layer", "batch"):
            raise ValueError(f"unknown norm {c.norm!r}; choose 'layer' or 'batch'")
        self.subsampling = math.prod(c.strides)
        layers, width = [], c.n_mels
        for s in c.strides:
            layers.append(ConvLayer(width, c.d_model, c.kernel_size, s, c.norm, c.dropout))
            width = c.d_model
        for _ in range(c.n_layers):
            layers.append(ConvLayer(width, c.d_model, c.kernel_size, 1, c.norm, c.dropout))
            width = c.d_model
        self.layers = nn.ModuleList(layers)

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        check_features(feats, lengths, self.config.n_mels)
        x, out_lengths = feats.transpose(1, 2), lengths  # (B, F, T)
        for layer in self.layers:
            x, out_lengths = layer(x, out_lengths)
        check_out_lengths(out_lengths, lengths, self.subsampling, 1)
        x = x.transpose(1, 2)  # (B, T', D)
        return zero_padding(x, out_lengths), out_lengths

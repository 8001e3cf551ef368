r"""Convolutional front ends that shorten a log-mel sequence before the encoder blocks.

Log-mel frames come every 10 ms (100 Hz); attention over that many frames is wasteful, so speech
encoders first subsample in time with strided 2-D convolutions over the (time, mel) plane, then
flatten channels × remaining mel bins and map them linearly to d_model::

    (B, T, F) → (B, 1, T, F) → [Conv2d(k×k, stride 2) → ReLU] × n → (B, C, T/2ⁿ, F/2ⁿ) → Linear(C·F' → d)

* Conformer (Gulati et al. 2020): two stages of 3×3, stride 2, d_model channels → 4× (40 ms frames).
* Fast Conformer (Rekesh et al. 2023): three stages (8×, 80 ms frames), 256 channels, the second and
  third *depthwise-separable* (a 3×3 depthwise convolution, one filter per channel, then a 1×1
  pointwise convolution), which is what makes 8× cheap.

Each stage's output length is ⌊(L + 2p − k)/2⌋ + 1. Before every stage the frames past each item's
length are zeroed, so a padded batch computes exactly what each item would compute alone.
"""

from __future__ import annotations

from torch import Tensor, nn

from transmodal.nn.lengths import conv_out_lengths, zero_padding


class Conv2dSubsampling(nn.Module):
    """``n_stages`` stride-2 2-D convolutions + linear; ``forward(x (B, T, F), lengths)`` → ((B, T', d), lengths')."""

    def __init__(
        self,
        n_mels: int,
        d_model: int,
        channels: int,
        n_stages: int = 2,
        *,
        separable: bool = False,
        kernel_size: int = 3,
        padding: int = 0,
    ):
        super().__init__()
        if n_stages < 1:
            raise ValueError(f"n_stages must be at least 1, got {n_stages}")
        self.kernel_size, self.padding, self.factor = kernel_size, padding, 2**n_stages
        stages = [nn.Sequential(nn.Conv2d(1, channels, kernel_size, stride=2, padding=padding), nn.ReLU())]
        for _ in range(n_stages - 1):
            if separable:
                conv = [
                    nn.Conv2d(channels, channels, kernel_size, stride=2, padding=padding, groups=channels),  # depthwise
                    nn.Conv2d(channels, channels, 1),  # pointwise
                ]
            else:
                conv = [nn.Conv2d(channels, channels, kernel_size, stride=2, padding=padding)]
            stages.append(nn.Sequential(*conv, nn.ReLU()))
        self.stages = nn.ModuleList(stages)
        f = n_mels
        for _ in range(n_stages):
            f = (f + 2 * padding - kernel_size) // 2 + 1
        if f < 1:
            raise ValueError(f"{n_mels} mel bins are too few for {n_stages} stride-2 stages")
        self.out = nn.Linear(channels * f, d_model)

    def out_lengths(self, lengths: Tensor) -> Tensor:
        for _ in self.stages:
            lengths = conv_out_lengths(lengths, self.kernel_size, 2, self.padding)
        return lengths

    def min_frames(self) -> int:
        """The shortest input that still leaves one output frame."""
        n = 1
        for _ in self.stages:
            n = 2 * (n - 1) + self.kernel_size - 2 * self.padding  # invert ⌊(L + 2p − k)/2⌋ + 1 ≥ n
        return max(n, 1)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = x[:, None]  # (B, 1, T, F)
        for stage in self.stages:
            x = stage(zero_padding(x, lengths, time_dim=2))
            lengths = conv_out_lengths(lengths, self.kernel_size, 2, self.padding)
        b, c, t, f = x.shape
        x = self.out(x.permute(0, 2, 1, 3).reshape(b, t, c * f))  # (B, T', d)
        return x, lengths

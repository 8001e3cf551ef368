r"""Normalisations beyond ``nn.LayerNorm``: BiasNorm (Zipformer) and a BatchNorm that skips padding.

* BiasNorm ("Zipformer", Yao et al. 2024), a replacement for LayerNorm::

      BiasNorm(x) = x / RMS[x − b] · exp(γ),     RMS[z] = sqrt(mean_c z_c²)

  with a learned channel-wise bias b (D,) and a learned *scalar* γ. Unlike LayerNorm it does not
  subtract the mean from the output (only inside the RMS) and keeps no per-channel scale, so the
  vector's length is retained: the paper argues that LayerNorm lets a model "defeat" the
  normalisation by making one channel huge, and that BiasNorm keeps length information usable.
  We add a tiny ε inside the square root (the paper has none) so that an all-zero padded frame
  with b = 0 gives 0, not NaN.

* :class:`MaskedBatchNorm1d` is ``nn.BatchNorm1d`` over (B, C, T) whose *training* statistics are
  taken over real frames only, so the amount of padding in a batch does not shift the mean and
  variance (nor the running estimates used at evaluation). In evaluation mode it is exactly
  ``nn.BatchNorm1d`` (same parameters, same buffers, same state-dict keys).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class BiasNorm(nn.Module):
    """x / RMS[x − b] · exp(γ) over the last dimension; b: (D,) learned, γ: scalar learned (``log_scale``)."""

    def __init__(self, d_model: int, eps: float = 1e-8):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(d_model))
        self.log_scale = nn.Parameter(torch.zeros(()))  # γ; exp(γ) is the output scale
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:  # (..., D) -> (..., D)
        rms = ((x - self.bias).pow(2).mean(dim=-1, keepdim=True) + self.eps).sqrt()
        return x / rms * self.log_scale.exp()


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over (B, C, T) whose training statistics use only frames where ``keep`` is True."""

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """x: (B, C, T); keep: (B, T) booleans, True = real frame (None = all frames are real)."""
        if keep is None or not self.training or not self.track_running_stats:
            return super().forward(x)
        w = keep[:, None, :].to(x.dtype)  # (B, 1, T)
        n = w.sum()
        if n < 2:
            raise ValueError("BatchNorm needs at least 2 real frames in a training batch")
        mean = (x * w).sum(dim=(0, 2)) / n  # (C,)
        var = ((x - mean[None, :, None]).pow(2) * w).sum(dim=(0, 2)) / n  # biased, used to normalise
        with torch.no_grad():
            self.num_batches_tracked += 1
            momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            self.running_mean.lerp_(mean.detach(), momentum)
            self.running_var.lerp_(var.detach() * n / (n - 1), momentum)  # unbiased, as nn.BatchNorm does
        y = (x - mean[None, :, None]) / torch.sqrt(var[None, :, None] + self.eps)
        if self.affine:
            y = y * self.weight[None, :, None] + self.bias[None, :, None]
        return y


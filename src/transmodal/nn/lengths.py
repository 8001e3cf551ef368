r"""Lengths and padding for batches of variable-length sequences (speech frames).

A padded batch ``x: (B, T, D)`` carries ``lengths: (B,)``; frame t of item b is real when
t < lengths[b]. The speech encoders keep one promise: *padded frames never influence real ones*,
so a padded batch gives the same outputs as each item run alone. Three habits keep it:

* attention masks the padded keys (:func:`length_mask` → :func:`~transmodal.nn.attention.padding_mask`);
* every convolution that looks across time sees zeros where the item has ended
  (:func:`zero_padding` before it), exactly what the item alone would see from zero padding;
* every strided stage recomputes the lengths with the convolution arithmetic
  (:func:`conv_out_lengths`).
"""

from __future__ import annotations

import torch
from torch import Tensor


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Boolean (B, max_len) mask, True where frame t < lengths[b] (a real frame)."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def zero_padding(x: Tensor, lengths: Tensor, time_dim: int = 1) -> Tensor:
    """x with every padded frame (t ≥ lengths[b]) set to zero; ``time_dim`` is the axis of t (batch is axis 0)."""
    keep = length_mask(lengths, x.shape[time_dim])  # (B, T)
    shape = [1] * x.dim()
    shape[0], shape[time_dim] = keep.shape
    return x * keep.view(shape).to(x.dtype)


def conv_out_lengths(lengths: Tensor, kernel: int, stride: int, padding: int) -> Tensor:
    """Output lengths of a 1-D (or time-axis) convolution: ⌊(L + 2p − k) / s⌋ + 1."""
    return torch.div(lengths + 2 * padding - kernel, stride, rounding_mode="floor") + 1


def check_features(feats: Tensor, lengths: Tensor, n_mels: int) -> None:
    """Validate an encoder's input ``feats: (B, T, F)`` and ``lengths: (B,)`` with a message saying what to fix."""
    if feats.dim() != 3 or feats.shape[-1] != n_mels:
        raise ValueError(
            f"expected features of shape (batch, frames, {n_mels}), got {tuple(feats.shape)}; "
            f"pass log-mel frames with {n_mels} bins, batch first"
        )
    if not feats.is_floating_point():
        raise TypeError(f"features must be a floating-point tensor, got {feats.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != feats.shape[0]:
        raise ValueError(f"lengths must have shape ({feats.shape[0]},), one per batch item, got {tuple(lengths.shape)}")
    if lengths.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"lengths must be an integer tensor (torch.long), got {lengths.dtype}")
    if feats.device.type != "meta" and lengths.numel() and (
        int(lengths.min()) < 1 or int(lengths.max()) > feats.shape[1]
    ):
        raise ValueError(
            f"lengths must lie in [1, {feats.shape[1]}] (the padded number of frames), "
            f"got min {int(lengths.min())} and max {int(lengths.max())}"
        )


def check_out_lengths(out_lengths: Tensor, in_lengths: Tensor, factor: int, min_frames: int | str) -> None:
    """Fail clearly when an input is too short to leave any frame after subsampling."""
    if out_lengths.device.type != "meta" and out_lengths.numel() and int(out_lengths.min()) < 1:
        short = int(in_lengths[out_lengths < 1].min())
        raise ValueError(
            f"an input of {short} frames leaves no frame after {factor}x subsampling; "
            f"inputs need at least {min_frames} frames"
        )

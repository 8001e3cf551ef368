r"""Batch-wise image augmentation on (B, C, H, W) tensors, each image with its own random draw.

* :func:`random_crop` — pad every side by ``p`` pixels (``fill``), then cut an H × W window at a
  uniformly random offset (0…2p each way): a random shift by up to ±p pixels.
* :func:`random_hflip` — mirror left↔right with probability ``p``.
* :func:`random_erasing` — with probability ``p`` replace one rectangle by uniform noise (Zhong et
  al. 2017): its area is a fraction s ~ U(s_min, s_max) of the image and its aspect ratio r has a
  log-uniform law on [r_min, r_max]; h = √(s·H·W·r), w = √(s·H·W / r), clipped to the image.

All draws come from the ``generator`` passed in, so a seeded generator gives reproducible batches
(the recipes seed one per epoch, which is what lets training resume exactly).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_crop(x: Tensor, padding: int, generator: torch.Generator | None = None, fill: float = 0.0) -> Tensor:
    """(B, C, H, W) → (B, C, H, W): pad by ``padding`` then crop at a random offset per image."""
    if padding < 0:
        raise ValueError(f"padding={padding} must be >= 0")
    if padding == 0:
        return x
    b, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding), value=fill)
    top = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=x.device)
    left = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=x.device)
    rows = (top[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (B, H, 1)
    cols = (left[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()  # gather windows


def random_hflip(x: Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image left↔right with probability ``p``."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_erasing(
    x: Tensor,
    p: float = 0.25,
    generator: torch.Generator | None = None,
    scale: tuple[float, float] = (0.02, 0.33),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> Tensor:
    """With probability ``p`` per image, fill one random rectangle with U(0, 1) noise (values in [0, 1] images)."""
    if p <= 0:
        return x
    b, c, h, w = x.shape
    dev = x.device
    area = torch.empty(b, device=dev).uniform_(*scale, generator=generator) * h * w
    log_r = torch.empty(b, device=dev).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    eh = (area * log_r.exp()).sqrt().round().clamp(1, h).long()
    ew = (area / log_r.exp()).sqrt().round().clamp(1, w).long()
    top = (torch.rand(b, generator=generator, device=dev) * (h - eh + 1)).long()
    left = (torch.rand(b, generator=generator, device=dev) * (w - ew + 1)).long()
    apply = torch.rand(b, generator=generator, device=dev) < p
    r = torch.arange(h, device=dev)[None, :, None]
    q = torch.arange(w, device=dev)[None, None, :]
    inside = (r >= top[:, None, None]) & (r < (top + eh)[:, None, None]) & (q >= left[:, None, None]) & (q < (left + ew)[:, None, None])
    mask = (inside & apply[:, None, None])[:, None]  # (B, 1, H, W)
    noise = torch.rand(x.shape, generator=generator, device=dev, dtype=x.dtype)
    return torch.where(mask, noise, x)

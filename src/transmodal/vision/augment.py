r"""Batch-wise image augmentation on (B, C, H, W) tensors, each image with its own random draw.

* :func:`random_crop` — pad every side by ``p`` pixels (``fill``), then cut an H × W window at a
  uniformly random offset (0…2p each way): a random shift by up to ±p pixels.
* :func:`random_hflip` — mirror left↔right with probability ``p``.
* :func:`random_erasing` — with probability ``p`` replace one rectangle by uniform noise (Zhong et
  al. 2017): its area is a fraction s ~ U(s_min, s_max) of the image and its aspect ratio r has a
  log-uniform law on [r_min, r_max]; h = √(s·H·W·r), w = √(s·H·W / r), clipped to the image.

Mixing images of a batch (label-mixing regularisers; the labels become distributions over the K classes):

* :func:`mixup` (Zhang et al. 2018) — x̃ = λ·x_i + (1 − λ)·x_j, ỹ = λ·y_i + (1 − λ)·y_j with λ ~ Beta(α, α)
  and j the batch read backwards (one λ per batch).
* :func:`cutmix` (Yun et al. 2019) — paste a box of x_j into x_i; the box has area (1 − λ)·HW, aspect
  ratio that of the image, a uniformly random centre, and is clipped to the image; λ is then recomputed
  from the box actually pasted, λ = 1 − (box area)/(HW), and ỹ = λ·y_i + (1 − λ)·y_j.
* :func:`mix_batch` — one of the two per batch (``cutmix_prob``), with probability ``p``.

Test-time augmentation (no randomness):

* :func:`tta_views` — every shift of the picture by (dx, dy) ∈ [−s, s]² pixels (zero fill), and, with ``flip``,
  the same shifts of its mirror image: (2s + 1)² or 2·(2s + 1)² views. A classifier's prediction is then the
  mean of its class probabilities over the views, p(k | x) = (1/V) Σ_v softmax(f(view_v(x)))_k
  (:func:`transmodal.models.vit.predict`).

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


def _beta(alpha: float, generator: torch.Generator | None) -> float:
    """λ ~ Beta(α, α), drawn from ``generator`` (torch's Beta takes no generator: its seed comes from one draw)."""
    import numpy as np

    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def _partners(y: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """One-hot (or already soft) labels ``y`` as (B, K) floats, and those of each image's partner (the batch reversed)."""
    soft = F.one_hot(y, num_classes).float() if y.ndim == 1 else y.float()
    return soft, soft.flip(0)


def mixup(x: Tensor, y: Tensor, num_classes: int, alpha: float = 0.8,
          generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, float]:
    """(images, labels) → (mixed images, (B, K) soft labels, λ); partners are the batch reversed."""
    if alpha <= 0:
        raise ValueError(f"mixup alpha={alpha} must be > 0")
    lam = _beta(alpha, generator)
    soft, other = _partners(y, num_classes)
    return lam * x + (1.0 - lam) * x.flip(0), lam * soft + (1.0 - lam) * other, lam


def cutmix(x: Tensor, y: Tensor, num_classes: int, alpha: float = 1.0,
           generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, float]:
    """(images, labels) → (images with a box of their partner's pasted in, (B, K) soft labels, λ of the box pasted)."""
    if alpha <= 0:
        raise ValueError(f"cutmix alpha={alpha} must be > 0")
    b, _, h, w = x.shape
    lam = _beta(alpha, generator)
    cut = math.sqrt(1.0 - lam)
    bh, bw = round(h * cut), round(w * cut)
    cy = int(torch.randint(0, h, (1,), generator=generator))
    cx = int(torch.randint(0, w, (1,), generator=generator))
    top, bottom = max(cy - bh // 2, 0), min(cy - bh // 2 + bh, h)
    left, right = max(cx - bw // 2, 0), min(cx - bw // 2 + bw, w)
    out = x.clone()
    out[:, :, top:bottom, left:right] = x.flip(0)[:, :, top:bottom, left:right]
    lam = 1.0 - (bottom - top) * (right - left) / (h * w)
    soft, other = _partners(y, num_classes)
    return out, lam * soft + (1.0 - lam) * other, lam


def mix_batch(x: Tensor, y: Tensor, num_classes: int, p: float, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0,
              cutmix_prob: float = 0.5, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """With probability ``p`` mix the batch (CutMix with probability ``cutmix_prob``, else mixup); labels always come
    back as (B, K) distributions, one-hot when the batch was not mixed."""
    if not 0 <= p <= 1 or not 0 <= cutmix_prob <= 1:
        raise ValueError(f"mixing probabilities p={p} and cutmix_prob={cutmix_prob} must lie in [0, 1]")
    draw = torch.rand(2, generator=generator)
    if float(draw[0]) >= p:
        return x, _partners(y, num_classes)[0]
    if float(draw[1]) < cutmix_prob:
        return cutmix(x, y, num_classes, cutmix_alpha, generator)[:2]
    return mixup(x, y, num_classes, mixup_alpha, generator)[:2]


def shift(x: Tensor, dx: int, dy: int, fill: float = 0.0) -> Tensor:
    """(…, H, W) → (…, H, W): content moved ``dx`` pixels right and ``dy`` down; the uncovered border is ``fill``."""
    h, w = x.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        return torch.full_like(x, fill)
    padded = F.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)), value=fill)
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top : top + h, left : left + w]


def tta_views(x: Tensor, shift_by: int = 1, flip: bool = True) -> list[Tensor]:
    """The test-time views of (B, C, H, W) images: every shift within ±``shift_by`` pixels, of the images and (with
    ``flip``) of their mirror images; the unshifted images come first."""
    if shift_by < 0:
        raise ValueError(f"shift_by={shift_by} must be >= 0")
    offsets = [(0, 0)] + [(dx, dy) for dy in range(-shift_by, shift_by + 1) for dx in range(-shift_by, shift_by + 1) if dx or dy]
    bases = [x, x.flip(-1)] if flip else [x]
    return [shift(b, dx, dy) for b in bases for dx, dy in offsets]

r"""Pixel quantisation for the autoregressive image model: grey values ↔ a small set of levels.

A palette is a sorted list of L grey values p_0 < … < p_{L−1} in [0, 1]. A pixel x becomes the index of
the nearest palette value, and an index k is drawn as p_k::

    q(x) = argmin_k |x − p_k|,       x̂ = p_{q(x)}

* :func:`uniform_palette` — p_k = k / (L − 1): black and white are exact levels (Fashion-MNIST's
  background is exactly 0, so it is never blurred into a grey).
* :func:`kmeans_palette` — 1-D k-means (Lloyd's algorithm) on sample pixels: levels where the pixels
  are, at the cost of a data-dependent palette (stored in the model's config).
"""

from __future__ import annotations

import torch
from torch import Tensor


def uniform_palette(levels: int) -> list[float]:
    """L evenly spaced grey values from 0 (black) to 1 (white)."""
    if levels < 2:
        raise ValueError(f"levels={levels}: a palette needs at least 2 grey levels")
    return [k / (levels - 1) for k in range(levels)]


def _check(palette) -> Tensor:
    p = torch.as_tensor(palette, dtype=torch.float32)
    if p.ndim != 1 or p.numel() < 2:
        raise ValueError("a palette is a list of at least 2 grey values")
    if not bool((p[1:] > p[:-1]).all()):
        raise ValueError("palette values must be strictly increasing")
    return p


def quantize(x: Tensor, palette) -> Tensor:
    """Grey values in [0, 1] (any shape) → long indices of the nearest palette value (ties go to the lower)."""
    p = _check(palette).to(x.device)
    midpoints = (p[1:] + p[:-1]) / 2
    return torch.bucketize(x.float().contiguous(), midpoints, right=False)


def dequantize(q: Tensor, palette) -> Tensor:
    """Indices → their grey values (float32, same shape)."""
    p = _check(palette).to(q.device)
    return p[q]


def kmeans_palette(values: Tensor, levels: int, iters: int = 50) -> list[float]:
    """1-D k-means of ``values`` (any shape, in [0, 1]): L sorted centres, started evenly from min to max."""
    v = values.detach().float().reshape(-1)
    if v.numel() < levels:
        raise ValueError(f"{v.numel()} values are too few for {levels} levels")
    centres = torch.linspace(float(v.min()), float(v.max()), levels)
    for _ in range(iters):
        centres, _ = centres.sort()
        assign = torch.bucketize(v, (centres[1:] + centres[:-1]) / 2)
        sums = torch.zeros(levels).index_add_(0, assign, v)
        counts = torch.bincount(assign, minlength=levels).float()
        new = torch.where(counts > 0, sums / counts.clamp(min=1), centres)
        if torch.allclose(new, centres, atol=1e-7):
            break
        centres = new
    centres = centres.sort().values.tolist()
    out = []  # keep levels strictly increasing (duplicates can appear when many values are equal)
    for c in centres:
        out.append(c if not out or c > out[-1] + 1e-6 else out[-1] + 1e-6)
    return out

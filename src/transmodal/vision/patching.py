r"""Cutting images into patches, and resampling a grid of position embeddings.

Patches (ViT, Dosovitskiy et al. 2021, §3.1): an image x ∈ ℝ^{C×H×W} becomes N = (H/P)(W/P) vectors
of length C·P², in raster order (left→right, top→bottom)::

    patch[n = i·(W/P) + j] = flatten( x[:, iP:(i+1)P, jP:(j+1)P] )      flattened in (c, y, x) order

the same layout as ``torch.nn.functional.unfold(x, P, stride=P).transpose(1, 2)``, so a linear map of
the patches equals a P×P convolution with stride P whose kernel is the matrix reshaped to (D, C, P, P).
P = 1 makes every pixel a token.

Position grids (ViT §3.2, "fine-tuning at higher resolution"): learned embeddings belong to the
positions of a g_h × g_w grid. For another image size the grid is resampled in 2-D (bicubic or
bilinear) with ``align_corners=True``: the corner positions map onto each other and the original
grid points keep their exact values wherever they land on the new grid (from g to k(g − 1) + 1
points, old point i is new point k·i). This is the convention of the ViT authors' own resizing
(``scipy.ndimage.zoom``), not timm's (which treats positions as areas, ``align_corners=False``).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

GRID_MODES = ("bicubic", "bilinear")


def grid_size(height: int, width: int, patch: int) -> tuple[int, int]:
    """(H/P, W/P); the image must be a whole number of patches."""
    if patch < 1:
        raise ValueError(f"patch size {patch} must be at least 1")
    if height % patch or width % patch:
        raise ValueError(f"a {height}×{width} image is not a whole number of {patch}×{patch} patches; resize or crop it to a multiple of {patch}")
    return height // patch, width // patch


def patchify(x: Tensor, patch: int) -> Tensor:
    """(B, C, H, W) → (B, N, C·P·P), N = (H/P)(W/P), patches in raster order, each flattened (c, y, x)."""
    b, c, h, w = x.shape
    gh, gw = grid_size(h, w, patch)
    x = x.reshape(b, c, gh, patch, gw, patch)  # (B, C, gh, P, gw, P)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, c * patch * patch)


def unpatchify(patches: Tensor, patch: int, grid: tuple[int, int], channels: int) -> Tensor:
    """Inverse of :func:`patchify`: (B, N, C·P·P) → (B, C, gh·P, gw·P)."""
    b, n, _ = patches.shape
    gh, gw = grid
    if n != gh * gw:
        raise ValueError(f"{n} patches do not fill a {gh}×{gw} grid")
    x = patches.reshape(b, gh, gw, channels, patch, patch).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, channels, gh * patch, gw * patch)


def interpolate_grid(table: Tensor, old: tuple[int, int], new: tuple[int, int], mode: str = "bicubic") -> Tensor:
    """Resample per-position vectors laid out on a grid: (gh·gw, D) → (gh'·gw', D), raster order both sides."""
    if mode not in GRID_MODES:
        raise ValueError(f"unknown grid interpolation {mode!r}; choose one of {GRID_MODES}")
    gh, gw = old
    if table.shape[0] != gh * gw:
        raise ValueError(f"a table of {table.shape[0]} positions does not fill a {gh}×{gw} grid")
    if tuple(new) == (gh, gw):
        return table
    d = table.shape[1]
    grid = table.reshape(1, gh, gw, d).permute(0, 3, 1, 2)  # (1, D, gh, gw)
    out = F.interpolate(grid.float(), size=tuple(new), mode=mode, align_corners=True).to(table.dtype)
    return out.permute(0, 2, 3, 1).reshape(new[0] * new[1], d)

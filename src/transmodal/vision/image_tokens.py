r"""Image tokens: a k-means codebook over P×P patches turns a grey image into a short sequence of codes.

A 28×28 image cut into P = 4 pixel patches (:func:`~transmodal.vision.patching.patchify`, raster order)
is a sequence of N = (28/4)² = 49 vectors x_n ∈ ℝ^{P²}. A codebook of K centres c_0 … c_{K−1} ∈ ℝ^{P²}
(vector quantisation) replaces each patch by the index of its nearest centre and draws an index as that
centre::

    q(x_n) = argmin_k ‖x_n − c_k‖²,        x̂_n = c_{q(x_n)}

so an image becomes 49 tokens from a K-symbol alphabet (the "image tokens" a mixed text+image
decoder reads and writes, as in CM3Leon, which uses a learned VQ tokenizer instead of k-means).

:func:`fit_codebook` is Lloyd's k-means, minimising Σ_n ‖x_n − c_{q(x_n)}‖² over sample patches:
centres start as distinct random sample patches; each iteration assigns every patch to its nearest
centre and moves each centre to the mean of its patches; a centre left with no patch is moved to the
patch currently worst represented, so all K codes stay in use. Distances use
‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖² (one matrix product per chunk of patches).
"""

from __future__ import annotations

import torch
from torch import Tensor

from transmodal.vision.patching import grid_size, patchify, unpatchify


def _check_images(images: Tensor, patch: int) -> None:
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"expected grey images (B, 1, H, W) in [0, 1], got shape {tuple(images.shape)}")
    grid_size(images.shape[2], images.shape[3], patch)  # raises if not a whole number of patches


def _check_codebook(codebook: Tensor, patch: int) -> None:
    if codebook.ndim != 2 or codebook.shape[1] != patch * patch or codebook.shape[0] < 2:
        raise ValueError(f"a codebook is (K ≥ 2, {patch * patch}) for {patch}×{patch} patches, got {tuple(codebook.shape)}")


def nearest_code(vectors: Tensor, codebook: Tensor, chunk: int = 65536) -> Tensor:
    """vectors (M, D), codebook (K, D) → index of the nearest centre (M,) long (ties: the lower index)."""
    cb = codebook.float()
    c2 = (cb * cb).sum(1)  # (K,)
    out = []
    for start in range(0, vectors.shape[0], chunk):
        x = vectors[start : start + chunk].float()
        d = c2[None] - 2.0 * x @ cb.T  # ‖x‖² is the same for every k: left out of the argmin
        out.append(d.argmin(dim=1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=vectors.device)


def image_patches(images: Tensor, patch: int) -> Tensor:
    """Grey images (B, 1, H, W) → all their patches (B·N, P²)."""
    _check_images(images, patch)
    return patchify(images.float(), patch).reshape(-1, patch * patch)


def fit_codebook(patches: Tensor, codes: int, iters: int = 25, seed: int = 0) -> Tensor:
    """Lloyd's k-means of ``patches`` (M, D) into ``codes`` centres → (codes, D) float32."""
    x = patches.float()
    if x.ndim != 2:
        raise ValueError(f"patches must be (M, D), got {tuple(x.shape)}")
    if codes < 2:
        raise ValueError(f"codes={codes}: a codebook needs at least 2 entries")
    distinct = torch.unique(x, dim=0)
    if distinct.shape[0] < codes:
        raise ValueError(f"only {distinct.shape[0]} distinct patches for {codes} codes; give more images or fewer codes")
    g = torch.Generator().manual_seed(seed)
    centres = distinct[torch.randperm(distinct.shape[0], generator=g)[:codes]].clone()
    for _ in range(iters):
        assign = nearest_code(x, centres)
        counts = torch.bincount(assign, minlength=codes)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        new = sums / counts.clamp(min=1)[:, None].float()
        empty = torch.nonzero(counts == 0).flatten()
        if empty.numel():  # re-seed unused codes at the worst-represented patches
            err = ((x - new[assign]) ** 2).sum(1)
            new[empty] = x[err.topk(empty.numel()).indices]
        if torch.equal(new, centres):
            break
        centres = new
    return centres.contiguous()


def encode_images(images: Tensor, codebook: Tensor, patch: int) -> Tensor:
    """Grey images (B, 1, H, W) in [0, 1] → codes (B, N) long, N = (H/P)(W/P), raster order."""
    _check_codebook(codebook, patch)
    b = images.shape[0]
    return nearest_code(image_patches(images, patch).to(codebook.device), codebook).reshape(b, -1)


def decode_codes(codes: Tensor, codebook: Tensor, patch: int, height: int, width: int) -> Tensor:
    """Codes (B, N) → grey images (B, 1, H, W): each code drawn as its centre, clamped to [0, 1]."""
    _check_codebook(codebook, patch)
    grid = grid_size(height, width, patch)
    if codes.ndim != 2 or codes.shape[1] != grid[0] * grid[1]:
        raise ValueError(f"codes must be (B, {grid[0] * grid[1]}) for a {height}×{width} image, got {tuple(codes.shape)}")
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= codebook.shape[0]):
        raise ValueError(f"codes must be in 0..{codebook.shape[0] - 1}")
    patches = codebook.float()[codes]  # (B, N, P²)
    return unpatchify(patches, patch, grid, 1).clamp(0.0, 1.0)

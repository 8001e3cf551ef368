"""Pictures of vision results: confusion matrix, attention rollout over images, grids of images (PNG)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from torch import Tensor  # noqa: E402

from transmodal.viz import save_figure  # noqa: E402
from transmodal.vision.io import to_pil  # noqa: E402


def plot_confusion_matrix(matrix: Tensor, labels: Sequence[str], out: str | Path, title: str = "") -> Path:
    """matrix[i, j] = how many images of true class i were predicted as j; rows normalised for the colours."""
    m = matrix.detach().cpu().long()
    k = m.shape[0]
    rates = m.float() / m.sum(1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(0.75 * k + 2.5, 0.7 * k + 2))
    ax.imshow(rates.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            if m[i, j]:
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = float(m.diag().sum()) / max(1, int(m.sum()))
    ax.set_title(title or f"confusion matrix (accuracy {accuracy:.2%})")
    fig.tight_layout()
    return save_figure(fig, out)


def plot_attention_overlay(images: Tensor, maps: Tensor, out: str | Path, titles: Sequence[str] = ()) -> Path:
    """images: (N, C, H, W) in [0, 1]; maps: (N, gh, gw) relevance (e.g. attention rollout) drawn over each image."""
    n = images.shape[0]
    ncol = min(4, n)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, 2 * ncol, figsize=(2.2 * 2 * ncol, 2.4 * nrow), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    h, w = images.shape[-2:]
    up = F.interpolate(maps[:, None].float(), size=(h, w), mode="bilinear", align_corners=False)[:, 0]
    for i in range(n):
        r, c = divmod(i, ncol)
        img = images[i].detach().float().cpu()
        shown = img[0] if img.shape[0] == 1 else img.permute(1, 2, 0)
        a, b = axes[r, 2 * c], axes[r, 2 * c + 1]
        a.imshow(shown.numpy(), cmap="gray", vmin=0, vmax=1)
        a.set_title(titles[i] if i < len(titles) else "", fontsize=8)
        b.imshow(shown.numpy(), cmap="gray", vmin=0, vmax=1)
        heat = (up[i] - up[i].min()) / (up[i].max() - up[i].min()).clamp(min=1e-12)  # min–max: show the contrast
        b.imshow(heat.cpu().numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
        b.set_title("attention rollout", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out)


def save_image_grid(rows: Sequence[Sequence[Tensor]], out: str | Path, scale: int = 4, gap: int = 4,
                    marks: Sequence[Sequence[int | None]] = ()) -> Path:
    """Rows of (C, H, W) images in [0, 1] → one PNG; ``marks[r][c]`` = a pixel row to underline in red (or None)."""
    if not rows or not any(rows):
        raise ValueError("no images to draw")
    h, w = rows[0][0].shape[-2:]
    cell_h, cell_w = h * scale, w * scale
    ncol = max(len(r) for r in rows)
    canvas = Image.new("RGB", (ncol * cell_w + (ncol + 1) * gap, len(rows) * cell_h + (len(rows) + 1) * gap), "white")
    draw = ImageDraw.Draw(canvas)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            x0, y0 = gap + j * (cell_w + gap), gap + i * (cell_h + gap)
            canvas.paste(to_pil(img, scale).convert("RGB"), (x0, y0))
            mark = marks[i][j] if i < len(marks) and j < len(marks[i]) else None
            if mark is not None and 0 < mark < h:
                y = y0 + mark * scale
                draw.line([(x0, y), (x0 + cell_w - 1, y)], fill=(230, 30, 30), width=max(1, scale // 2))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    return out

"""Plots people would rather look at than read (matplotlib, Agg backend: works without a screen)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch import Tensor  # noqa: E402


def save_figure(fig, out: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG at ``out`` (creating its folder) and free it; returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def plot_attention_heads(weights: Tensor, rows: list[str], cols: list[str], out: str | Path, title: str = "") -> Path:
    """One heat map per head. weights: (H, T, S) — rows = T query tokens, columns = S key tokens."""
    h = weights.shape[0]
    ncol = min(4, h)
    nrow = math.ceil(h / ncol)
    size = 0.35 * max(len(rows), len(cols)) + 1.5
    fig, axes = plt.subplots(nrow, ncol, figsize=(ncol * size, nrow * size), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= h:
            ax.axis("off")
            continue
        ax.imshow(weights[i].detach().float().cpu().numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_title(f"head {i + 1}", fontsize=9)
        ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out)

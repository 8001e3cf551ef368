"""Options of the autoregressive pixel model recipe (see :mod:`transmodal.recipes.pixel_gpt`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PixelGPTRecipe:
    out: str = "runs/pixel-gpt"
    model: str = "fashion"  # a name from transmodal.models.pixel_gpt.CONFIGS
    levels: int = 16  # grey levels per pixel
    palette: str = "uniform"  # uniform (k/(L−1)) | kmeans (1-D k-means of training pixels)
    epochs: int = 20
    batch_size: int = 64
    lr: float = 6e-4
    weight_decay: float = 0.1
    warmup_steps: int = 500
    class_dropout: float = 0.1  # share of training images whose class token is replaced by "no class"
    valid_size: int = 2000  # training images held out for validation (bits/dim, model selection)
    eval_every: int = 1000  # steps
    max_steps: int = 0  # 0 = epochs × steps per epoch
    limit: int = 0  # use only the first N training images (0 = all)
    test_limit: int = 0  # bits/dim on the first N test images (0 = all 10,000)
    samples: int = 8  # samples per row in the report's pictures
    temperature: float = 1.0
    top_k: int = 0  # 0 = no top-k restriction when sampling
    seed: int = 0
    threads: int = 0
    progress: bool = True

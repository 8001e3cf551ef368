"""Options of the translation recipe (see :mod:`transmodal.recipes.translation`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TranslationRecipe:
    out: str = "runs/en-pt"
    model: str = "small"  # a name from transmodal.models.seq2seq.CONFIGS
    positions: str = "sinusoidal"  # sinusoidal | learned | rotary
    vocab_size: int = 5000
    max_tokens: int = 2048  # target tokens per batch
    max_steps: int = 3000
    lr: float = 0.5  # scale of the paper's schedule: lr = scale · d^-0.5 · min(step^-0.5, step · warmup^-1.5)
    warmup: int = 400
    label_smoothing: float = 0.1
    dropout: float = 0.1
    beam: int = 4
    eval_every: int = 250
    save_every: int = 250
    seed: int = 0
    threads: int = 0  # 0 = PyTorch's default
    limit: int = 0  # use only the first N training pairs (0 = all): for quick tests
    progress: bool = True

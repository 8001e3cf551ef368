"""The one optimizer builder: AdamW with weight decay on matrices only (and not on what the model exempts)."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.train.config import TrainConfig


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, in two groups.

    Parameters with ``ndim >= 2`` (weight matrices, embedding tables, convolution kernels) get
    ``config.weight_decay``; vectors and scalars (biases, norm gains, a temperature) get none, since
    shrinking them towards zero only hurts. Neither do the parameters a model names in its
    ``no_weight_decay()`` (ViT and CLIP: position tables and the [class] token, the ViT convention).
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the model has no trainable parameters (all have requires_grad=False)")
    exempt = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    decay = [p for n, p in named if p.ndim >= 2 and n not in exempt]
    no_decay = [p for n, p in named if p.ndim < 2 or n in exempt]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, betas=config.betas, eps=config.eps)

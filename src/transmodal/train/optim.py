"""The default optimizer: AdamW with weight decay on matrices only."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.train.config import TrainConfig


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, in two groups.

    Parameters with ``ndim >= 2`` (weight matrices, embedding tables, convolution kernels) get
    ``config.weight_decay``; vectors and scalars (biases, norm gains) get none, since shrinking
    them towards zero only hurts.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (all have requires_grad=False)")
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, betas=config.betas, eps=config.eps)

r"""Token embeddings and the output generator (paper §3.4).

    Embed(x) = E[x] · √d_model          Generator(h) = log_softmax(h Wᵀ + b)

With weight tying (Press & Wolf 2017; the paper shares one matrix between both embeddings and the
pre-softmax projection) the generator's W *is* the embedding matrix E.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


class TokenEmbedding(nn.Module):
    """E[x] · √d_model (the scale can be turned off for models that do not use it, e.g. GPT/BERT)."""

    def __init__(self, vocab_size: int, d_model: int, padding_idx: int | None = None, scale: bool = True):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        nn.init.normal_(self.emb.weight, std=d_model**-0.5 if scale else 0.02)
        if padding_idx is not None:
            self.emb.weight.data[padding_idx].zero_()
        self.scale = math.sqrt(d_model) if scale else 1.0

    @property
    def weight(self):
        return self.emb.weight

    def forward(self, tokens: Tensor) -> Tensor:
        return self.emb(tokens) * self.scale


class Generator(nn.Module):
    """Linear projection to the vocabulary followed by log-softmax; optionally tied to an embedding."""

    def __init__(self, d_model: int, vocab_size: int, tie_to: TokenEmbedding | None = None, bias: bool = True):
        super().__init__()
        self.proj = nn.Linear(d_model, vocab_size, bias=bias)
        if tie_to is not None:
            self.proj.weight = tie_to.weight

    def logits(self, h: Tensor) -> Tensor:
        return self.proj(h)

    def forward(self, h: Tensor) -> Tensor:
        return F.log_softmax(self.proj(h), dim=-1)

r"""The residual sub-layer connection, post-norm (the paper) or pre-norm.

Post-norm, as written in "Attention Is All You Need" §3.1 (dropout on the sub-layer output, §5.4)::

    y = LayerNorm(x + Dropout(Sublayer(x)))

Pre-norm (Wang et al. 2019; GPT-2, ViT, Conformer) normalises the sub-layer's *input* and leaves the
residual path untouched, which trains deeper stacks without warm-up tricks; such a stack then needs
one final LayerNorm::

    y = x + Dropout(Sublayer(LayerNorm(x)))

(The Annotated Transformer's ``SublayerConnection`` is the pre-norm form although its text describes
the paper's post-norm; here the two are named for what they compute.)
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor, nn


class Residual(nn.Module):
    """Wraps one sub-layer's residual connection; the sub-layer itself is passed to :meth:`forward`."""

    def __init__(self, d_model: int, dropout: float = 0.0, norm_first: bool = False, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))

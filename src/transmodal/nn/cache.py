"""Key/value cache for incremental (token-by-token) decoding.

At decoding step t a causal self-attention layer needs the keys and values of positions 0..t, but
those of 0..t-1 were already computed at earlier steps: the cache keeps them, so each step costs
O(t) instead of recomputing O(t²). Cross-attention keys/values depend only on the encoder output,
so they are computed once and kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class KVCache:
    """Keys and values of one attention layer, each (B, H, S, d_head)."""

    k: Tensor | None = None
    v: Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[-2]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new positions' keys/values; return all keys/values seen so far."""
        if self.k is None:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=-2)
            self.v = torch.cat([self.v, v], dim=-2)
        return self.k, self.v

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows ``index`` (beam search reorders hypotheses after every step)."""
        if self.k is not None:
            self.k = self.k.index_select(0, index)
            self.v = self.v.index_select(0, index)

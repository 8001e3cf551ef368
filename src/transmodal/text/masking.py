r"""BERT's masked-language-model corruption (Devlin et al. 2019, §3.1 "Task #1" and appendix A.1).

Each maskable token (every token except [PAD], [CLS], [SEP], … — the special ids) is *chosen*
independently with probability ``p = 0.15``. A chosen token is then replaced by

    [MASK]               with probability 0.8
    a random token       with probability 0.1   (uniform over the non-special vocabulary)
    itself (unchanged)   with probability 0.1

and the model must predict the original token at **every chosen position** — including the 10 % left
unchanged, so it cannot learn that an unmasked token is always correct. Labels are the original ids at
chosen positions and ``ignore_index`` (-100) elsewhere, so cross-entropy averages over chosen tokens only.

The 80/10/10 split keeps the mismatch between pre-training (inputs with [MASK]) and fine-tuning
(inputs without) small. A random replacement may happen to draw the original token (probability
1/|V|); that is part of the procedure, not a bug.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

IGNORE_INDEX = -100


@dataclass(frozen=True)
class MaskingSpec:
    mask_id: int  # id of [MASK]
    vocab_size: int
    n_special: int  # ids 0 .. n_special-1 are special: never chosen, never drawn as random replacements
    select_prob: float = 0.15
    mask_prob: float = 0.8  # of the chosen tokens → [MASK]
    random_prob: float = 0.1  # of the chosen tokens → random token (the rest stay unchanged)

    def __post_init__(self) -> None:
        if not 0.0 < self.select_prob <= 1.0:
            raise ValueError(f"select_prob={self.select_prob} must be in (0, 1]")
        if self.mask_prob < 0 or self.random_prob < 0 or self.mask_prob + self.random_prob > 1.0:
            raise ValueError(f"mask_prob={self.mask_prob} and random_prob={self.random_prob} must be ≥ 0 and sum to ≤ 1")
        if not 0 <= self.mask_id < self.n_special:
            raise ValueError(f"mask_id={self.mask_id} should be one of the {self.n_special} special ids")
        if self.vocab_size <= self.n_special:
            raise ValueError(f"vocab_size={self.vocab_size} leaves no ordinary tokens after {self.n_special} specials")


def mask_tokens(ids: Tensor, spec: MaskingSpec, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Corrupt ``ids`` (B, T) for masked-LM training. Returns (inputs (B, T), labels (B, T)).

    ``labels`` holds the original id where a token was chosen and ``IGNORE_INDEX`` elsewhere. Special
    ids (< ``spec.n_special``: padding, [CLS], [SEP], [MASK], [UNK]) are never chosen.
    """
    if ids.dtype != torch.long:
        raise TypeError(f"ids must be a long tensor of token ids, got {ids.dtype}")
    device = ids.device
    maskable = ids >= spec.n_special
    u = torch.rand(ids.shape, generator=generator, device=device)
    chosen = (u < spec.select_prob) & maskable
    # One more uniform draw per position decides what a chosen token becomes.
    v = torch.rand(ids.shape, generator=generator, device=device)
    to_mask = chosen & (v < spec.mask_prob)
    to_random = chosen & (v >= spec.mask_prob) & (v < spec.mask_prob + spec.random_prob)
    random_ids = torch.randint(spec.n_special, spec.vocab_size, ids.shape, generator=generator, device=device)

    inputs = ids.clone()
    inputs[to_mask] = spec.mask_id
    inputs[to_random] = random_ids[to_random]
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    return inputs, labels

r"""The symmetric contrastive (InfoNCE) loss of CLIP (Radford et al. 2021, Figure 3's pseudocode).

For a batch of n matching (image, text) pairs with L2-normalised embeddings I_e, T_e ∈ ℝ^{n×d} and a
learned temperature t (the logit scale is e^t)::

    logits = I_e · T_eᵀ · e^t                       (n, n): row i = image i against every text
    labels = arange(n)                              the pair (i, i) is the match, every other is a negative
    loss_i = cross_entropy(logits,   labels)        each image picks its text among the n texts
    loss_t = cross_entropy(logitsᵀ,  labels)        each text picks its image among the n images
    loss   = (loss_i + loss_t) / 2

The paper's pseudocode writes the two terms as ``cross_entropy_loss(logits, labels, axis=0/1)``, i.e.
a softmax down the columns and along the rows of the same matrix — the two lines above.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def similarity_logits(image_emb: Tensor, text_emb: Tensor, logit_scale: Tensor | float) -> Tensor:
    """(n, d) × (m, d) normalised embeddings → logits (n, m) = scale · cosine similarity (rows: images)."""
    if image_emb.ndim != 2 or text_emb.ndim != 2 or image_emb.shape[1] != text_emb.shape[1]:
        raise ValueError(f"expected embeddings (n, d) and (m, d); got {tuple(image_emb.shape)} and {tuple(text_emb.shape)}")
    return logit_scale * image_emb @ text_emb.t()


def contrastive_loss(image_emb: Tensor, text_emb: Tensor, logit_scale: Tensor | float) -> Tensor:
    """Symmetric cross-entropy over the batch's (n, n) similarity matrix; pair i of each tensor matches."""
    if image_emb.shape[0] != text_emb.shape[0]:
        raise ValueError(f"{image_emb.shape[0]} images but {text_emb.shape[0]} texts: the loss needs matching pairs")
    logits = similarity_logits(image_emb, text_emb, logit_scale)
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))

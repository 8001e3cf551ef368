r"""Label-smoothed cross-entropy (paper §5.4, ε_ls = 0.1; Szegedy et al. 2016).

The one-hot target is replaced by q = (1 − ε)·onehot(y) + ε/V, so with log-probabilities log p::

    L = −Σ_v q_v log p_v = (1 − ε)·(−log p_y) + ε·(−(1/V) Σ_v log p_v)

averaged over the non-padding positions. It "hurts perplexity, as the model learns to be more
unsure, but improves accuracy and BLEU".
"""

from __future__ import annotations

from torch import Tensor


def label_smoothed_nll(logprobs: Tensor, target: Tensor, epsilon: float = 0.1, ignore_index: int | None = None) -> tuple[Tensor, Tensor]:
    """logprobs: (..., V) log-probabilities; target: (...) ids. Returns (smoothed loss, plain NLL), both means over kept positions."""
    keep = target != ignore_index if ignore_index is not None else None
    safe = target if keep is None else target.masked_fill(~keep, 0)  # ignore_index may lie outside [0, V)
    nll = -logprobs.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    smooth = -logprobs.mean(dim=-1)
    loss = (1.0 - epsilon) * nll + epsilon * smooth
    if keep is not None:
        n = keep.sum().clamp(min=1)
        return (loss * keep).sum() / n, (nll * keep).sum() / n
    return loss.mean(), nll.mean()

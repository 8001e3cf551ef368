r"""Connectionist Temporal Classification (Graves et al. 2006): the head and the loss.

An encoder gives, for every frame t = 1..T, a distribution p(· | x, t) over V outputs: the labels
and a *blank* (id 0). An alignment a = (a_1, …, a_T) picks one output per frame; the collapse map B
first merges runs of repeated outputs and then deletes the blanks::

    B(a a - a b b -) = B(a - a b) = "aab"         (a blank between the a's keeps them apart)

Frames are taken as conditionally independent given x, and the probability of a label sequence y
is the total over every alignment that collapses to it:

    p(y | x) = Σ_{a ∈ B⁻¹(y)} Π_{t=1}^{T} p(a_t | x, t)

The sum has exponentially many terms; the forward algorithm over the extended sequence
y' = (-, y_1, -, y_2, …, y_U, -) of length 2U+1 computes it in O(T·U). That is what
``torch.nn.functional.ctc_loss`` does; :func:`ctc_loss` only fixes the conventions of transmodal
(batch-first inputs, blank 0, infeasible targets zeroed) and documents the reduction.
A target of U labels needs T ≥ U + (number of adjacent repeated labels in y) frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BLANK_ID = 0
REDUCTIONS = ("mean", "sum", "none")


class CTCHead(nn.Module):
    """Frame features (B, T, d_model) → CTC log-probabilities (B, T, V): Linear then log-softmax."""

    def __init__(self, d_model: int, vocab_size: int):
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"a CTC head needs the blank plus at least one label; got vocab_size={vocab_size}")
        self.proj = nn.Linear(d_model, vocab_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(self.proj(x), dim=-1)


def _flat_targets(targets: Tensor, target_lengths: Tensor) -> Tensor:
    """Padded (B, S) or concatenated (Σ U_b,) targets → concatenated 1-D targets, validated."""
    if target_lengths.dim() != 1:
        raise ValueError(f"target_lengths must be (B,); got shape {tuple(target_lengths.shape)}")
    if target_lengths.numel() and int(target_lengths.min()) < 0:
        raise ValueError(f"target lengths must be ≥ 0; got {target_lengths.tolist()}")
    if targets.dim() == 2:
        if targets.shape[0] != target_lengths.shape[0]:
            raise ValueError(f"targets has {targets.shape[0]} rows but target_lengths has {target_lengths.shape[0]}")
        if target_lengths.numel() and int(target_lengths.max()) > targets.shape[1]:
            raise ValueError(f"a target length exceeds the padded targets' width {targets.shape[1]}")
        keep = torch.arange(targets.shape[1], device=targets.device)[None, :] < target_lengths[:, None]
        flat = targets[keep]
    elif targets.dim() == 1:
        if targets.numel() != int(target_lengths.sum()):
            raise ValueError(f"concatenated targets hold {targets.numel()} labels but target_lengths sum to {int(target_lengths.sum())}")
        flat = targets
    else:
        raise ValueError(f"targets must be (B, S) padded or (sum of lengths,) concatenated; got shape {tuple(targets.shape)}")
    if flat.numel() and (int(flat.min()) == BLANK_ID or int(flat.min()) < 0):
        raise ValueError("targets contain the blank (id 0) or a negative id; targets are label ids 1..V-1")
    return flat.long()


def _check_inputs(log_probs: Tensor, lengths: Tensor) -> None:
    if log_probs.dim() != 3:
        raise ValueError(f"log_probs must be (B, T, V); got shape {tuple(log_probs.shape)}")
    if lengths.dim() != 1 or lengths.shape[0] != log_probs.shape[0]:
        raise ValueError(f"lengths must be (B,) = ({log_probs.shape[0]},); got shape {tuple(lengths.shape)}")
    if lengths.numel() and (int(lengths.max()) > log_probs.shape[1] or int(lengths.min()) < 0):
        raise ValueError(f"frame lengths must lie in 0..T={log_probs.shape[1]}; got {lengths.tolist()}")


def ctc_loss(
    log_probs: Tensor,
    lengths: Tensor,
    targets: Tensor,
    target_lengths: Tensor,
    *,
    reduction: str = "mean",
    zero_infinity: bool = True,
) -> Tensor:
    r"""Negative CTC log-likelihood, −log p(y | x), for a batch.

    Args:
        log_probs: (B, T, V) frame log-probabilities (log-softmax output; blank = id 0).
        lengths: (B,) valid frames per utterance; frames t ≥ lengths[b] are ignored.
        targets: (B, S) label ids padded to any value past ``target_lengths``, or the B targets
            concatenated into one 1-D tensor. Ids are 1..V-1 (never the blank).
        target_lengths: (B,) labels per target; 0 is allowed (then y is empty: the all-blank path).
        reduction:
            "mean" — ``(1/B) Σ_b L_b / max(U_b, 1)``: each utterance's loss divided by its number of
            target labels, then averaged over the batch (PyTorch's "mean"; keeps long and short
            utterances on a similar scale);
            "sum" — Σ_b L_b;  "none" — the (B,) vector L_b = −log p(y_b | x_b).
        zero_infinity: replace the infinite loss of an infeasible target (too many labels for its
            frames) by 0, and its gradient too, so that one bad utterance does not wreck a step.

    Returns:
        a scalar, or (B,) for ``reduction="none"``.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction={reduction!r}; choose one of {REDUCTIONS}")
    _check_inputs(log_probs, lengths)
    target_lengths = target_lengths.long()
    flat = _flat_targets(targets, target_lengths)
    if target_lengths.shape[0] != log_probs.shape[0]:
        raise ValueError(f"target_lengths must be (B,) = ({log_probs.shape[0]},); got shape {tuple(target_lengths.shape)}")
    if flat.numel() and int(flat.max()) >= log_probs.shape[-1]:
        raise ValueError(f"target id {int(flat.max())} is outside the V={log_probs.shape[-1]} outputs")
    return F.ctc_loss(
        log_probs.transpose(0, 1),  # F.ctc_loss wants (T, B, V)
        flat,
        lengths.long(),
        target_lengths,
        blank=BLANK_ID,
        reduction=reduction,
        zero_infinity=zero_infinity,
    )


def ctc_log_likelihood(log_probs: Tensor, lengths: Tensor, targets: Tensor, target_lengths: Tensor) -> Tensor:
    """log p(y_b | x_b) per utterance, (B,); −inf where a target is infeasible (no zeroing)."""
    return -ctc_loss(log_probs, lengths, targets, target_lengths, reduction="none", zero_infinity=False)

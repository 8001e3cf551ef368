"""CTC loss against brute force (every alignment enumerated), reductions, the head, input checks."""

import itertools
import math

import pytest
import torch
from asr_testlib import random_log_probs, sequence_probs

from transmodal.asr.ctc import CTCHead, ctc_log_likelihood, ctc_loss


def _pad(targets):
    width = max(1, max(len(t) for t in targets))
    padded = torch.zeros(len(targets), width, dtype=torch.long)
    for i, t in enumerate(targets):
        padded[i, : len(t)] = torch.tensor(t, dtype=torch.long)
    return padded, torch.tensor([len(t) for t in targets])


def test_loss_equals_brute_force_sum_over_alignments():
    lp = random_log_probs(5, 5, 4, seed=0)
    lengths = torch.tensor([5, 5, 4, 3, 5])
    targets = [[1, 2], [3, 3], [1, 1, 2], [2], []]  # repeats need a blank between; [] = all-blank path
    padded, tlens = _pad(targets)
    loss = ctc_loss(lp, lengths, padded, tlens, reduction="none")
    for b, y in enumerate(targets):
        brute = sequence_probs(lp[b, : lengths[b]].exp())[tuple(y)]
        assert loss[b].item() == pytest.approx(-math.log(brute), rel=1e-10)


def test_every_label_sequence_of_a_tiny_case():
    """T = 4, V = 3: all 1 + 2 + 4 + 8 + 16 label sequences of length ≤ 4, feasible or not."""
    lp = random_log_probs(1, 4, 3, seed=1, sharpness=2.0)
    brute = sequence_probs(lp[0].exp())
    assert sum(brute.values()) == pytest.approx(1.0)
    seqs = [list(s) for n in range(5) for s in itertools.product([1, 2], repeat=n)]
    padded, tlens = _pad(seqs)
    ll = ctc_log_likelihood(lp.expand(len(seqs), -1, -1), torch.full((len(seqs),), 4), padded, tlens)
    for s, got in zip(seqs, ll.tolist()):
        want = brute.get(tuple(s), 0.0)
        if want == 0.0:  # e.g. [1, 1, 1, 1] needs 7 frames
            assert got == -math.inf
        else:
            assert got == pytest.approx(math.log(want), rel=1e-10)


def test_reductions_and_concatenated_targets():
    lp = random_log_probs(3, 6, 5, seed=2)
    lengths = torch.tensor([6, 5, 4])
    targets = [[1, 2, 3], [4], [2, 2]]
    padded, tlens = _pad(targets)
    per = ctc_loss(lp, lengths, padded, tlens, reduction="none")
    assert ctc_loss(lp, lengths, padded, tlens).item() == pytest.approx((per / tlens).mean().item())
    assert ctc_loss(lp, lengths, padded, tlens, reduction="sum").item() == pytest.approx(per.sum().item())
    flat = torch.tensor([c for t in targets for c in t])
    assert torch.allclose(ctc_loss(lp, lengths, flat, tlens, reduction="none"), per)


def test_frames_past_length_are_ignored():
    lp = random_log_probs(1, 6, 4, seed=3)
    other = lp.clone()
    other[:, 4:] = random_log_probs(1, 2, 4, seed=4)
    y, n = torch.tensor([[1, 3]]), torch.tensor([2])
    assert ctc_loss(lp, torch.tensor([4]), y, n).item() == ctc_loss(other, torch.tensor([4]), y, n).item()


def test_infeasible_target_is_zeroed_or_minus_infinity():
    lp = random_log_probs(1, 3, 3, seed=5)
    y, n = torch.tensor([[1, 1, 2]]), torch.tensor([3])  # "aab" needs 4 frames
    assert ctc_loss(lp, torch.tensor([3]), y, n).item() == 0.0
    assert ctc_log_likelihood(lp, torch.tensor([3]), y, n).item() == -math.inf


def test_head_outputs_log_probabilities_and_trains():
    torch.manual_seed(0)
    head = CTCHead(8, 6)
    x = torch.randn(2, 7, 8)
    lp = head(x)
    assert lp.shape == (2, 7, 6)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(2, 7), atol=1e-6)
    loss = ctc_loss(lp, torch.tensor([7, 5]), torch.tensor([[1, 2, 3], [5, 5, 0]]), torch.tensor([3, 2]))
    loss.backward()
    assert head.proj.weight.grad is not None and torch.isfinite(head.proj.weight.grad).all()
    with pytest.raises(ValueError, match="blank"):
        CTCHead(8, 1)


def test_input_errors():
    lp = random_log_probs(2, 4, 3, seed=6)
    ok_t, ok_n = torch.tensor([[1, 2], [2, 0]]), torch.tensor([2, 1])
    with pytest.raises(ValueError, match="blank"):
        ctc_loss(lp, torch.tensor([4, 4]), torch.tensor([[1, 0], [0, 0]]), ok_n)
    with pytest.raises(ValueError, match="0..T=4"):
        ctc_loss(lp, torch.tensor([5, 4]), ok_t, ok_n)
    with pytest.raises(ValueError, match="outside the V=3"):
        ctc_loss(lp, torch.tensor([4, 4]), torch.tensor([[1, 3], [2, 0]]), ok_n)
    with pytest.raises(ValueError, match=r"\(B, T, V\)"):
        ctc_loss(lp[0], torch.tensor([4]), ok_t, ok_n)
    with pytest.raises(ValueError, match="reduction"):
        ctc_loss(lp, torch.tensor([4, 4]), ok_t, ok_n, reduction="avg")

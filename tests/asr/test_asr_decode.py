"""Greedy, prefix beam search and word-constrained decoding, checked against hand-made cases and brute force."""

import math

import pytest
import torch
from asr_testlib import frames, random_log_probs, sequence_probs, spell

from transmodal.asr.decode import beam_decode, constrained_beam_decode, constrained_decode, greedy_decode
from transmodal.asr.vocab import CharVocab

A, B = 1, 2


def _one_hotish(rows: list[int], v: int = 3, peak: float = 0.9) -> torch.Tensor:
    """(T, V) log-probs with ``peak`` on rows[t] and the rest spread evenly."""
    p = torch.full((len(rows), v), (1 - peak) / (v - 1), dtype=torch.float64)
    p[torch.arange(len(rows)), torch.tensor(rows)] = peak
    return p.log()


# --- greedy ----------------------------------------------------------------------------------------
def test_greedy_merges_repeats_and_drops_blanks():
    lp = _one_hotish([A, A, 0, A, B, B, 0, 0, B])[None]
    assert greedy_decode(lp, torch.tensor([9])) == [[A, A, B, B]]


def test_greedy_repeated_letter_needs_a_blank():
    v = CharVocab()
    aa = frames(v, [{"a": 0.9}, {"a": 0.9}])
    a_a = frames(v, [{"a": 0.9}, {"-": 0.9}, {"a": 0.9}])
    assert v.decode(greedy_decode(aa, torch.tensor([2]))[0]) == "a"
    assert v.decode(greedy_decode(a_a, torch.tensor([3]))[0]) == "aa"


def test_greedy_respects_lengths():
    lp = torch.stack([_one_hotish([A, 0, B, B]), _one_hotish([B, B, 0, A])])
    assert greedy_decode(lp, torch.tensor([4, 2])) == [[A, B], [B]]
    assert greedy_decode(lp, torch.tensor([0, 4])) == [[], [B, A]]


# --- prefix beam search ----------------------------------------------------------------------------
def test_beam_beats_best_path_on_the_textbook_case():
    """Two frames of p(−) = 0.6, p(a) = 0.4: best path "" (0.36), but p("a") = 0.16 + 0.24 + 0.24 = 0.64."""
    lp = torch.tensor([[[0.6, 0.4], [0.6, 0.4]]], dtype=torch.float64).log()
    brute = sequence_probs(lp[0].exp())
    assert brute[()] == pytest.approx(0.36) and brute[(A,)] == pytest.approx(0.64)
    assert greedy_decode(lp, torch.tensor([2])) == [[]]
    (best, score), *rest = beam_decode(lp, torch.tensor([2]), beam=2)[0]
    assert best == [A] and score == pytest.approx(math.log(0.64))
    assert rest == [([], pytest.approx(math.log(0.36)))]


def test_beam_is_exact_with_a_wide_beam_and_beats_greedy_where_it_fails():
    """T = 4, V = 3 has 31 label sequences; a beam of 64 keeps them all, so every score must be exact."""
    greedy_wrong = 0
    for seed in range(60):
        lp = random_log_probs(1, 4, 3, seed=seed, sharpness=1.5)
        brute = sequence_probs(lp[0].exp())
        truth = max(brute, key=brute.get)
        hyps = beam_decode(lp, torch.tensor([4]), beam=64)[0]
        assert tuple(hyps[0][0]) == truth
        assert len(hyps) == len(brute)
        for ids, score in hyps:
            assert score == pytest.approx(math.log(brute[tuple(ids)]), rel=1e-9)
        greedy_wrong += tuple(greedy_decode(lp, torch.tensor([4]))[0]) != truth
    assert greedy_wrong >= 3  # the comparison means something: best path is often not the best sequence


def test_small_beam_still_finds_the_best_of_a_constructed_case():
    """Best path a−− says 'a' (0.2), but 'ab' has three good alignments (abb, a−b, ab−: 0.522 in all)."""
    # frame probabilities (−, a, b)
    p = torch.tensor([[0.1, 0.8, 0.1], [0.5, 0.05, 0.45], [0.5, 0.05, 0.45]], dtype=torch.float64)
    brute = sequence_probs(p)
    assert max(brute, key=brute.get) == (A, B)
    lp = p.log()[None]
    assert greedy_decode(lp, torch.tensor([3])) == [[A]]
    assert beam_decode(lp, torch.tensor([3]), beam=2)[0][0][0] == [A, B]


def test_beam_batch_lengths_and_token_beam():
    lp = random_log_probs(2, 6, 5, seed=7, sharpness=3.0)
    full = beam_decode(lp, torch.tensor([6, 3]), beam=4)
    short = beam_decode(lp[1:, :3], torch.tensor([3]), beam=4)
    assert full[1] == short[0] and len(full[0]) <= 4
    pruned = beam_decode(lp, torch.tensor([6, 3]), beam=4, token_beam=1)
    assert all(1 <= i < 5 for hyps in pruned for ids, _ in hyps for i in ids)
    with pytest.raises(ValueError, match="beam"):
        beam_decode(lp, torch.tensor([6, 3]), beam=0)


# --- constrained to a word list --------------------------------------------------------------------
WORDS = ["sim", "não", "talvez"]


def test_constrained_fixes_a_non_word():
    v = CharVocab()
    lp = frames(v, [{"s": 0.9}, {"-": 0.9}, {"i": 0.9}, {"n": 0.55, "m": 0.4}, {"-": 0.9}])
    assert v.decode(greedy_decode(lp, torch.tensor([5]))[0]) == "sin"  # not a word
    assert constrained_decode(lp, torch.tensor([5]), WORDS, v) == [["sim"]]


def test_constrained_two_words_and_original_spelling():
    v = CharVocab()
    lp = frames(v, [{"s": 0.9}, {"i": 0.9}, {"m": 0.9}, {" ": 0.9}, {"n": 0.9}, {"a": 0.5, "ã": 0.4}, {"o": 0.9}])
    assert v.decode(greedy_decode(lp, torch.tensor([7]))[0]) == "sim nao"
    assert constrained_decode(lp, torch.tensor([7]), ["Sim", "NÃO"], v) == [["Sim", "NÃO"]]
    (words, score), *_ = constrained_beam_decode(lp, torch.tensor([7]), ["Sim", "NÃO"], v)[0]
    assert words == ["Sim", "NÃO"] and score < 0


def test_constrained_output_is_always_from_the_list():
    v = CharVocab()
    words = ["sim", "não", "talvez", "tal"]
    letters = [v.encode(c)[0] for c in "simnãotalvez"] + [v.space_id]
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 20, v.vocab_size, generator=g, dtype=torch.float64)
    logits[..., letters] += 2.0  # so the decoders see plausible letters, not only blanks
    lp = logits.log_softmax(-1)
    out = constrained_decode(lp, torch.full((6,), 20), words, v, beam=6)
    assert any(out)
    assert all(w in words for seq in out for w in seq)
    free = [v.decode(ids) for ids in greedy_decode(lp, torch.full((6,), 20))]
    assert any(not all(w in words for w in t.split()) for t in free)  # free decoding spells non-words here


def _valid(seq: tuple[int, ...], vocab: CharVocab, words: list[str]) -> bool:
    return seq == () or all(w in words for w in vocab.decode(seq).split(" "))


def test_constrained_equals_brute_force_over_word_sequences():
    v = CharVocab(chars=[" ", "a", "b"])
    words = ["a", "ab", "ba"]
    for seed in range(12):
        lp = random_log_probs(1, 5, v.vocab_size, seed=100 + seed, sharpness=1.5)
        brute = {s: p for s, p in sequence_probs(lp[0].exp()).items() if _valid(s, v, words)}
        truth = max(brute, key=brute.get)
        (got, score), *_ = constrained_beam_decode(lp, torch.tensor([5]), words, v, beam=128)[0]
        assert " ".join(got) == v.decode(truth)
        assert score == pytest.approx(math.log(brute[truth]), rel=1e-9)


def test_constrained_errors():
    v = CharVocab()
    lp = spell(v, "sim")
    n = torch.tensor([lp.shape[1]])
    with pytest.raises(ValueError, match="at least one"):
        constrained_decode(lp, n, [], v)
    with pytest.raises(ValueError, match="contains a space"):
        constrained_decode(lp, n, ["bom dia"], v)
    with pytest.raises(ValueError, match="'ñ'"):
        constrained_decode(lp, n, ["señor"], v)
    with pytest.raises(ValueError, match="V=3"):
        constrained_decode(lp[..., :3], n, WORDS, v)

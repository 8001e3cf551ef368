"""Greedy and beam search: on hand-made toy models (greedy trap, length penalty) and a random Transformer."""

import itertools
import math
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from transmodal.models.decoding import beam_search, greedy_search, length_penalty
from transmodal.models.seq2seq import Transformer, config

PAD, BOS, EOS, A, B = 0, 1, 2, 3, 4

# --- toy models: p(next | prefix) given by a table, chosen by src[i, 0] ------------------------------
# Greedy trap: greedy takes A (0.6) and must then end with p(EOS | A) = 0.34; total 0.204.
# The better sentence is B EOS: 0.4 · 0.97 = 0.388, found by a beam of 2.
TABLE_TRAP = {
    (): {A: 0.6, B: 0.4},
    (A,): {EOS: 0.34, A: 0.33, B: 0.33},
    (B,): {EOS: 0.97, A: 0.015, B: 0.015},
}
# The length penalty decides: stopping at once scores log 0.3 = -1.20; [A] scores log(0.7·0.4) = -1.27
# unpenalised (α = 0 prefers []) but -1.27 / (7/6)^0.6 = -1.16 with α = 0.6 (prefers [A]).
TABLE_LP = {
    (): {EOS: 0.3, A: 0.7},
    (A,): {EOS: 0.4, A: 0.3, B: 0.3},
}
# Greedy path B B B, then EOS.
TABLE_LONG = {
    (): {B: 0.9, A: 0.1},
    (B,): {B: 0.9, A: 0.1},
    (B, B): {B: 0.9, A: 0.1},
}
TABLES = [TABLE_TRAP, TABLE_LP, TABLE_LONG]
DEFAULT = {EOS: 0.9, A: 0.05, B: 0.05}
TOY_V = 5
TINY = 1e-9  # probability of every token not listed (PAD, BOS, ...)


def toy_probs(prefix, table):
    p = [TINY] * TOY_V
    for tok, q in table.get(tuple(prefix), DEFAULT).items():
        p[tok] = q
    z = sum(p)
    return [x / z for x in p]


class ToyState:
    def __init__(self, src):
        self.src = src[:, 0].clone()
        self.history = torch.zeros(src.shape[0], 0, dtype=torch.long)
        self.reorders = 0

    def reorder(self, index):
        self.src = self.src.index_select(0, index)
        self.history = self.history.index_select(0, index)
        self.reorders += 1


class ToyModel:
    """p(next | prefix, src) = TABLES[src[0]][prefix]; its state records every token it is fed."""

    def __init__(self):
        self.states = []

    def start(self, src):
        self.states.append(ToyState(src))
        return self.states[-1]

    def step(self, tokens, state, need_weights=False):
        assert tokens.shape == (state.history.shape[0], 1)
        state.history = torch.cat([state.history, tokens], 1)
        rows = []
        for s, h in zip(state.src.tolist(), state.history.tolist()):
            assert h[0] == BOS
            rows.append([math.log(p) for p in toy_probs(h[1:], TABLES[s])])
        return torch.tensor(rows)


def toy_logprob(seq, table):
    """log P(seq + EOS) under a toy table."""
    total, prefix = 0.0, []
    for tok in seq + [EOS]:
        total += math.log(toy_probs(prefix, table)[tok])
        prefix.append(tok)
    return total


def penalised(seq, alpha, table):
    """GNMT score as in decoding's docstring: log P / ((5 + |Y|)/6)^α, |Y| counting EOS."""
    n = len(seq) + 1
    return toy_logprob(seq, table) / (((5 + n) / 6) ** alpha)


def test_length_penalty_formula():
    torch.manual_seed(0)
    lengths = torch.tensor([1, 2, 10])
    got = length_penalty(lengths, 0.6)
    want = torch.tensor([((5 + n) / 6) ** 0.6 for n in (1, 2, 10)])
    torch.testing.assert_close(got, want)
    assert torch.all(length_penalty(lengths, 0.0) == 1)


def test_greedy_falls_into_the_trap_and_beam_escapes():
    torch.manual_seed(1)
    src = torch.zeros(3, 2, dtype=torch.long)  # 3 sentences using the trap table, batched
    toy = ToyModel()
    greedy, _ = greedy_search(toy, src, bos=BOS, eos=EOS, pad=PAD, max_len=5)
    assert greedy == [[A]] * 3
    assert beam_search(toy, src, beam=1, bos=BOS, eos=EOS, pad=PAD, max_len=5) == greedy
    for k in (2, 3, 4):
        best = beam_search(toy, src, beam=k, bos=BOS, eos=EOS, pad=PAD, max_len=5)
        assert best == [[B]] * 3, k
        assert penalised(best[0], 0.6, TABLE_TRAP) > penalised(greedy[0], 0.6, TABLE_TRAP)


@pytest.mark.parametrize("which", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
@pytest.mark.parametrize("max_len", [3, 5])
def test_beam_result_is_the_exhaustive_optimum_on_toy(which, alpha, max_len):
    """max_len bounds the generated tokens, EOS included (EOS is forced at the last step), so the
    candidates are all sequences of ≤ max_len - 1 content tokens over {A, B}, each followed by EOS at
    its true probability; the beam must return the best penalised one."""
    torch.manual_seed(2)
    table = TABLES[which]
    cands = [list(s) for n in range(0, max_len) for s in itertools.product([A, B], repeat=n)]
    best_seq = max(cands, key=lambda s: penalised(s, alpha, table))
    got = beam_search(ToyModel(), torch.full((1, 1), which), beam=4, bos=BOS, eos=EOS, pad=PAD, max_len=max_len, alpha=alpha)
    assert got == [best_seq]


def test_max_len_counts_eos_and_forces_it():
    torch.manual_seed(10)
    src = torch.tensor([[2], [2]])  # greedy path B B B EOS
    for max_len, want in [(1, []), (2, [B]), (3, [B, B]), (4, [B, B, B]), (9, [B, B, B])]:
        toy = ToyModel()
        greedy, state = greedy_search(toy, src, bos=BOS, eos=EOS, pad=PAD, max_len=max_len)
        assert greedy == [want, want], max_len
        assert state.history.shape[1] == min(max_len, 4)  # stops once EOS (forced or not) is out
    # Per-sentence limits.
    greedy, _ = greedy_search(ToyModel(), torch.tensor([[2], [2], [0]]), bos=BOS, eos=EOS, pad=PAD, max_len=torch.tensor([2, 9, 1]))
    assert greedy == [[B], [B, B, B], []]
    # Beam search with a forced EOS: with room for 2 tokens, the best of B B EOS (p(EOS | B B) tiny),
    # A EOS, B A EOS, ... is B A EOS (0.9·0.1·0.9 at length 3).
    assert beam_search(ToyModel(), torch.tensor([[2]]), beam=4, bos=BOS, eos=EOS, pad=PAD, max_len=3) == [[B, A]]
    got = beam_search(ToyModel(), torch.tensor([[2], [2]]), beam=4, bos=BOS, eos=EOS, pad=PAD, max_len=torch.tensor([3, 9]))
    assert got == [[B, A], [B, B, B]]


def test_length_penalty_changes_the_choice():
    torch.manual_seed(3)
    src = torch.full((1, 1), 1)
    assert beam_search(ToyModel(), src, beam=3, bos=BOS, eos=EOS, pad=PAD, max_len=5, alpha=0.0) == [[]]
    assert beam_search(ToyModel(), src, beam=3, bos=BOS, eos=EOS, pad=PAD, max_len=5, alpha=0.6) == [[A]]


def test_beam_batch_of_different_toy_sentences():
    torch.manual_seed(4)
    toy = ToyModel()
    src = torch.tensor([[0], [1], [2], [0]])
    got = beam_search(toy, src, beam=2, bos=BOS, eos=EOS, pad=PAD, max_len=6)
    assert got == [[B], [A], [B, B, B], [B]]
    st = toy.states[-1]
    assert st.history.shape[0] == 4 * 2 and st.reorders >= 1
    # rows i*k .. i*k+k-1 still belong to sentence i after all the reordering
    assert st.src.tolist() == [0, 0, 1, 1, 2, 2, 0, 0]
    assert torch.all(st.history[:, 0] == BOS)


def test_greedy_stops_early_and_feeds_padding_after_eos():
    torch.manual_seed(5)
    toy = ToyModel()
    hyps, state = greedy_search(toy, torch.tensor([[0], [2]]), bos=BOS, eos=EOS, pad=PAD, max_len=10)
    assert hyps == [[A], [B, B, B]]
    # sentence 1 emits EOS at step 4, so exactly 4 steps ran; sentence 0 ended at step 2 and is fed PAD after
    assert state.history.tolist() == [[BOS, A, EOS, PAD], [BOS, B, B, B]]


# --- random Transformer -----------------------------------------------------------------------------
V = 16


def random_model(**kw):
    model = Transformer(config("tiny", src_vocab=V, tgt_vocab=V, **kw)).eval()
    with torch.no_grad():  # make EOS likely so that hypotheses of different lengths compete
        model.generator.proj.bias[EOS] = 2.0
    return model


def padded_batch(lens):
    srcs = [torch.randint(3, V, (1, n)) for n in lens]
    return srcs, torch.cat([F.pad(s, (0, max(lens) - s.shape[1]), value=PAD) for s in srcs], 0)


@dataclass
class _FullState:
    src: torch.Tensor
    hist: torch.Tensor

    def reorder(self, index):
        self.src, self.hist = self.src.index_select(0, index), self.hist.index_select(0, index)


class FullRecompute:
    """The same model without any cache: every step reruns model(src, prefix)."""

    def __init__(self, model):
        self.model = model

    def start(self, src):
        return _FullState(src, torch.zeros(src.shape[0], 0, dtype=torch.long))

    def step(self, tokens, state, need_weights=False):
        state.hist = torch.cat([state.hist, tokens], 1)
        return self.model(state.src, state.hist)[:, -1]


@pytest.mark.parametrize("positions", ["sinusoidal", "rotary"])
def test_beam1_equals_greedy_on_random_model(positions):
    torch.manual_seed(6)
    model = random_model(positions=positions)
    srcs, batch = padded_batch([4, 7, 2, 5, 6])
    greedy, _ = greedy_search(model, batch, bos=BOS, eos=EOS, pad=PAD, max_len=8)
    assert beam_search(model, batch, beam=1, bos=BOS, eos=EOS, pad=PAD, max_len=8) == greedy
    for s, g in zip(srcs, greedy):
        assert beam_search(model, s, beam=1, bos=BOS, eos=EOS, pad=PAD, max_len=8)[0] == g


@pytest.mark.parametrize("positions", ["sinusoidal", "learned", "rotary"])
def test_cached_beam_search_equals_uncached(positions):
    """Beam search reorders the Transformer's caches every step; the result must equal a cache-free run."""
    torch.manual_seed(7)
    model = random_model(positions=positions)
    _, batch = padded_batch([3, 6, 5])
    with torch.no_grad():
        cached = beam_search(model, batch, beam=3, bos=BOS, eos=EOS, pad=PAD, max_len=7)
        uncached = beam_search(FullRecompute(model), batch, beam=3, bos=BOS, eos=EOS, pad=PAD, max_len=7)
        greedy_cached, _ = greedy_search(model, batch, bos=BOS, eos=EOS, pad=PAD, max_len=7)
        greedy_uncached, _ = greedy_search(FullRecompute(model), batch, bos=BOS, eos=EOS, pad=PAD, max_len=7)
    assert cached == uncached
    assert greedy_cached == greedy_uncached


def test_decode_state_reorder():
    """Swapping the rows of a decoding state equals decoding the swapped batch."""
    torch.manual_seed(8)
    model = random_model()
    _, src = padded_batch([5, 3])
    prefix = torch.cat([torch.full((2, 1), BOS), torch.randint(3, V, (2, 3))], 1)
    with torch.no_grad():
        state = model.start(src)
        for t in range(3):
            model.step(prefix[:, t : t + 1], state)
        state.reorder(torch.tensor([1, 0, 0]))
        got = model.step(prefix[[1, 0, 0], 3:4], state)
        want = model(src[[1, 0, 0]], prefix[[1, 0, 0]])[:, -1]
    torch.testing.assert_close(got, want, atol=2e-5, rtol=2e-5)


def test_max_len_on_random_model():
    torch.manual_seed(11)
    model = Transformer(config("tiny", src_vocab=V, tgt_vocab=V)).eval()
    with torch.no_grad():  # EOS (almost) never chosen freely
        model.generator.proj.bias[EOS] = -50.0
    _, batch = padded_batch([3, 5])
    greedy, state = greedy_search(model, batch, bos=BOS, eos=EOS, pad=PAD, max_len=6)
    assert [len(h) for h in greedy] == [5, 5] and state.offset == 6
    greedy, _ = greedy_search(model, batch, bos=BOS, eos=EOS, pad=PAD, max_len=torch.tensor([2, 4]))
    assert [len(h) for h in greedy] == [1, 3]
    assert all(len(h) == 5 for h in beam_search(model, batch, beam=3, bos=BOS, eos=EOS, pad=PAD, max_len=6))


def test_beam_batched_equals_alone_on_random_model():
    torch.manual_seed(9)
    model = random_model()
    srcs, batch = padded_batch([3, 6, 5])
    together = beam_search(model, batch, beam=3, bos=BOS, eos=EOS, pad=PAD, max_len=8)
    for s, h in zip(srcs, together):
        assert beam_search(model, s, beam=3, bos=BOS, eos=EOS, pad=PAD, max_len=8)[0] == h
        assert EOS not in h and PAD not in h and BOS not in h

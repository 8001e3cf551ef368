r"""CTC decoding: best path (greedy), prefix beam search, and beam search constrained to a word list.

All decoders read frame log-probabilities ``log_probs: (B, T, V)`` (blank = id 0) and the valid
frame counts ``lengths: (B,)``; frames past ``lengths[b]`` are ignored.

**Best path** takes the most probable output at every frame and collapses it (B: merge repeats,
then drop blanks). It finds the most probable *alignment*, which is not always the most probable
*label sequence*: p(y | x) sums over all the alignments of y (see :mod:`transmodal.asr.ctc`).
With two frames of p(−) = 0.6, p(a) = 0.4 the best path is "−−" → "" (0.36), yet
p("a") = p(aa) + p(a−) + p(−a) = 0.16 + 0.24 + 0.24 = 0.64.

**Prefix beam search** (Hannun et al. 2014; Graves 2012 §7.5) sums over alignments as it goes. For
each prefix ℓ it keeps two probabilities after frame t: p_b(ℓ, t), that of the alignments of frames
1..t collapsing to ℓ and ending in a blank, and p_nb(ℓ, t), those ending in ℓ's last label. With
p_t(k) the frame-t probability of output k and ℓ = ℓ⁻ + c::

    p_b(ℓ, t)  = [p_b(ℓ, t−1) + p_nb(ℓ, t−1)] · p_t(−)                 (a blank keeps the prefix)
    p_nb(ℓ, t) =  p_nb(ℓ, t−1) · p_t(c)                                  (c repeated: merged into ℓ)
               + p_b(ℓ⁻, t−1) · p_t(c)                   if c = last(ℓ⁻) (a repeat needs a blank between)
               + [p_b(ℓ⁻, t−1) + p_nb(ℓ⁻, t−1)] · p_t(c)  otherwise
    p_b(∅, 0) = 1,   p_nb(∅, 0) = 0,   score(ℓ) = log[p_b(ℓ, T) + p_nb(ℓ, T)] = log p(ℓ | x)

Only the ``beam`` most probable prefixes survive each frame, so the scores are exact for the
prefixes that were never pruned, and the search is exact when the beam holds every prefix.
Everything is computed in log space (sums become log-add-exp).

**Constrained decoding** runs the same search but lets a prefix grow only along a trie of the
allowed words, and by a space only after a complete word; a final hypothesis must end on a
complete word (or be empty: nothing was said).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import Tensor

from transmodal.asr.ctc import BLANK_ID, _check_inputs
from transmodal.asr.vocab import CharVocab

NEG_INF = float("-inf")


def _lse(a: float, b: float) -> float:
    """log(e^a + e^b) without overflow."""
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


# --- best path ------------------------------------------------------------------------------------
def greedy_decode(log_probs: Tensor, lengths: Tensor) -> list[list[int]]:
    """Best-path decoding: argmax per frame, merge repeats, drop blanks. Returns label ids per utterance."""
    _check_inputs(log_probs, lengths)
    best = log_probs.argmax(dim=-1).tolist()  # (B, T)
    out = []
    for row, n in zip(best, lengths.tolist()):
        ids, prev = [], BLANK_ID
        for k in row[:n]:
            if k != prev and k != BLANK_ID:
                ids.append(k)
            prev = k
        out.append(ids)
    return out


# --- prefix beam search ---------------------------------------------------------------------------
# extend(state, candidates) -> (label, next_state) pairs: the labels a prefix in ``state`` may add.
Extend = Callable[[object, list[int]], Iterable[tuple[int, object]]]


def _prefix_beam_search(
    frames: list[list[float]],
    candidates: list[list[int]],
    beam: int,
    root: object,
    extend: Extend,
) -> dict[tuple[int, ...], list]:
    """The recursion of the module docstring over one utterance.

    frames: T rows of V log-probabilities; candidates: per frame, the labels worth trying.
    Returns every hypothesis alive after the last frame (unpruned): prefix → [log p_b, log p_nb, state].
    """
    hyps: dict[tuple[int, ...], list] = {(): [0.0, NEG_INF, root]}
    for lp, cands in zip(frames, candidates):
        if len(hyps) > beam:
            kept = sorted(hyps.items(), key=lambda kv: _lse(kv[1][0], kv[1][1]), reverse=True)[:beam]
            hyps = dict(kept)
        nxt: dict[tuple[int, ...], list] = {}

        def add(prefix, state, log_b, log_nb):
            h = nxt.get(prefix)
            if h is None:
                nxt[prefix] = [log_b, log_nb, state]
            else:
                h[0], h[1] = _lse(h[0], log_b), _lse(h[1], log_nb)

        for prefix, (log_b, log_nb, state) in hyps.items():
            total = _lse(log_b, log_nb)
            add(prefix, state, total + lp[BLANK_ID], NEG_INF)  # blank: prefix unchanged
            if prefix:  # the last label again, without a blank: merged into the same prefix
                add(prefix, state, NEG_INF, log_nb + lp[prefix[-1]])
            for c, new_state in extend(state, cands):
                base = log_b if prefix and c == prefix[-1] else total
                add(prefix + (c,), new_state, NEG_INF, base + lp[c])
        hyps = nxt
    return hyps


def _frames_and_candidates(log_probs: Tensor, lengths: Tensor, token_beam: int | None):
    """Per utterance: its valid frames as float64 lists, and per frame the labels to try."""
    v = log_probs.shape[-1]
    lp = log_probs.detach().double().cpu()
    if token_beam is None or token_beam >= v - 1:
        labels = list(range(1, v))
        top = None
    else:
        if token_beam < 1:
            raise ValueError(f"token_beam must be ≥ 1 (or None for all labels); got {token_beam}")
        top = lp[..., 1:].topk(token_beam, dim=-1).indices + 1  # (B, T, token_beam), blank excluded
    for b, n in enumerate(lengths.tolist()):
        frames = lp[b, :n].tolist()
        cands = [labels] * n if top is None else top[b, :n].tolist()
        yield frames, cands


def _check_beam(beam: int) -> None:
    if not isinstance(beam, int) or beam < 1:
        raise ValueError(f"beam must be a positive integer; got {beam!r}")


@torch.no_grad()
def beam_decode(
    log_probs: Tensor, lengths: Tensor, beam: int = 8, token_beam: int | None = None
) -> list[list[tuple[list[int], float]]]:
    """CTC prefix beam search.

    Args:
        log_probs: (B, T, V) frame log-probabilities, blank = 0.  lengths: (B,) valid frames.
        beam: prefixes kept after each frame.
        token_beam: try only the ``token_beam`` most probable labels of each frame as extensions
            (None: all of them; a small value such as 8–16 speeds up large vocabularies).

    Returns:
        per utterance, up to ``beam`` pairs (label ids, log p(ids | x)), best first; label sequences
        too long for the frames (probability 0) are left out.
    """
    _check_inputs(log_probs, lengths)
    _check_beam(beam)
    out = []
    for frames, cands in _frames_and_candidates(log_probs, lengths, token_beam):
        hyps = _prefix_beam_search(frames, cands, beam, None, lambda _s, cs: ((c, None) for c in cs))
        scored = ((list(p), _lse(h[0], h[1])) for p, h in hyps.items())
        ranked = sorted((x for x in scored if x[1] > NEG_INF), key=lambda x: x[1], reverse=True)  # −inf: impossible
        out.append(ranked[:beam])
    return out


# --- decoding constrained to a word list ----------------------------------------------------------
class _TrieNode:
    __slots__ = ("children", "word")

    def __init__(self):
        self.children: dict[int, _TrieNode] = {}
        self.word: str | None = None  # the allowed word (as given) that ends here


def _build_trie(words: list[str], vocab: CharVocab) -> _TrieNode:
    if not words:
        raise ValueError("constrained decoding needs at least one allowed word")
    root = _TrieNode()
    for w in words:
        ids = vocab.encode(w)
        if not ids:
            raise ValueError(f"allowed word {w!r} is empty after normalisation")
        if vocab.space_id in ids:
            raise ValueError(f"allowed word {w!r} contains a space; pass its words separately")
        node = root
        for i in ids:
            node = node.children.setdefault(i, _TrieNode())
        if node.word is None:  # a duplicate (after normalisation) keeps the first spelling
            node.word = w
    return root


@torch.no_grad()
def constrained_beam_decode(
    log_probs: Tensor,
    lengths: Tensor,
    words: list[str],
    vocab: CharVocab,
    beam: int = 8,
    token_beam: int | None = None,
) -> list[list[tuple[list[str], float]]]:
    """Prefix beam search whose prefixes are sequences of allowed words separated by single spaces.

    Returns, per utterance, up to ``beam`` pairs (words, log p(text | x)), best first, where the words
    are spelled as in ``words`` and text is them joined by spaces. Only hypotheses ending on a complete
    word (or the empty one) count; the list is empty when none survived the beam.
    """
    _check_inputs(log_probs, lengths)
    _check_beam(beam)
    if log_probs.shape[-1] != vocab.vocab_size:
        raise ValueError(f"log_probs has V={log_probs.shape[-1]} outputs but the vocabulary has {vocab.vocab_size}")
    root, space = _build_trie(words, vocab), vocab.space_id

    def extend(node: _TrieNode, cands: list[int]):
        allowed = set(cands)
        for c, child in node.children.items():
            if c in allowed:
                yield c, child
        if node.word is not None:  # a complete word may be followed by a space and a new word
            yield space, root

    out = []
    for frames, cands in _frames_and_candidates(log_probs, lengths, token_beam):
        hyps = _prefix_beam_search(frames, cands, beam, root, extend)
        done = []
        for prefix, (log_b, log_nb, node) in hyps.items():
            score = _lse(log_b, log_nb)
            if (prefix and node.word is None) or score == NEG_INF:
                continue  # ends inside a word or on a space, or cannot fit in the frames
            done.append((_words_of(prefix, root, space), score))
        out.append(sorted(done, key=lambda x: x[1], reverse=True)[:beam])
    return out


def _words_of(prefix: tuple[int, ...], root: _TrieNode, space: int) -> list[str]:
    """Walk the trie along ``prefix`` and return the words (as given) it spells."""
    words, node = [], root
    for c in prefix:
        if c == space:
            words.append(node.word)
            node = root
        else:
            node = node.children[c]
    if prefix:
        words.append(node.word)
    return words


def constrained_decode(
    log_probs: Tensor,
    lengths: Tensor,
    words: list[str],
    vocab: CharVocab,
    beam: int = 8,
    token_beam: int | None = None,
) -> list[list[str]]:
    """The best word sequence per utterance, every word taken from ``words`` (see :func:`constrained_beam_decode`).

    An empty list means that the best surviving hypothesis is "nothing said" (or none survived).
    """
    nbest = constrained_beam_decode(log_probs, lengths, words, vocab, beam=beam, token_beam=token_beam)
    return [hyps[0][0] if hyps else [] for hyps in nbest]

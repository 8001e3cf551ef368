"""Brute-force CTC references for tiny T and V: enumerate every alignment, no dynamic programming."""

import itertools
import math

import torch


def collapse(alignment) -> tuple[int, ...]:
    """B: merge runs of repeated outputs, then drop the blanks (id 0)."""
    out, prev = [], None
    for k in alignment:
        if k != prev and k != 0:
            out.append(k)
        prev = k
    return tuple(out)


def sequence_probs(probs: torch.Tensor) -> dict[tuple[int, ...], float]:
    """probs: (T, V) frame probabilities → {label sequence: Σ over its alignments of Π_t p_t(a_t)}."""
    t, v = probs.shape
    p = probs.tolist()
    totals: dict[tuple[int, ...], float] = {}
    for a in itertools.product(range(v), repeat=t):
        y = collapse(a)
        totals[y] = totals.get(y, 0.0) + math.prod(p[i][k] for i, k in enumerate(a))
    return totals


def random_log_probs(b: int, t: int, v: int, seed: int, sharpness: float = 1.0) -> torch.Tensor:
    """(B, T, V) float64 log-softmax of Gaussian logits (× sharpness)."""
    g = torch.Generator().manual_seed(seed)
    return (sharpness * torch.randn(b, t, v, generator=g, dtype=torch.float64)).log_softmax(-1)


def frames(vocab, spec: list[dict[str, float]], floor: float = 1e-4) -> torch.Tensor:
    """Hand-made (1, T, V) log-posteriors: each frame gives {char: probability} ('-' = blank);
    every other output gets ``floor``, then the frame is renormalised."""
    rows = []
    for frame in spec:
        p = torch.full((vocab.vocab_size,), floor, dtype=torch.float64)
        for ch, q in frame.items():
            p[0 if ch == "-" else vocab.encode(ch)[0] if ch != " " else vocab.space_id] = q
        rows.append(p / p.sum())
    return torch.stack(rows).log()[None]


def spell(vocab, text: str, peak: float = 0.9, blank_between: bool = True) -> torch.Tensor:
    """(1, T, V) posteriors that spell ``text`` with probability ``peak`` per frame, a blank frame after each character."""
    spec = []
    for ch in text:
        spec.append({ch: peak})
        if blank_between:
            spec.append({"-": peak})
    return frames(vocab, spec)

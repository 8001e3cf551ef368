r"""Greedy and batched beam search over a model with an incremental ``start`` / ``step`` interface.

A decodable model provides::

    state = model.start(src)                 # encode once, open key/value caches
    logprobs = model.step(tokens, state)     # tokens (N, 1) → log p(next | prefix) (N, V); extends caches
    state.reorder(index)                     # keep hypotheses ``index`` (beam search)

Beam search keeps the K best prefixes per sentence by total log-probability. A finished hypothesis
(one that emitted EOS) stays in the beam and is extended only by padding at no cost. The final choice
uses the GNMT length penalty (Wu et al. 2016), as the Transformer paper does with α = 0.6::

    score(Y) = log P(Y | X) / lp(Y),     lp(Y) = ((5 + |Y|) / 6)^α
"""

from __future__ import annotations

import torch
from torch import Tensor


def length_penalty(length: Tensor, alpha: float) -> Tensor:
    """((5 + |Y|) / 6)^α."""
    return ((5.0 + length.float()) / 6.0) ** alpha


def _limits(max_len: int | Tensor, n: int, device) -> Tensor:
    """Per-sentence limits (N,) on generated tokens, EOS included: EOS is forced at the last one."""
    if isinstance(max_len, Tensor):
        return max_len.to(device)
    return torch.full((n,), int(max_len), dtype=torch.long, device=device)


def _strip(row: list[int], eos: int, pad: int) -> list[int]:
    out = []
    for t in row:
        if t == eos:
            break
        if t != pad:
            out.append(t)
    return out


@torch.no_grad()
def greedy_search(model, src: Tensor, *, bos: int, eos: int, pad: int, max_len: int | Tensor, need_weights: bool = False):
    """Pick argmax tokens until every sentence has emitted EOS. Returns (list of token lists, state).

    ``max_len`` (an int, or one per sentence) bounds the generated tokens, EOS included.
    """
    state = model.start(src)
    n = src.shape[0]
    limits = _limits(max_len, n, src.device)
    tokens = torch.full((n, 1), bos, dtype=torch.long, device=src.device)
    done = torch.zeros(n, dtype=torch.bool, device=src.device)
    out = []
    for t in range(int(limits.max())):
        logprobs = model.step(tokens, state, need_weights=need_weights)
        nxt = logprobs.argmax(-1)
        nxt = torch.where(t >= limits - 1, torch.full_like(nxt, eos), nxt)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        out.append(nxt)
        done |= nxt == eos
        tokens = nxt[:, None]
        if bool(done.all()):
            break
    ids = torch.stack(out, dim=1).tolist()
    return [_strip(r, eos, pad) for r in ids], state


@torch.no_grad()
def beam_search(
    model,
    src: Tensor,
    *,
    beam: int,
    bos: int,
    eos: int,
    pad: int,
    max_len: int | Tensor,
    alpha: float = 0.6,
) -> list[list[int]]:
    """Batched beam search of width ``beam``; returns the best hypothesis (token ids, no BOS/EOS) per sentence.

    ``max_len`` (an int, or one per sentence) bounds the generated tokens, EOS included.
    """
    b, k = src.shape[0], beam
    device = src.device
    limits = _limits(max_len, b, device)
    state = model.start(src.repeat_interleave(k, dim=0))  # row i*k + j = sentence i, beam j
    tokens = torch.full((b * k, 1), bos, dtype=torch.long, device=device)
    scores = torch.full((b, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: keep only one alive
    finished = torch.zeros(b, k, dtype=torch.bool, device=device)
    lengths = torch.zeros(b, k, dtype=torch.long, device=device)
    history = torch.zeros(b, k, 0, dtype=torch.long, device=device)

    for t in range(int(limits.max())):
        logprobs = model.step(tokens, state).view(b, k, -1)  # (B, K, V)
        v = logprobs.shape[-1]
        # At a sentence's last allowed step, EOS is the only continuation.
        only_eos = torch.full_like(logprobs, float("-inf"))
        only_eos[..., eos] = logprobs[..., eos]
        logprobs = torch.where((t >= limits - 1)[:, None, None], only_eos, logprobs)
        # Finished beams may only continue with padding, at no cost.
        frozen = torch.full_like(logprobs, float("-inf"))
        frozen[..., pad] = 0.0
        logprobs = torch.where(finished[..., None], frozen, logprobs)
        cand = (scores[..., None] + logprobs).view(b, k * v)
        scores, flat = cand.topk(k, dim=-1)  # (B, K)
        origin, token = flat // v, flat % v
        history = torch.cat([history.gather(1, origin[..., None].expand(-1, -1, history.shape[-1])), token[..., None]], dim=-1)
        was_finished = finished.gather(1, origin)
        lengths = lengths.gather(1, origin) + (~was_finished).long()
        finished = was_finished | (token == eos)
        state.reorder((origin + torch.arange(b, device=device)[:, None] * k).view(-1))
        tokens = token.view(-1, 1)
        if bool(finished.all()):
            break

    final = scores / length_penalty(lengths, alpha)
    final = torch.where(torch.isfinite(scores), final, torch.full_like(final, float("-inf")))
    best = final.argmax(dim=-1)  # (B,)
    rows = history[torch.arange(b, device=device), best].tolist()
    return [_strip(r, eos, pad) for r in rows]

r"""GPT: a decoder-only Transformer language model (Radford et al. 2018, 2019).

    p(w_t | w_<t) = softmax(E · LayerNorm(Blocks(E[w_<t] + P[0..t-1])))          (output matrix tied to E)

``Blocks`` is an :class:`~transmodal.nn.Encoder` stack run with ``causal=True`` — position t attends to
positions ≤ t only — in the pre-norm arrangement of GPT-2 (``x + Attn(LN(x))``, ``x + FFN(LN(x))``, a
final LayerNorm), GELU feed-forward, learned absolute positions (or rotary). Initialisation as GPT-2:
N(0, 0.02²) everywhere, with the two projections that write into the residual stream (attention
output, second feed-forward matrix) scaled by 1/√(2·n_layers) so the stream's variance does not grow
with depth.

Generation is incremental: the prompt is run once, filling a :class:`~transmodal.nn.KVCache` per layer,
then each new token costs one position's worth of work (its query attends to the cached keys and
values) instead of re-reading the whole prefix. The next token is drawn from the last position's
distribution after, in this order, temperature scaling, top-k and top-p (nucleus) filtering:

    temperature τ:  softmax(z / τ)             (τ → 0: greedy; τ = 0 means argmax)
    top-k:          keep the k largest logits
    top-p:          keep the smallest set of most-probable tokens whose probability sums to ≥ p

The context is bounded by ``max_len`` (the learned position table). When a cached generation fills it,
the cache is rebuilt from the most recent ``max_len // 2`` tokens and generation continues; the
uncached path instead re-reads the last ``max_len`` tokens every step. Both agree exactly while the
text fits in ``max_len``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.nn import Encoder, Generator, KVCache, LayerSpec, TokenEmbedding, make_positions


@dataclass
class GPTConfig:
    vocab_size: int = 8000
    d_model: int = 256
    n_heads: int = 4
    n_layers: int = 4
    d_ff: int | None = None  # None → 4·d_model
    dropout: float = 0.1
    attn_dropout: float = 0.0
    activation: str = "gelu"
    max_len: int = 256  # context length (positions 0 .. max_len-1)
    positions: str = "learned"  # learned | rotary
    tie_weights: bool = True
    pad_id: int = 0
    eos_id: int = 2  # separates documents in the training stream


CONFIGS: dict[str, GPTConfig] = {
    # GPT-2 "small" (124M parameters with its 50,257-token vocabulary).
    "gpt2": GPTConfig(vocab_size=50257, d_model=768, n_heads=12, n_layers=12, d_ff=3072, max_len=1024),
    # CPU-sized models.
    "small": GPTConfig(d_model=256, n_heads=4, n_layers=4, d_ff=1024, max_len=256),
    "mini": GPTConfig(d_model=128, n_heads=4, n_layers=2, d_ff=512, max_len=256),
    "tiny": GPTConfig(d_model=64, n_heads=4, n_layers=2, d_ff=128, max_len=64, dropout=0.0),
}


def config(name: str, **overrides) -> GPTConfig:
    """A named configuration with fields replaced, e.g. ``config("small", vocab_size=8000)``."""
    if name not in CONFIGS:
        raise ValueError(f"unknown GPT configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


@register("gpt", GPTConfig)
class GPT(nn.Module):
    """Causal LM: ``forward(ids)`` (B, T) → next-token logits (B, T, V)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        c = self.config = config
        if c.positions not in ("learned", "rotary"):
            raise ValueError(f"positions={c.positions!r}: GPT uses 'learned' or 'rotary'")
        self.tokens = TokenEmbedding(c.vocab_size, c.d_model, scale=False)
        self.positions = make_positions(c.positions, c.d_model, c.max_len)  # None for rotary
        self.dropout = nn.Dropout(c.dropout)
        spec = LayerSpec(c.d_model, c.n_heads, c.d_ff, c.dropout, c.attn_dropout, c.activation, norm_first=True,
                         rotary=c.positions == "rotary")
        self.blocks = Encoder(spec, c.n_layers)  # pre-norm: ends with a LayerNorm
        self.head = Generator(c.d_model, c.vocab_size, tie_to=self.tokens if c.tie_weights else None, bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        for name, p in self.named_parameters():
            if p.ndim >= 2 and name.endswith("weight"):
                std = residual_std if name.endswith(("out_proj.weight", "ff.w2.weight")) else 0.02
                nn.init.normal_(p, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def _embed(self, ids: Tensor, offset: int = 0) -> Tensor:
        if offset + ids.shape[1] > self.config.max_len:
            raise ValueError(
                f"{offset + ids.shape[1]} positions exceed the model's context of max_len={self.config.max_len}; "
                "give a shorter input (generate() crops the context for you)"
            )
        x = self.tokens(ids)
        if self.positions is not None:
            x = self.positions(x, offset)
        return self.dropout(x)

    def forward(self, ids: Tensor, last_only: bool = False) -> Tensor:
        """ids: (B, T) with T ≤ max_len → logits (B, T, V), or (B, 1, V) of the last position only.

        Position t sees ids[:, :t+1] only.
        """
        h = self.blocks(self._embed(ids), causal=True)
        return self.head.logits(h[:, -1:] if last_only else h)

    # --- incremental decoding ---------------------------------------------------------------------
    def new_cache(self) -> list[KVCache]:
        return self.blocks.new_cache()

    def forward_cached(self, ids: Tensor, cache: list[KVCache]) -> Tensor:
        """ids: (B, T_new), the positions after those already in ``cache`` → their logits (B, T_new, V).

        Runs the same layers as :meth:`forward`, with each layer's self-attention reading and extending its cache.
        """
        return self.head.logits(self.blocks(self._embed(ids, offset=cache[0].length), causal=True, caches=cache))


# ------------------------------------------------------------------------------------------ sampling
def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Set to -inf every logit outside the top-k and then outside the top-p nucleus. logits: (N, V)."""
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k={top_k} must be >= 1 (or None for no limit)")
        k = min(top_k, logits.shape[-1])
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p={top_p} must be in (0, 1]")
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # probability mass of the tokens ranked above
        drop_sorted = before >= top_p  # the first token always stays (before = 0)
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token per row of logits (N, V) → (N,). ``temperature=0`` picks the argmax."""
    if temperature < 0:
        raise ValueError(f"temperature={temperature} must be >= 0 (0 = greedy)")
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(filter_logits(logits.float() / temperature, top_k, top_p), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model: GPT,
    prompt: Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Continue ``prompt`` (B, T) by up to ``max_new_tokens`` tokens → (B, T + n).

    With ``eos_id``, a row that has emitted it is continued with ``eos_id`` only, and generation
    stops when every row has. ``use_cache=False`` re-reads the (cropped) context at every step — the
    reference the cached path must match.
    """
    if prompt.ndim != 2 or prompt.shape[1] == 0:
        raise ValueError(f"prompt must be (B, T) token ids with T >= 1, got shape {tuple(prompt.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 0")
    was_training = model.training
    model.eval()
    limit = model.config.max_len
    ids = prompt
    done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    cache = model.new_cache() if use_cache else None

    def next_logits(new: Tensor) -> Tensor:
        nonlocal cache
        if not use_cache:
            return model(ids[:, -limit:], last_only=True)[:, -1]
        if cache[0].length + new.shape[1] > limit:  # context full: rebuild from the recent half
            cache = model.new_cache()
            new = ids[:, -(limit // 2) :]
        return model.forward_cached(new, cache)[:, -1]

    try:
        logits = next_logits(ids[:, -limit:])
        for step in range(max_new_tokens):
            nxt = sample_next(logits, temperature, top_k, top_p, generator)
            if eos_id is not None:
                nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
                done |= nxt == eos_id
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            if step == max_new_tokens - 1 or (eos_id is not None and bool(done.all())):
                break
            logits = next_logits(nxt[:, None])
    finally:
        model.train(was_training)
    return ids

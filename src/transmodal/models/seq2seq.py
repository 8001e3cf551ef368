r"""The Transformer of "Attention Is All You Need" (Vaswani et al., 2017) for translation.

    memory = Encoder(PE(Embed(src)))                         src: (B, S) → memory: (B, S, D)
    p(y_t | y_<t, src) = Generator(Decoder(PE(Embed(y_<t)), memory))

Embeddings are scaled by √d_model (§3.4) and followed by dropout (§5.4); with ``shared_vocab`` one
matrix serves the source embedding, the target embedding and the pre-softmax projection (§3.4).
``CONFIGS["base"]`` is the paper's base model (N=6, d_model=512, h=8, d_ff=2048, P_drop=0.1), about
63M parameters with a 37,000-token shared vocabulary (the paper's Table 3 rounds to 65M).

Incremental decoding (:meth:`Transformer.start` / :meth:`Transformer.step`) keeps a key/value cache
per decoder layer, used by :mod:`transmodal.models.decoding`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.nn import Decoder, DecoderLayerCache, Encoder, Generator, LayerSpec, TokenEmbedding, make_positions, padding_mask


@dataclass
class Seq2SeqConfig:
    src_vocab: int = 8000
    tgt_vocab: int = 8000
    d_model: int = 512
    n_heads: int = 8
    n_enc_layers: int = 6
    n_dec_layers: int = 6
    d_ff: int | None = None  # None → 4·d_model
    dropout: float = 0.1
    attn_dropout: float = 0.0
    activation: str = "relu"
    positions: str = "sinusoidal"  # sinusoidal | learned | rotary
    max_len: int = 256
    norm_first: bool = False  # False = post-norm, as in the paper
    shared_vocab: bool = True  # one embedding matrix for source, target and generator
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2


CONFIGS: dict[str, Seq2SeqConfig] = {
    # The paper's base model (Table 3, row "base"); vocabulary sizes are set from the tokenizer.
    "base": Seq2SeqConfig(src_vocab=37000, tgt_vocab=37000, d_model=512, n_heads=8, n_enc_layers=6, n_dec_layers=6, d_ff=2048),
    # The paper's big model (Table 3, row "big").
    "big": Seq2SeqConfig(src_vocab=37000, tgt_vocab=37000, d_model=1024, n_heads=16, n_enc_layers=6, n_dec_layers=6, d_ff=4096, dropout=0.3),
    # CPU-sized models.
    "small": Seq2SeqConfig(d_model=256, n_heads=4, n_enc_layers=3, n_dec_layers=3, d_ff=1024, dropout=0.1),
    "tiny": Seq2SeqConfig(d_model=64, n_heads=4, n_enc_layers=2, n_dec_layers=2, d_ff=128, dropout=0.0, max_len=64),
}


def config(name: str, **overrides) -> Seq2SeqConfig:
    """A named configuration with fields replaced, e.g. ``config("small", src_vocab=8000, tgt_vocab=8000)``."""
    if name not in CONFIGS:
        raise ValueError(f"unknown seq2seq configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


@dataclass
class DecodeState:
    """What incremental decoding carries between steps: encoder memory, its mask, and the caches."""

    memory: Tensor  # (N, S, D)
    memory_mask: Tensor  # (N, 1, 1, S)
    cache: list[DecoderLayerCache]
    offset: int = 0  # number of target positions already decoded
    cross_weights: list[Tensor] = field(default_factory=list)  # filled when recording attention

    def reorder(self, index: Tensor) -> None:
        self.memory = self.memory.index_select(0, index)
        self.memory_mask = self.memory_mask.index_select(0, index)
        for c in self.cache:
            c.reorder(index)


@register("seq2seq", Seq2SeqConfig)
class Transformer(nn.Module):
    """Encoder–decoder Transformer; ``forward(src, tgt_in)`` returns log-probabilities (B, T, V_tgt)."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        c = self.config = config
        if c.shared_vocab and c.src_vocab != c.tgt_vocab:
            raise ValueError("shared_vocab=True needs src_vocab == tgt_vocab")
        spec = LayerSpec(c.d_model, c.n_heads, c.d_ff, c.dropout, c.attn_dropout, c.activation, c.norm_first, rotary=c.positions == "rotary")
        self.src_embed = TokenEmbedding(c.src_vocab, c.d_model, padding_idx=c.pad_id)
        self.tgt_embed = self.src_embed if c.shared_vocab else TokenEmbedding(c.tgt_vocab, c.d_model, padding_idx=c.pad_id)
        self.src_pos = make_positions(c.positions, c.d_model, c.max_len)
        self.tgt_pos = make_positions(c.positions, c.d_model, c.max_len)
        self.dropout = nn.Dropout(c.dropout)
        self.encoder = Encoder(spec, c.n_enc_layers)
        self.decoder = Decoder(spec, c.n_dec_layers)
        self.generator = Generator(c.d_model, c.tgt_vocab, tie_to=self.tgt_embed if c.shared_vocab else None)
        self._init_weights()

    def _init_weights(self) -> None:
        # Glorot/Xavier-uniform for every projection matrix (nn.Linear); token embeddings keep
        # N(0, d^-1/2) from TokenEmbedding and learned position tables N(0, 0.02²) from LearnedPositions.
        for module in self.modules():
            if isinstance(module, nn.Linear) and module.weight is not self.tgt_embed.weight:  # skip the tied generator
                nn.init.xavier_uniform_(module.weight)

    def _embed(self, tokens: Tensor, embed: TokenEmbedding, pos: nn.Module | None, offset: int = 0) -> Tensor:
        x = embed(tokens)
        if pos is not None:
            x = pos(x, offset)
        return self.dropout(x)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """src: (B, S) ids → (memory (B, S, D), key mask (B, 1, 1, S))."""
        mask = padding_mask(src != self.config.pad_id)
        return self.encoder(self._embed(src, self.src_embed, self.src_pos), mask), mask

    def decode(self, tgt_in: Tensor, memory: Tensor, memory_mask: Tensor, need_weights: bool = False) -> tuple[Tensor, list[Tensor]]:
        """tgt_in: (B, T) ids (starting with BOS) → (log-probs (B, T, V), cross-attention weights per layer)."""
        self_mask = padding_mask(tgt_in != self.config.pad_id)
        h, weights = self.decoder(self._embed(tgt_in, self.tgt_embed, self.tgt_pos), memory, self_mask, memory_mask, need_weights=need_weights)
        return self.generator(h), weights

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        memory, mask = self.encode(src)
        return self.decode(tgt_in, memory, mask)[0]

    # --- incremental decoding -------------------------------------------------------------------------
    def start(self, src: Tensor) -> DecodeState:
        """Encode the source once and open empty key/value caches."""
        memory, mask = self.encode(src)
        return DecodeState(memory, mask, self.decoder.new_cache())

    def step(self, tokens: Tensor, state: DecodeState, need_weights: bool = False) -> Tensor:
        """tokens: (N, 1) the last emitted token of each hypothesis → log-probs (N, V) of the next one."""
        x = self._embed(tokens, self.tgt_embed, self.tgt_pos, offset=state.offset)
        h, weights = self.decoder(x, state.memory, None, state.memory_mask, cache=state.cache, need_weights=need_weights)
        state.offset += tokens.shape[1]
        if need_weights:
            state.cross_weights.append(torch.stack(weights, dim=0))  # (L, N, H, 1, S)
        return self.generator(h[:, -1])


def count_parameters(model: nn.Module) -> int:
    """Number of distinct trainable parameters (tied matrices counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

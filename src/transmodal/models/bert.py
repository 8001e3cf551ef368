r"""BERT (Devlin et al., 2019): a bidirectional Transformer encoder pre-trained by masked-token prediction.

Input representation (the paper's Figure 2) — the sum of three embeddings, then LayerNorm and dropout::

    x_t = LayerNorm(E_token[w_t] + P[t] + E_segment[s_t])      P: learned positions, s_t ∈ {0, 1}

Encoder: N post-norm Transformer layers (:class:`~transmodal.nn.Encoder`, GELU feed-forward; the
``norm_first`` option gives the pre-norm variant) with a key-padding mask — every token attends to
every real token on both sides, which is what makes the model *bidirectional*.

Masked-LM head (pre-training; see :mod:`transmodal.text.masking` for how tokens are chosen)::

    p(w | h_t) = softmax(E_token · LayerNorm(GELU(W h_t + b)) + b_vocab)    (output matrix tied to E_token)

Task heads, as in the paper's Figure 4 — all read the same encoder and are fine-tuned end to end:

* (a) sentence-pair and (b) single-sentence classification: ``[CLS] A [SEP] (B [SEP])`` →
  the pooled [CLS] state ``tanh(W_p h_0 + b_p)`` → linear → class logits  (:class:`BertClassifier`)
* (c) question answering (span extraction): ``[CLS] question [SEP] paragraph [SEP]`` → one start and
  one end logit per token, ``S·h_t`` and ``E·h_t``; answer = argmax over valid (start ≤ end) spans
  (:class:`BertSpanExtractor`)
* (d) single-sentence tagging: a linear layer on every token's state (:class:`BertTagger`)

Initialisation follows BERT: N(0, 0.02²) for every weight matrix and embedding, zero biases.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.nn import Encoder, Generator, LayerSpec, LearnedPositions, TokenEmbedding, make_activation, padding_mask


@dataclass
class BertConfig:
    vocab_size: int = 8000
    d_model: int = 256
    n_heads: int = 4
    n_layers: int = 4
    d_ff: int | None = None  # None → 4·d_model
    dropout: float = 0.1
    attn_dropout: float = 0.1
    activation: str = "gelu"
    max_len: int = 128  # learned position table size
    type_vocab: int = 2  # segments A and B
    norm_first: bool = False  # False = post-norm, as in BERT
    pad_id: int = 0
    n_labels: int = 0  # classes of a classification / tagging head (unused by the masked-LM model)


CONFIGS: dict[str, BertConfig] = {
    # The paper's BERT-base (L=12, H=768, A=12, 110M parameters with its 30,522-piece vocabulary).
    "base": BertConfig(vocab_size=30522, d_model=768, n_heads=12, n_layers=12, d_ff=3072, max_len=512),
    # CPU-sized models.
    "small": BertConfig(d_model=256, n_heads=4, n_layers=4, d_ff=1024, max_len=128),
    "mini": BertConfig(d_model=128, n_heads=2, n_layers=2, d_ff=512, max_len=128),
    "tiny": BertConfig(d_model=64, n_heads=2, n_layers=2, d_ff=128, max_len=64, dropout=0.0, attn_dropout=0.0),
}


def config(name: str, **overrides) -> BertConfig:
    """A named configuration with fields replaced, e.g. ``config("small", vocab_size=8000)``."""
    if name not in CONFIGS:
        raise ValueError(f"unknown BERT configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


def _bert_init(module: nn.Module) -> None:
    """N(0, 0.02²) weights, zero biases; embeddings last, so a tied output matrix ends as an embedding (zero [PAD] row)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()


class BertEncoder(nn.Module):
    """Embeddings (token + position + segment) and the encoder stack: ids (B, T) → states (B, T, D)."""

    def __init__(self, c: BertConfig):
        super().__init__()
        self.config = c
        self.tokens = TokenEmbedding(c.vocab_size, c.d_model, padding_idx=c.pad_id, scale=False)
        self.positions = LearnedPositions(c.d_model, c.max_len)
        self.segments = nn.Embedding(c.type_vocab, c.d_model)
        self.norm = nn.LayerNorm(c.d_model)
        self.dropout = nn.Dropout(c.dropout)
        spec = LayerSpec(c.d_model, c.n_heads, c.d_ff, c.dropout, c.attn_dropout, c.activation, c.norm_first)
        self.encoder = Encoder(spec, c.n_layers)

    def forward(self, ids: Tensor, segments: Tensor | None = None) -> Tensor:
        """ids, segments: (B, T) → (B, T, D). Padding (``pad_id``) is masked out of every attention."""
        if segments is None:
            segments = torch.zeros_like(ids)
        x = self.positions(self.tokens(ids)) + self.segments(segments)
        x = self.dropout(self.norm(x))
        return self.encoder(x, padding_mask(ids != self.config.pad_id))


class BertBase(nn.Module):
    """Shared by every BERT model: ``self.bert`` is the encoder, so weights move between heads."""

    def __init__(self, c: BertConfig):
        super().__init__()
        self.config = c
        self.bert = BertEncoder(c)

    @classmethod
    def from_pretrained(cls, pretrained: nn.Module, n_labels: int = 0, dropout: float | None = None):
        """A new model of this class whose encoder starts from ``pretrained``'s (any BERT model); the head is fresh."""
        if not isinstance(getattr(pretrained, "bert", None), BertEncoder):
            raise TypeError(f"{type(pretrained).__name__} is not a BERT model (no .bert encoder)")
        overrides = {"n_labels": n_labels} if n_labels else {}
        if dropout is not None:
            overrides["dropout"] = dropout
        model = cls(replace(pretrained.config, **overrides))
        model.bert.load_state_dict(pretrained.bert.state_dict())
        return model


@register("bert", BertConfig)
class BertForMaskedLM(BertBase):
    """Encoder + masked-LM head. ``forward(ids, segments, select)`` → vocabulary logits."""

    def __init__(self, c: BertConfig):
        super().__init__(c)
        self.transform = nn.Linear(c.d_model, c.d_model)
        self.act = make_activation(c.activation)
        self.transform_norm = nn.LayerNorm(c.d_model)
        self.generator = Generator(c.d_model, c.vocab_size, tie_to=self.bert.tokens)
        _bert_init(self)

    def forward(self, ids: Tensor, segments: Tensor | None = None, select: Tensor | None = None) -> Tensor:
        """Logits (B, T, V); with a boolean ``select`` (B, T), only the selected positions' (N, V)."""
        h = self.bert(ids, segments)
        if select is not None:
            h = h[select]
        return self.generator.logits(self.transform_norm(self.act(self.transform(h))))


@register("bert_classifier", BertConfig)
class BertClassifier(BertBase):
    """Single-sentence or sentence-pair classification from the pooled [CLS] state → (B, n_labels)."""

    def __init__(self, c: BertConfig):
        super().__init__(c)
        if c.n_labels < 2:
            raise ValueError(f"a classifier needs n_labels >= 2, got {c.n_labels}")
        self.pooler = nn.Linear(c.d_model, c.d_model)
        self.dropout = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(c.d_model, c.n_labels)
        _bert_init(self)

    def forward(self, ids: Tensor, segments: Tensor | None = None) -> Tensor:
        pooled = torch.tanh(self.pooler(self.bert(ids, segments)[:, 0]))
        return self.classifier(self.dropout(pooled))


@register("bert_tagger", BertConfig)
class BertTagger(BertBase):
    """One label per token → (B, T, n_labels)."""

    def __init__(self, c: BertConfig):
        super().__init__(c)
        if c.n_labels < 2:
            raise ValueError(f"a tagger needs n_labels >= 2, got {c.n_labels}")
        self.dropout = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(c.d_model, c.n_labels)
        _bert_init(self)

    def forward(self, ids: Tensor, segments: Tensor | None = None) -> Tensor:
        return self.classifier(self.dropout(self.bert(ids, segments)))


@register("bert_span", BertConfig)
class BertSpanExtractor(BertBase):
    """Start and end logits per token → (B, T, 2); padding positions get a very low score."""

    def __init__(self, c: BertConfig):
        super().__init__(c)
        self.span = nn.Linear(c.d_model, 2)
        _bert_init(self)

    def forward(self, ids: Tensor, segments: Tensor | None = None) -> Tensor:
        logits = self.span(self.bert(ids, segments))
        return logits.masked_fill((ids == self.config.pad_id)[..., None], torch.finfo(logits.dtype).min)


def best_spans(logits: Tensor, allowed: Tensor, max_span: int = 30) -> Tensor:
    """(B, 2) start/end maximising start_logit + end_logit over start ≤ end < start + max_span, both in ``allowed`` (B, T)."""
    start, end = logits[..., 0], logits[..., 1]
    t = logits.shape[1]
    low = torch.finfo(logits.dtype).min
    start = start.masked_fill(~allowed, low)
    end = end.masked_fill(~allowed, low)
    scores = start[:, :, None] + end[:, None, :]  # (B, T_start, T_end)
    i = torch.arange(t, device=logits.device)
    ok = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_span)
    scores = scores.masked_fill(~ok, low)
    flat = scores.flatten(1).argmax(-1)
    return torch.stack([flat // t, flat % t], dim=-1)

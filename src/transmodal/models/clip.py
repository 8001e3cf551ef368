r"""CLIP: contrastive language–image pre-training (Radford et al. 2021, "Learning Transferable Visual
Models From Natural Language Supervision"), Figure 3's pseudocode::

    I_f = image_encoder(I)                    (n, d_i)   a Vision Transformer, pooled
    T_f = text_encoder(T)                     (n, d_t)   a transformer over the caption's tokens, pooled
    I_e = l2_normalize(I_f · W_i)             (n, d_e)   linear projections to the joint space
    T_e = l2_normalize(T_f · W_t)             (n, d_e)
    logits = I_e · T_eᵀ · exp(t)              (n, n)     t: learned log inverse temperature
    loss = (CE(logits, arange n) + CE(logitsᵀ, arange n)) / 2      → :mod:`transmodal.nn.contrastive`

**Image encoder**: :class:`~transmodal.models.vit.VisionTransformer` built from ``vision`` (its config
fields); its classification head is sized to the joint space (``num_classes = embed_dim``) and *is*
W_i — applied to the pooled ([class] or mean) token. Unlike the paper's W_i it has a bias.

**Text encoder**: token embedding + learned positions + pre-norm :class:`~transmodal.nn.Encoder`
layers (GELU) ending in a LayerNorm, then W_t (no bias). Every caption ends with the tokenizer's
</s> (EOS). ``text_pool`` picks the text feature T_f:

* ``"eos"`` — as the paper: causal self-attention, the feature at the EOS position (it has seen the
  whole caption and nothing after it, so right padding never matters);
* ``"mean"`` — bidirectional self-attention with the padding masked out as keys, the mean over the
  non-padding positions (EOS included). With a small vocabulary of attribute words this pooling
  keeps each word's contribution close to additive, which helps unseen word combinations.

**Temperature**: t is initialised to log(1/0.07) (the logit scale e^t starts at 14.3) and, as in the
paper ("clipped to prevent scaling the logits by more than 100"), clamped to t ≤ log(100) **after each
optimiser step** (:func:`clamp_after_each_step` registers that as an optimiser post-step hook, which is
what the recipe does); ``forward`` uses e^t as it is.

**Zero-shot classification** (§3.1.4): each class name is put into several prompt templates
("a photo of a {}." …); the normalised text embeddings of one class are averaged and the mean is
normalised again (:func:`zero_shot_weights`). An image's class probabilities are
softmax(e^t · I_e · Wᵀ) over those K class vectors (:func:`zero_shot_probs`).

**Retrieval** (:func:`retrieval_recall`): recall@K of image→text and text→image search — the share
of queries whose true partner is among the K most similar items of the other modality.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.models.vit import ViTConfig, VisionTransformer
from transmodal.nn import Encoder, LayerSpec, LearnedPositions, TokenEmbedding, padding_mask
from transmodal.nn.contrastive import similarity_logits

TEXT_POOLS = ("eos", "mean")


@dataclass
class CLIPConfig:
    embed_dim: int = 64  # d_e, the joint space
    vision: dict[str, Any] = field(default_factory=dict)  # ViTConfig fields (num_classes is set to embed_dim)
    vocab_size: int = 256
    context_length: int = 32  # longest caption in tokens, EOS included
    text_width: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_ff: int | None = None  # None → 4·text_width
    text_pool: str = "mean"  # mean | eos
    dropout: float = 0.0
    init_temperature: float = 0.07  # τ₀; the logit scale starts at 1/τ₀
    max_logit_scale: float = 100.0  # e^t is clamped to this after each optimiser step
    pad_id: int = 0
    eos_id: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.vision, ViTConfig):
            self.vision = asdict(self.vision)
        problems = []
        known = {f.name for f in fields(ViTConfig)}
        unknown = sorted(set(self.vision) - known)
        if unknown:
            problems.append(f"vision has fields {unknown} that ViTConfig does not know")
        if self.vision.get("head_hidden", 0):
            problems.append("vision.head_hidden must be 0: the ViT's linear head is the image projection W_i")
        if self.text_pool not in TEXT_POOLS:
            problems.append(f"text_pool={self.text_pool!r} is not one of {TEXT_POOLS}")
        if self.text_width % self.text_heads:
            problems.append(f"text_width={self.text_width} is not divisible by text_heads={self.text_heads}")
        if not 0.0 < self.init_temperature:
            problems.append(f"init_temperature={self.init_temperature} must be > 0")
        if self.max_logit_scale < 1.0 / self.init_temperature:
            problems.append(f"max_logit_scale={self.max_logit_scale} is below the initial scale 1/{self.init_temperature}")
        if problems:
            raise ValueError("invalid CLIPConfig: " + "; ".join(problems))

    def vit_config(self) -> ViTConfig:
        return ViTConfig(**{**self.vision, "num_classes": self.embed_dim, "head_hidden": 0})


class TextEncoder(nn.Module):
    """ids (B, T), right-padded with pad_id, each row holding one EOS → T_f · W_t: (B, embed_dim)."""

    def __init__(self, c: CLIPConfig):
        super().__init__()
        self.pool, self.pad_id, self.eos_id = c.text_pool, c.pad_id, c.eos_id
        self.tokens = TokenEmbedding(c.vocab_size, c.text_width, scale=False)
        self.positions = LearnedPositions(c.text_width, c.context_length, init_std=0.01)
        self.dropout = nn.Dropout(c.dropout)
        spec = LayerSpec(c.text_width, c.text_heads, c.text_ff, c.dropout, 0.0, "gelu", norm_first=True)
        self.blocks = Encoder(spec, c.text_layers)  # pre-norm: ends with a LayerNorm
        self.proj = nn.Linear(c.text_width, c.embed_dim, bias=False)

    def forward(self, ids: Tensor) -> Tensor:
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"expected token ids (B, T) with T ≥ 1, got shape {tuple(ids.shape)}")
        is_eos = ids == self.eos_id
        if not bool(is_eos.any(dim=1).all()):
            raise ValueError("every caption must end with the EOS token; use transmodal.models.clip.tokenize")
        x = self.dropout(self.positions(self.tokens(ids)))
        if self.pool == "eos":
            h = self.blocks(x, causal=True)
            pooled = h[torch.arange(ids.shape[0], device=ids.device), is_eos.int().argmax(dim=1)]  # first EOS
        else:
            keep = ids != self.pad_id
            h = self.blocks(x, mask=padding_mask(keep))
            w = keep.unsqueeze(-1).to(h.dtype)
            pooled = (h * w).sum(dim=1) / w.sum(dim=1)
        return self.proj(pooled)


@register("clip", CLIPConfig)
class CLIP(nn.Module):
    """``forward(images (B, C, H, W) in [0, 1], ids (B, T))`` → (I_e (B, d_e), T_e (B, d_e), logit scale e^t)."""

    def __init__(self, config: CLIPConfig):
        super().__init__()
        c = self.config = config
        self.visual = VisionTransformer(c.vit_config())
        self.text = TextEncoder(c)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / c.init_temperature)))
        self._init_text()

    def _init_text(self) -> None:
        # Text side as GPT-2/CLIP: N(0, 0.02²) matrices, zero biases; W_t ~ N(0, width^-1).
        for name, p in self.text.named_parameters():
            if name.startswith("positions."):
                continue
            if p.ndim >= 2:
                nn.init.normal_(p, std=0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)
        nn.init.normal_(self.text.proj.weight, std=self.config.text_width**-0.5)

    def no_weight_decay(self) -> set[str]:
        """Parameters weight decay skips: the temperature, biases, norm gains, positions, the [class] token."""
        visual = {"visual." + n for n in self.visual.no_weight_decay()}
        text = {"text." + n for n, p in self.text.named_parameters() if p.ndim < 2 or n.startswith("positions.")}
        return visual | text | {"logit_scale"}

    def encode_image(self, images: Tensor, normalize: bool = True) -> Tensor:
        """Images (B, C, H, W) in [0, 1] → I_e (B, d_e) (L2-normalised unless ``normalize=False``)."""
        z = self.visual(images)
        return F.normalize(z, dim=-1) if normalize else z

    def encode_text(self, ids: Tensor, normalize: bool = True) -> Tensor:
        """Token ids (B, T) → T_e (B, d_e) (L2-normalised unless ``normalize=False``)."""
        z = self.text(ids)
        return F.normalize(z, dim=-1) if normalize else z

    def scale(self) -> Tensor:
        """The logit scale e^t (a 0-dim tensor)."""
        return self.logit_scale.exp()

    def forward(self, images: Tensor, ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.encode_image(images), self.encode_text(ids), self.scale()

    @torch.no_grad()
    def clamp_logit_scale_(self) -> None:
        """t ← min(t, log max_logit_scale): the logit scale never exceeds 100 (the paper's clipping)."""
        self.logit_scale.clamp_(max=math.log(self.config.max_logit_scale))


def clamp_after_each_step(optimizer: torch.optim.Optimizer, model: CLIP) -> Callable[[], None]:
    """Register :meth:`CLIP.clamp_logit_scale_` to run after every ``optimizer.step()``; returns the hook's remover."""
    handle = optimizer.register_step_post_hook(lambda opt, args, kwargs: model.clamp_logit_scale_())
    return handle.remove


# ------------------------------------------------------------------------------------------ text input


def tokenize(tokenizer, texts: Sequence[str], context_length: int) -> Tensor:
    """Captions → ids (B, T) right-padded with the tokenizer's pad id, EOS last; T = the longest caption.

    ``tokenizer``: a :class:`transmodal.text.tokenizers.Tokenizer`. A caption longer than
    ``context_length`` tokens (EOS included) is an error, not silently cut.
    """
    if isinstance(texts, str) or not texts:
        raise ValueError("give a non-empty list of captions")
    rows = tokenizer.encode_batch(list(texts), eos=True)
    longest = max(len(r) for r in rows)
    if longest > context_length:
        worst = texts[max(range(len(rows)), key=lambda i: len(rows[i]))]
        raise ValueError(f"caption {worst!r} has {longest} tokens with EOS; the model reads at most {context_length}")
    ids = torch.full((len(rows), longest), tokenizer.pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return ids


# --------------------------------------------------------------------------------- using a trained model


@torch.no_grad()
def embed_images(model: CLIP, images: Tensor, batch_size: int = 500) -> Tensor:
    """Normalised image embeddings (N, d_e) in eval mode, by batches, on the model's device (returned on CPU)."""
    model.eval()
    device = model.logit_scale.device
    out = [model.encode_image(images[s : s + batch_size].to(device)).float().cpu() for s in range(0, images.shape[0], batch_size)]
    return torch.cat(out) if out else images.new_zeros(0, model.config.embed_dim)


@torch.no_grad()
def embed_texts(model: CLIP, tokenizer, texts: Sequence[str], batch_size: int = 500) -> Tensor:
    """Normalised text embeddings (N, d_e) in eval mode, by batches (returned on CPU)."""
    model.eval()
    device = model.logit_scale.device
    out = []
    for s in range(0, len(texts), batch_size):
        ids = tokenize(tokenizer, texts[s : s + batch_size], model.config.context_length).to(device)
        out.append(model.encode_text(ids).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def zero_shot_weights(model: CLIP, tokenizer, classnames: Sequence[str], templates: Sequence[str]) -> Tensor:
    """One unit vector per class (K, d_e): the normalised mean of its normalised prompt embeddings.

    ``templates`` hold one ``{}`` each, replaced by the class name ("a photo of a {}.").
    """
    if not classnames or not templates:
        raise ValueError("zero-shot classification needs at least one class name and one template")
    bad = [t for t in templates if t.count("{}") != 1]
    if bad:
        raise ValueError(f"each template needs exactly one '{{}}' for the class name; these do not: {bad}")
    prompts = [t.format(name) for name in classnames for t in templates]
    emb = embed_texts(model, tokenizer, prompts).view(len(classnames), len(templates), -1)
    return F.normalize(emb.mean(dim=1), dim=-1)


@torch.no_grad()
def zero_shot_probs(model: CLIP, image_emb: Tensor, class_weights: Tensor) -> Tensor:
    """Class probabilities (N, K) = softmax(e^t · I_e · Wᵀ) of normalised image embeddings (N, d_e)."""
    scale = model.scale().detach().float().cpu()
    return similarity_logits(image_emb, class_weights, scale).softmax(dim=-1)


def retrieval_recall(image_emb: Tensor, text_emb: Tensor, ks: Sequence[int] = (1, 5),
                     groups: Tensor | None = None) -> dict[str, float]:
    """Recall@K both ways for n (image, text) pairs, pair i matching: {"image_to_text@1": …, "text_to_image@1": …}.

    A query counts as found at K when one of its K most similar items is its partner — or, with
    ``groups`` (n,), any item of the same group (e.g. the same caption text: identical captions are
    equally right). Ties are broken by index order (``torch.topk``).
    """
    n = image_emb.shape[0]
    if text_emb.shape[0] != n:
        raise ValueError(f"{n} images but {text_emb.shape[0]} texts: retrieval pairs item i of each")
    g = torch.arange(n) if groups is None else torch.as_tensor(groups)
    sim = image_emb.float() @ text_emb.float().t()  # (n, n)
    out = {}
    for k in ks:
        k_eff = min(k, n)
        i2t = g[sim.topk(k_eff, dim=1).indices]  # groups of the texts each image retrieves
        t2i = g[sim.t().topk(k_eff, dim=1).indices]
        out[f"image_to_text@{k}"] = float((i2t == g[:, None]).any(dim=1).float().mean())
        out[f"text_to_image@{k}"] = float((t2i == g[:, None]).any(dim=1).float().mean())
    return out

r"""Gated Multimodal Units (Arevalo et al. 2017, "Gated Multimodal Units for Information Fusion") and the
fusion baselines they are compared with, over tiny per-modality encoders.

**Bimodal GMU** (the paper's eq. 1–5; ``x_v``, ``x_t`` are the two modalities' feature vectors)::

    h_v = tanh(W_v · x_v)                     (B, H)
    h_t = tanh(W_t · x_t)                     (B, H)
    z   = σ(W_z · [x_v ; x_t])                (B, H)   one gate value per hidden unit
    h   = z ⊙ h_v + (1 − z) ⊙ h_t             (B, H)

**N-modal GMU** (the paper's general form, one gate per modality, each gate seeing every input)::

    h_i = tanh(W_i · x_i)                     i = 1 … N
    z_i = σ(W_zi · [x_1 ; … ; x_N])
    h   = Σ_i z_i ⊙ h_i

With N = 2 this is *not* the bimodal unit: the N-modal gates are independent (they need not sum to 1),
the bimodal one ties them as z and 1 − z. As in the paper, the W are plain matrices (no bias).

**Baselines, same encoders and the same width H** (B = batch, N modalities, C classes)::

    concat (early fusion):  h = tanh(W · [x_1 ; … ; x_N])              → linear classifier
    sum:                    h = Σ_i tanh(W_i · x_i)                    → linear classifier
    late fusion:            p = mean_i softmax(classifier_i(x_i))      (each modality its own classifier;
                            logits returned as log p, so argmax / cross-entropy work on them)

**Missing modalities** (``present: (B, N) bool``, True = the modality is there; our addition — the paper
always has both). A missing modality's feature vector is set to 0 before anything sees it, so its input
cannot leak. Then: bimodal GMU z := 1 where x_t is missing and z := 0 where x_v is missing (h = the other
modality's h alone); N-modal GMU z_i := 0 for missing i; sum drops the missing terms; late fusion averages
over the present modalities only; concat sees the zeros. Every example must have at least one modality.
Training with modality dropout (:func:`drop_modalities`) teaches each model what a zero means.

**Encoders** (kept tiny on purpose: the point is the fusion, not the features). They give ``x_i: (B, E)``:
image ``(B, 1, S, S)`` → MLP on the pixels; audio ``(B, T, M)`` log-mel + lengths → Conv1d(k=5) → ReLU →
mean over the valid frames → linear → ReLU; text ``(B, L)`` ids (0 = padding) → embedding → mean over
the non-padding ids → linear → ReLU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.nn.lengths import length_mask, zero_padding

MODALITIES = ("image", "audio", "text")
FUSIONS = ("concat", "sum", "late", "gmu")


# ------------------------------------------------------------------------------------------- fusion units


class GMUOutput(NamedTuple):
    h: Tensor  # (B, H) the fused representation
    z: Tensor  # gates: (B, H) for the bimodal unit (z weighs x_v), (B, N, H) for the N-modal one
    terms: Tensor  # (B, N, H) each modality's gated term (bimodal: z ⊙ h_v, (1 − z) ⊙ h_t); h = terms.sum(1)


class BimodalGMU(nn.Module):
    """``forward(x_v (B, Dv), x_t (B, Dt), present (B, 2) | None)`` → :class:`GMUOutput`; see the module doc."""

    def __init__(self, dim_v: int, dim_t: int, hidden: int):
        super().__init__()
        self.w_v = nn.Linear(dim_v, hidden, bias=False)
        self.w_t = nn.Linear(dim_t, hidden, bias=False)
        self.w_z = nn.Linear(dim_v + dim_t, hidden, bias=False)

    def forward(self, x_v: Tensor, x_t: Tensor, present: Tensor | None = None) -> GMUOutput:
        if present is not None:
            x_v, x_t = x_v * present[:, :1], x_t * present[:, 1:2]
        h_v, h_t = torch.tanh(self.w_v(x_v)), torch.tanh(self.w_t(x_t))
        z = torch.sigmoid(self.w_z(torch.cat([x_v, x_t], dim=-1)))
        if present is not None:
            z = torch.where(present[:, 1:2], z, torch.ones_like(z))   # x_t missing: all of h_v
            z = torch.where(present[:, :1], z, torch.zeros_like(z))   # x_v missing: all of h_t
        terms = torch.stack([z * h_v, (1 - z) * h_t], dim=1)
        return GMUOutput(terms.sum(1), z, terms)


class GMU(nn.Module):
    """N-modal GMU: ``forward(xs [(B, D_i)] × N, present (B, N) | None)`` → :class:`GMUOutput` (z: (B, N, H))."""

    def __init__(self, dims: list[int] | tuple[int, ...], hidden: int):
        super().__init__()
        if len(dims) < 2:
            raise ValueError(f"a GMU fuses at least two modalities, got dims={list(dims)}")
        self.w = nn.ModuleList(nn.Linear(d, hidden, bias=False) for d in dims)
        self.w_z = nn.ModuleList(nn.Linear(sum(dims), hidden, bias=False) for _ in dims)

    def forward(self, xs: list[Tensor], present: Tensor | None = None) -> GMUOutput:
        if present is not None:
            xs = [x * present[:, i : i + 1] for i, x in enumerate(xs)]
        h = torch.stack([torch.tanh(w(x)) for w, x in zip(self.w, xs)], dim=1)            # (B, N, H)
        joined = torch.cat(xs, dim=-1)
        z = torch.stack([torch.sigmoid(w(joined)) for w in self.w_z], dim=1)               # (B, N, H)
        if present is not None:
            z = z * present[..., None]
        terms = z * h
        return GMUOutput(terms.sum(1), z, terms)


# ----------------------------------------------------------------------------------------------- encoders


class ImageEncoder(nn.Module):
    """(B, 1, S, S) → (B, E): a two-layer MLP on the pixels."""

    def __init__(self, pixels: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(pixels, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, image: Tensor) -> Tensor:
        return self.net(image)


class AudioEncoder(nn.Module):
    """(B, T, M) log-mel + (B,) frame counts → (B, E): Conv1d(k=5) → ReLU → mean over valid frames → linear → ReLU."""

    def __init__(self, n_mels: int, dim: int):
        super().__init__()
        self.conv = nn.Conv1d(n_mels, dim, kernel_size=5, padding=2)
        self.out = nn.Linear(dim, dim)

    def forward(self, feats: Tensor, lengths: Tensor) -> Tensor:
        x = zero_padding(feats, lengths, time_dim=1).transpose(1, 2)                      # (B, M, T)
        y = torch.relu(self.conv(x))                                                        # (B, E, T)
        keep = length_mask(lengths, y.shape[-1])[:, None, :]                                # (B, 1, T)
        pooled = (y * keep).sum(-1) / lengths.clamp(min=1)[:, None].to(y.dtype)
        return torch.relu(self.out(pooled))


class TextEncoder(nn.Module):
    """(B, L) ids, 0 = padding → (B, E): embedding → mean over the non-padding ids → linear → ReLU."""

    def __init__(self, vocab: int, dim: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.out = nn.Linear(dim, dim)

    def forward(self, ids: Tensor) -> Tensor:
        keep = (ids != 0)[..., None]
        pooled = (self.embed(ids) * keep).sum(1) / keep.sum(1).clamp(min=1)
        return torch.relu(self.out(pooled))


# --------------------------------------------------------------------------------------------- classifier


class Fused(NamedTuple):
    logits: Tensor  # (B, C); late fusion: log of the averaged probabilities
    gates: Tensor | None = None  # GMU only: (B, N, H) the gate on each modality
    terms: Tensor | None = None  # GMU only: (B, N, H) each modality's gated term z_i ⊙ h_i


@dataclass
class GMUClassifierConfig:
    modalities: tuple[str, ...] = ("image", "audio")  # which inputs, in this order (names from MODALITIES)
    fusion: str = "gmu"  # "concat" | "sum" | "late" | "gmu" (bimodal GMU for 2 modalities, N-modal for more)
    num_classes: int = 10
    image_size: int = 8  # side of the square grey image
    n_mels: int = 40  # log-mel bands of the audio input
    text_vocab: int = 756  # text ids < text_vocab; 0 is padding
    encoder_dim: int = 64  # E: width of every encoder's output x_i
    hidden: int = 64  # H: width of the fused h
    dropout: float = 0.1  # on h, before the classifier

    def __post_init__(self) -> None:
        self.modalities = tuple(self.modalities)  # JSON gives a list back
        unknown = [m for m in self.modalities if m not in MODALITIES]
        if unknown or len(set(self.modalities)) != len(self.modalities) or not self.modalities:
            raise ValueError(f"modalities={list(self.modalities)}: give distinct names from {list(MODALITIES)}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion={self.fusion!r} is unknown; choose one of {', '.join(FUSIONS)}")
        if self.fusion == "gmu" and len(self.modalities) < 2:
            raise ValueError("fusion='gmu' needs at least two modalities")


@register("gmu_classifier", GMUClassifierConfig)
class GMUClassifier(nn.Module):
    """Tiny encoders per modality, one fusion (see the module doc), a linear classifier.

    ``forward(image=None, audio=None, audio_lengths=None, text=None, present=None)`` → logits (B, C).
    A modality given as None is missing for the whole batch; ``present: (B, N) bool`` (N = the
    configured modalities, in order) marks per-example missing ones. :meth:`fuse` also returns a GMU's gates and gated terms.
    """

    def __init__(self, config: GMUClassifierConfig):
        super().__init__()
        self.config = c = config
        e = c.encoder_dim
        make = {"image": lambda: ImageEncoder(c.image_size**2, e), "audio": lambda: AudioEncoder(c.n_mels, e),
                "text": lambda: TextEncoder(c.text_vocab, e)}
        self.encoders = nn.ModuleDict({m: make[m]() for m in c.modalities})
        n = len(c.modalities)
        if c.fusion == "concat":
            self.fusion = nn.Linear(n * e, c.hidden, bias=False)
        elif c.fusion == "sum":
            self.fusion = nn.ModuleList(nn.Linear(e, c.hidden, bias=False) for _ in range(n))
        elif c.fusion == "gmu":
            self.fusion = BimodalGMU(e, e, c.hidden) if n == 2 else GMU([e] * n, c.hidden)
        self.dropout = nn.Dropout(c.dropout)
        if c.fusion == "late":
            self.heads = nn.ModuleList(nn.Linear(e, c.num_classes) for _ in range(n))
        else:
            self.head = nn.Linear(c.hidden, c.num_classes)

    def encode(self, image: Tensor | None = None, audio: Tensor | None = None, audio_lengths: Tensor | None = None,
               text: Tensor | None = None, present: Tensor | None = None) -> tuple[list[Tensor], Tensor]:
        """Each modality's features x_i (B, E), zero where missing, and the full ``present`` mask (B, N)."""
        inputs = {"image": image, "audio": audio, "text": text}
        extra = [m for m in MODALITIES if inputs[m] is not None and m not in self.config.modalities]
        if extra:
            raise ValueError(f"this model reads {list(self.config.modalities)}; it was also given {extra}")
        given = [inputs[m] for m in self.config.modalities if inputs[m] is not None]
        if not given:
            raise ValueError(f"give at least one of the model's modalities {list(self.config.modalities)}")
        b, device = given[0].shape[0], given[0].device
        n = len(self.config.modalities)
        if present is None:
            present = torch.ones(b, n, dtype=torch.bool, device=device)
        if present.shape != (b, n) or present.dtype != torch.bool:
            raise ValueError(f"present must be a (B, N) = ({b}, {n}) bool tensor, got {tuple(present.shape)} {present.dtype}")
        given_mask = torch.tensor([inputs[m] is not None for m in self.config.modalities], device=device)
        present = present & given_mask[None, :]
        if not bool(present.any(1).all()):
            raise ValueError("every example needs at least one modality present (a row of `present` is all False)")
        xs = []
        for i, m in enumerate(self.config.modalities):
            if inputs[m] is None:
                xs.append(next(self.parameters()).new_zeros(b, self.config.encoder_dim))
                continue
            if m == "audio":
                if audio_lengths is None:
                    audio_lengths = torch.full((b,), audio.shape[1], dtype=torch.long, device=device)
                x = self.encoders[m](audio, audio_lengths)
            else:
                x = self.encoders[m](inputs[m])
            xs.append(x * present[:, i : i + 1].to(x.dtype))
        return xs, present

    def fuse(self, xs: list[Tensor], present: Tensor) -> Fused:
        """Logits (B, C) from the features; for a GMU also its gates and gated terms (bimodal gates: z and 1 − z)."""
        fusion = self.config.fusion
        mask = present.to(xs[0].dtype)
        if fusion == "late":
            probs = torch.stack([F.softmax(head(x), -1) for head, x in zip(self.heads, xs)], dim=1)  # (B, N, C)
            mean = (probs * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            return Fused(mean.clamp(min=1e-12).log())
        gates = terms = None
        if fusion == "concat":
            h = torch.tanh(self.fusion(torch.cat(xs, dim=-1)))
        elif fusion == "sum":
            h = sum(torch.tanh(w(x)) * mask[:, i : i + 1] for i, (w, x) in enumerate(zip(self.fusion, xs)))
        elif isinstance(self.fusion, BimodalGMU):
            h, z, terms = self.fusion(xs[0], xs[1], present)
            gates = torch.stack([z, 1 - z], dim=1)
        else:
            h, gates, terms = self.fusion(xs, present)
        return Fused(self.head(self.dropout(h)), gates, terms)

    def unimodal_logits(self, xs: list[Tensor]) -> Tensor:
        """Late fusion only: each modality's own classifier, (B, N, C) logits (for training each head)."""
        if self.config.fusion != "late":
            raise ValueError("unimodal_logits exists only for fusion='late'")
        return torch.stack([head(x) for head, x in zip(self.heads, xs)], dim=1)

    def forward(self, image: Tensor | None = None, audio: Tensor | None = None, audio_lengths: Tensor | None = None,
                text: Tensor | None = None, present: Tensor | None = None) -> Tensor:
        xs, present = self.encode(image, audio, audio_lengths, text, present)
        return self.fuse(xs, present).logits


def drop_modalities(present: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Modality dropout: with probability ``p`` per example, mark one of its present modalities (uniformly) missing.

    Never drops an example's last present modality. present: (B, N) bool → a new (B, N) bool.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"modality dropout p={p} must be in [0, 1]")
    b, n = present.shape
    drop = torch.rand(b, generator=generator) < p
    drop &= present.sum(1) > 1
    scores = torch.rand(b, n, generator=generator).masked_fill(~present, -1.0)
    which = scores.argmax(1)
    out = present.clone()
    out[drop.nonzero().flatten(), which[drop]] = False
    return out

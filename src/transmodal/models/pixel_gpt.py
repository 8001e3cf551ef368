r"""An autoregressive image model: a decoder-only transformer over quantised pixels in raster order.

Each pixel is quantised to one of L grey levels (:mod:`transmodal.vision.quantize`: L evenly spaced
greys, or a k-means palette stored in the config). An image is the sequence x₁ … x_N of its N = H·W
levels, left to right, top to bottom, and the model factorises its probability as (PixelCNN / Image
GPT, Chen et al. 2020)::

    p(x | c) = Π_t p(x_t | x_<t, c)

The sequence read by the transformer starts with a class token — one of K learned vectors for
class-conditional generation, or a K+1-th "no class" vector; the recipe replaces the label by "no
class" for a random 10 % of training images, so one model samples both ways — and continues with
the embeddings of x₁ … x_{N−1}, plus learned positions. Causal self-attention (pre-norm blocks of
:mod:`transmodal.models.vit` with ``causal=True``) makes output t depend on tokens ≤ t only, and a
linear head gives the logits of x_{t+1}. The loss is the cross-entropy, reported in **bits per
dimension**: −(1/N) Σ_t log₂ p(x_t | x_<t, c). (With L levels, log₂ L bits/dim is the cost of a
uniform guess; figures are not comparable with bits/dim over 256 levels.)

Sampling (:meth:`PixelGPT.generate`) draws one pixel at a time with temperature and top-k, keeping
each layer's keys and values in a :class:`~transmodal.nn.KVCache` so step t costs O(t) instead of
recomputing all t positions; ``use_cache=False`` recomputes everything (the tests check both give the
same logits and the same samples). Completing an image = giving its first rows as a prefix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.models.vit import Block
from transmodal.nn import KVCache, LearnedPositions
from transmodal.vision.quantize import dequantize, quantize, uniform_palette


@dataclass
class PixelGPTConfig:
    height: int = 28
    width: int = 28
    levels: int = 16  # grey levels per pixel (the vocabulary)
    palette: list[float] | None = None  # grey value of each level, increasing; None → k/(levels − 1)
    num_classes: int = 10  # class tokens (0: unconditional only); one more token means "no class"
    d_model: int = 256
    n_layers: int = 8
    n_heads: int = 8
    d_ff: int | None = None  # None → 4·d_model
    dropout: float = 0.1
    attn_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.levels < 2:
            raise ValueError(f"levels={self.levels}: at least 2 grey levels are needed")
        if self.palette is not None and len(self.palette) != self.levels:
            raise ValueError(f"the palette has {len(self.palette)} values but levels={self.levels}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.height < 1 or self.width < 1:
            raise ValueError(f"image size {self.height}×{self.width} must be positive")


CONFIGS: dict[str, PixelGPTConfig] = {
    # Fashion-MNIST, 16 grey levels: 6.4M parameters, 784 positions.
    "fashion": PixelGPTConfig(d_model=256, n_layers=8, n_heads=8, d_ff=1024, dropout=0.1),
    # Smaller, for a CPU.
    "fashion-small": PixelGPTConfig(d_model=128, n_layers=4, n_heads=4, d_ff=512, dropout=0.1),
    # For tests and smoke runs.
    "micro": PixelGPTConfig(d_model=32, n_layers=2, n_heads=2, d_ff=64, dropout=0.0),
}


def config(name: str, **overrides) -> PixelGPTConfig:
    if name not in CONFIGS:
        raise ValueError(f"unknown pixel_gpt configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


def bits_per_dim(logits: Tensor, pixels: Tensor) -> Tensor:
    """Mean −log₂ p(x_t | x_<t) over all pixels: logits (B, N, L), pixels (B, N) long."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), pixels.reshape(-1)) / math.log(2.0)


def sample_logits(logits: Tensor, temperature: float = 1.0, top_k: int | None = None,
                  generator: torch.Generator | None = None) -> Tensor:
    """Draw one level per row of logits (B, L): softmax(logits / T) restricted to the k best; T = 0 → argmax.

    Inverse-CDF sampling with one uniform number per row, so the same generator state gives the same
    draw whenever the probabilities agree.
    """
    if temperature < 0:
        raise ValueError(f"temperature={temperature} must be >= 0")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    cdf = F.softmax(logits, dim=-1).cumsum(dim=-1)
    u = torch.rand(logits.shape[0], 1, generator=generator, device=logits.device) * cdf[:, -1:]
    return (cdf <= u).sum(dim=-1).clamp(max=logits.shape[-1] - 1)


@register("pixel_gpt", PixelGPTConfig)
class PixelGPT(nn.Module):
    """``forward(pixels (B, N) levels, labels (B,) or None)`` → logits (B, N, L) of each pixel given the ones before."""

    def __init__(self, config: PixelGPTConfig):
        super().__init__()
        c = self.config = config
        self.n_pixels = c.height * c.width
        self.pixel_embed = nn.Embedding(c.levels, c.d_model)
        self.class_embed = nn.Embedding(c.num_classes + 1, c.d_model)  # row num_classes = "no class"
        self.pos = LearnedPositions(c.d_model, self.n_pixels)
        self.dropout = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            Block(c.d_model, c.n_heads, c.d_ff, c.dropout, c.attn_dropout, eps=1e-5) for _ in range(c.n_layers)
        )
        self.norm = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.levels)
        self._init_weights()

    def _init_weights(self) -> None:
        # GPT-2: N(0, 0.02²) for matrices and embeddings, zero biases; the projections that write into the
        # residual stream (attention output, second MLP layer) get 0.02/√(2L) so the stream's variance
        # does not grow with depth.
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        for block in self.blocks:
            for lin in (block.attn.out_proj, block.mlp.w2):
                nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * self.config.n_layers))

    @property
    def no_class(self) -> int:
        return self.config.num_classes

    @property
    def palette(self) -> list[float]:
        return list(self.config.palette) if self.config.palette is not None else uniform_palette(self.config.levels)

    def quantize(self, images: Tensor) -> Tensor:
        """Images (B, 1, H, W) in [0, 1] → level sequences (B, H·W) in raster order."""
        c = self.config
        if images.ndim != 4 or images.shape[1:] != (1, c.height, c.width):
            raise ValueError(f"expected grey images (B, 1, {c.height}, {c.width}), got {tuple(images.shape)}")
        return quantize(images.reshape(images.shape[0], -1), self.palette)

    def render(self, pixels: Tensor) -> Tensor:
        """Level sequences (B, H·W) → grey images (B, 1, H, W) in [0, 1]."""
        return dequantize(pixels, self.palette).reshape(-1, 1, self.config.height, self.config.width)

    def _labels(self, labels: Tensor | None, batch: int, device) -> Tensor:
        if labels is None:
            return torch.full((batch,), self.no_class, dtype=torch.long, device=device)
        if labels.shape != (batch,):
            raise ValueError(f"labels must be shaped ({batch},), got {tuple(labels.shape)}")
        if bool(((labels < 0) | (labels > self.no_class)).any()):
            raise ValueError(f"labels must be class ids 0..{self.no_class - 1}, or {self.no_class} for 'no class'")
        return labels

    def _run(self, x: Tensor, offset: int, caches: list[KVCache] | None) -> Tensor:
        """Token embeddings (B, T, D) at positions offset … offset+T−1 → logits (B, T, L)."""
        x = self.dropout(self.pos(x, offset))
        for i, block in enumerate(self.blocks):
            x, _ = block(x, causal=True, cache=caches[i] if caches is not None else None)
        return self.head(self.norm(x))

    def forward(self, pixels: Tensor, labels: Tensor | None = None) -> Tensor:
        """pixels (B, N), N ≤ H·W → logits (B, N, L); row t predicts pixel t from the class token and pixels < t."""
        b, n = pixels.shape
        if not 1 <= n <= self.n_pixels:
            raise ValueError(f"a sequence of {n} pixels does not fit this {self.config.height}×{self.config.width} model")
        start = self.class_embed(self._labels(labels, b, pixels.device))[:, None]  # (B, 1, D)
        x = torch.cat([start, self.pixel_embed(pixels[:, :-1])], dim=1)  # (B, N, D)
        return self._run(x, 0, None)

    @torch.no_grad()
    def generate(
        self,
        n: int | None = None,
        labels: Tensor | None = None,
        prefix: Tensor | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Sample whole images as level sequences (B, H·W).

        ``prefix`` (B, P): the first P pixels, kept as given (completion); ``labels`` (B,): class ids
        (None = "no class", unconditional); ``n``: batch size when neither is given.
        """
        device = next(self.parameters()).device
        sizes = {t.shape[0] for t in (labels, prefix) if t is not None} | ({n} if n is not None else set())
        if len(sizes) != 1:
            raise ValueError("give the batch size: n, labels (B,) or prefix (B, P), and make them agree")
        b = sizes.pop()
        labels = self._labels(labels.to(device) if labels is not None else None, b, device)
        out = torch.zeros(b, self.n_pixels, dtype=torch.long, device=device)
        p = 0
        if prefix is not None:
            p = prefix.shape[1]
            if p >= self.n_pixels:
                raise ValueError(f"the prefix already has {p} of the {self.n_pixels} pixels; nothing to draw")
            out[:, :p] = prefix.to(device)
        was_training = self.training
        self.eval()  # no dropout while sampling
        try:
            self._draw(out, labels, p, temperature, top_k, generator, use_cache)
        finally:
            self.train(was_training)
        return out

    def _draw(self, out: Tensor, labels: Tensor, p: int, temperature: float, top_k: int | None,
              generator: torch.Generator | None, use_cache: bool) -> None:
        """Fill out[:, p:] pixel by pixel (out[:, :p] is the given prefix)."""
        if not use_cache:
            for t in range(p, self.n_pixels):
                logits = self(out[:, : t + 1], labels)[:, -1]  # recompute every position ≤ t
                out[:, t] = sample_logits(logits, temperature, top_k, generator)
            return
        caches = [KVCache() for _ in self.blocks]
        x = torch.cat([self.class_embed(labels)[:, None], self.pixel_embed(out[:, :p])], dim=1)  # class token + prefix
        logits = self._run(x, 0, caches)[:, -1]
        for t in range(p, self.n_pixels):
            out[:, t] = sample_logits(logits, temperature, top_k, generator)
            if t + 1 < self.n_pixels:  # feed pixel t at position t + 1; only its keys/values are new
                logits = self._run(self.pixel_embed(out[:, t : t + 1]), t + 1, caches)[:, -1]

    @torch.no_grad()
    def step_logits(self, pixels: Tensor, labels: Tensor | None = None) -> Tensor:
        """The logits (B, N, L) of every position computed one token at a time with the KV cache (for checking)."""
        b, n = pixels.shape
        caches = [KVCache() for _ in self.blocks]
        tokens = torch.cat([self.class_embed(self._labels(labels, b, pixels.device))[:, None], self.pixel_embed(pixels[:, : n - 1])], dim=1)
        return torch.cat([self._run(tokens[:, t : t + 1], t, caches) for t in range(n)], dim=1)

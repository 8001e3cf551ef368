r"""Vision Transformer ("An Image is Worth 16x16 Words", Dosovitskiy et al. 2021).

    z₀ = [x_class; x¹E; …; xᴺE] + E_pos              eq. (1)   xⁿ: the n-th token of the image, E: its projection to D
    z'ₗ = zₗ₋₁ + MSA(LN(zₗ₋₁))                        eq. (2)   pre-norm blocks (nn.Residual, norm_first=True)
    zₗ = z'ₗ + MLP(LN(z'ₗ))                            eq. (3)   MLP: Linear(D → 4D) → GELU → Linear(4D → D)
    y = Head(LN(z_L)[class])                          eq. (4)   or the mean of the image tokens (pool="mean")

**Images as tokens** (``tokens`` in the config), all giving a grid of g_h × g_w tokens:

* ``"patch"``: P×P patches, flattened and projected linearly (equal to a P×P convolution of stride P;
  :func:`transmodal.vision.patching.patchify`). N = HW/P² tokens.
* ``"pixel"``: every pixel a token (P = 1, a linear map of its C values). N = HW: attention costs (HW)².
* ``"conv"``: a convolutional stem (Xiao et al. 2021, "Early convolutions help transformers see
  better"): 3×3 convolutions with BatchNorm and ReLU whose strides multiply to P, then a 1×1
  convolution to D. The same grid as P×P patches, with a convolution's locality built in.

**Head**: LayerNorm, pooling ([class] token or mean), then a linear layer — or, with ``head_hidden > 0``,
the paper's pre-training MLP head Linear(D → head_hidden) → tanh → Linear. :meth:`VisionTransformer.forward_features`
returns the normalised tokens and :meth:`VisionTransformer.forward_head` pools and classifies them.

**Positions**: one learned vector per grid position, plus one for the [class] token. For an image of
another size the grid part is resampled in 2-D (``pos_interp``: bicubic or bilinear, corners aligned,
see :func:`transmodal.vision.patching.interpolate_grid`) — on the fly in ``forward``, or once and for
all with :meth:`VisionTransformer.resize_image` before fine-tuning at the new size.

**Blocks** are built here from :class:`~transmodal.nn.MultiHeadAttention`, :class:`~transmodal.nn.Residual`
and :class:`~transmodal.nn.FeedForward` so that they can return their attention weights (for attention
rollout) and take a key/value cache (for :mod:`transmodal.models.pixel_gpt`). Stochastic depth
("drop path", Huang et al. 2016) skips a whole residual branch per image with a probability that rises
linearly from 0 in the first block to ``drop_path`` in the last.

**Parameter count** of a patch model with linear head (P patch, C channels, T = N + 1 tokens, F = d_ff,
K classes; counted independently in the tests)::

    P²CD + D  +  D  +  TD  +  L · (4D² + 2DF + 9D + F)  +  2D  +  DK + K

With F = 4D a block has 12D² + 13D parameters. ``CONFIGS`` holds the paper's Table 1 models at 224×224
with 1000 classes — ViT-Base/16 86.6M (paper: 86M), ViT-Large/16 304.3M (307M), ViT-Huge/14 632.0M
(632M) — and small ones for CPUs and Fashion-MNIST.

**Attention rollout** (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"): with each
layer's head-averaged attention Aₗ, the residual connection accounted as Ãₗ = ½(Aₗ + I) (rows
renormalised), the attention of the output tokens to the input tokens is Ã_L ⋯ Ã₂ Ã₁
(:func:`attention_rollout`); its [class] row (or the mean of its rows, with mean pooling) over the
image tokens is the relevance map :meth:`VisionTransformer.relevance`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.nn import FeedForward, KVCache, LearnedPositions, MultiHeadAttention, Residual
from transmodal.vision.patching import GRID_MODES, grid_size, interpolate_grid, patchify

TOKENIZERS = ("pixel", "patch", "conv")
POOLS = ("cls", "mean")


@dataclass
class ViTConfig:
    image_size: int = 224  # square images; other sizes work too, resampling the position grid
    in_chans: int = 3
    num_classes: int = 1000
    tokens: str = "patch"  # pixel | patch | conv
    patch_size: int = 16  # pixel: 1; conv: the stem's total stride
    stem_channels: list[int] = field(default_factory=list)  # conv: widths of the 3×3 conv stages
    stem_strides: list[int] = field(default_factory=list)  # conv: their strides (product = patch_size); [] = all 2
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    d_ff: int | None = None  # None → 4·d_model
    pool: str = "cls"  # cls | mean
    head_hidden: int = 0  # 0 = linear head; > 0 = MLP head D → head_hidden → tanh → num_classes
    dropout: float = 0.0
    attn_dropout: float = 0.0
    drop_path: float = 0.0  # stochastic depth of the last block (linearly less in earlier ones)
    pos_interp: str = "bicubic"  # bicubic | bilinear: resampling of the position grid for other image sizes
    norm_eps: float = 1e-6
    pixel_mean: list[float] = field(default_factory=lambda: [0.5])  # inputs x ∈ [0, 1] become (x − mean) / std
    pixel_std: list[float] = field(default_factory=lambda: [0.5])  # one value, or one per channel

    def __post_init__(self) -> None:
        problems = []
        if self.tokens not in TOKENIZERS:
            problems.append(f"tokens={self.tokens!r} is not one of {TOKENIZERS}")
        if self.tokens == "pixel" and self.patch_size != 1:
            problems.append(f"tokens='pixel' means one token per pixel: set patch_size=1 (got {self.patch_size})")
        if self.tokens == "conv":
            strides = self.stem_strides or [2] * len(self.stem_channels)
            if not self.stem_channels:
                problems.append("tokens='conv' needs stem_channels (e.g. [32, 64, 128])")
            elif len(strides) != len(self.stem_channels):
                problems.append(f"stem_strides {self.stem_strides} and stem_channels {self.stem_channels} differ in length")
            elif math.prod(strides) != self.patch_size:
                problems.append(f"the stem's strides {strides} multiply to {math.prod(strides)}, not patch_size={self.patch_size}")
        if self.pool not in POOLS:
            problems.append(f"pool={self.pool!r} is not one of {POOLS}")
        if self.pos_interp not in GRID_MODES:
            problems.append(f"pos_interp={self.pos_interp!r} is not one of {GRID_MODES}")
        if self.image_size % self.patch_size:
            problems.append(f"image_size={self.image_size} is not a multiple of patch_size={self.patch_size}")
        if self.d_model % self.n_heads:
            problems.append(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        for name in ("pixel_mean", "pixel_std"):
            if len(getattr(self, name)) not in (1, self.in_chans):
                problems.append(f"{name} needs 1 or in_chans={self.in_chans} values")
        if problems:
            raise ValueError("invalid ViTConfig: " + "; ".join(problems))


_FASHION = dict(image_size=28, in_chans=1, num_classes=10, d_model=256, n_layers=7, n_heads=4, d_ff=512, pool="mean",
                dropout=0.0, drop_path=0.1, pixel_mean=[0.2860], pixel_std=[0.3530])

CONFIGS: dict[str, ViTConfig] = {
    # The paper's Table 1 models (224×224 RGB, 1000 classes, linear head as used for fine-tuning).
    "base-16": ViTConfig(patch_size=16, d_model=768, n_layers=12, n_heads=12, d_ff=3072),
    "base-32": ViTConfig(patch_size=32, d_model=768, n_layers=12, n_heads=12, d_ff=3072),
    "large-16": ViTConfig(patch_size=16, d_model=1024, n_layers=24, n_heads=16, d_ff=4096),
    "large-32": ViTConfig(patch_size=32, d_model=1024, n_layers=24, n_heads=16, d_ff=4096),
    "huge-14": ViTConfig(patch_size=14, d_model=1280, n_layers=32, n_heads=16, d_ff=5120),
    # DeiT's smaller widths (Touvron et al. 2021), same layout.
    "tiny-16": ViTConfig(patch_size=16, d_model=192, n_layers=12, n_heads=3, d_ff=768),
    "small-16": ViTConfig(patch_size=16, d_model=384, n_layers=12, n_heads=6, d_ff=1536),
    # Fashion-MNIST (28×28 grey, 10 classes): the four ways of making tokens, one transformer size.
    "fashion-conv": ViTConfig(tokens="conv", patch_size=4, stem_channels=[32, 64, 128], stem_strides=[1, 2, 2], **_FASHION),
    "fashion-p4": ViTConfig(tokens="patch", patch_size=4, **_FASHION),
    "fashion-p7": ViTConfig(tokens="patch", patch_size=7, **_FASHION),
    "fashion-pixel": ViTConfig(tokens="pixel", patch_size=1, **_FASHION),
    # The conv stem with narrower transformers: width 128, 6 blocks, 0.91M parameters (≈ 5× fewer operations per
    # image than fashion-conv; 16 epochs on one CPU core: 91.4 % test), and width 192, 6 blocks, 1.9M parameters
    # (the shipped fashion-vit: 28 epochs on a GPU, 91.8 % test).
    "fashion-conv-s": ViTConfig(tokens="conv", patch_size=4, stem_channels=[32, 64, 128], stem_strides=[1, 2, 2],
                                **{**_FASHION, "d_model": 128, "n_layers": 6, "d_ff": 256}),
    "fashion-conv-m": ViTConfig(tokens="conv", patch_size=4, stem_channels=[32, 64, 128], stem_strides=[1, 2, 2],
                                **{**_FASHION, "d_model": 192, "n_layers": 6, "d_ff": 384}),
    # For tests and smoke runs.
    "micro": ViTConfig(image_size=28, in_chans=1, num_classes=10, patch_size=7, d_model=32, n_layers=2, n_heads=2, d_ff=64),
}


def config(name: str, **overrides) -> ViTConfig:
    """A named configuration with fields replaced, e.g. ``config("base-16", num_classes=10)``."""
    if name not in CONFIGS:
        raise ValueError(f"unknown ViT configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


# ----------------------------------------------------------------------------------------- blocks


class DropPath(nn.Module):
    """Stochastic depth: zero a residual branch for a random subset of the batch (rate p), scale the rest by 1/(1 − p)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop path rate {p} must be in [0, 1)")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class Block(nn.Module):
    """Pre-norm transformer block, eqs. (2)–(3); returns its attention weights on request; optional causal mask and KV cache."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int | None = None, dropout: float = 0.0,
                 attn_dropout: float = 0.0, drop_path: float = 0.0, eps: float = 1e-6):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, n_heads, attn_dropout)
        self.mlp = FeedForward(d_model, d_ff, dropout, activation="gelu")
        self.res_attn = Residual(d_model, dropout, norm_first=True, eps=eps)
        self.res_mlp = Residual(d_model, dropout, norm_first=True, eps=eps)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, *, causal: bool = False, cache: KVCache | None = None,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """x: (B, T, D) → ((B, T, D), attention weights (B, H, T, S) or None)."""
        weights = None

        def attend(h: Tensor) -> Tensor:
            nonlocal weights
            out, weights = self.attn(h, causal=causal, cache=cache, need_weights=need_weights)
            return self.drop_path(out)

        x = self.res_attn(x, attend)
        x = self.res_mlp(x, lambda h: self.drop_path(self.mlp(h)))
        return x, weights


# ------------------------------------------------------------------------------------- tokenisers


class PatchEmbed(nn.Module):
    """(B, C, H, W) → (B, N, D): linear projection of P×P patches (P = 1: pixels). Also returns the grid."""

    def __init__(self, in_chans: int, patch: int, d_model: int):
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(in_chans * patch * patch, d_model)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        grid = grid_size(x.shape[-2], x.shape[-1], self.patch)
        return self.proj(patchify(x, self.patch)), grid


class ConvStem(nn.Module):
    """(B, C, H, W) → (B, N, D): [3×3 conv (stride s) → BatchNorm → ReLU] per stage, then a 1×1 conv to D."""

    def __init__(self, in_chans: int, channels: Sequence[int], strides: Sequence[int], d_model: int):
        super().__init__()
        layers, c = [], in_chans
        for width, stride in zip(channels, strides):
            layers += [nn.Conv2d(c, width, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            c = width
        self.stages = nn.Sequential(*layers)
        self.proj = nn.Conv2d(c, d_model, 1)
        self.stride = math.prod(strides)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        grid_size(x.shape[-2], x.shape[-1], self.stride)  # validates the size
        y = self.proj(self.stages(x))  # (B, D, gh, gw)
        return y.flatten(2).transpose(1, 2), (y.shape[-2], y.shape[-1])


# ------------------------------------------------------------------------------------------ model


def attention_rollout(weights: Sequence[Tensor], residual: float = 0.5) -> Tensor:
    """Per-layer attention (B, H, T, T), first layer first → rollout (B, T, T) = Ã_L ⋯ Ã₁, Ã = norm(r·I + (1 − r)·mean_h A)."""
    if not weights:
        raise ValueError("attention rollout needs the weights of at least one layer")
    out = None
    for w in weights:
        a = w.float().mean(dim=1)
        a = residual * torch.eye(a.shape[-1], device=a.device) + (1.0 - residual) * a
        a = a / a.sum(dim=-1, keepdim=True)
        out = a if out is None else a @ out
    return out


@register("vit", ViTConfig)
class VisionTransformer(nn.Module):
    """``forward(images (B, C, H, W) in [0, 1])`` → logits (B, num_classes)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        c = self.config = config
        if c.tokens == "conv":
            strides = c.stem_strides or [2] * len(c.stem_channels)
            self.tokenizer = ConvStem(c.in_chans, c.stem_channels, strides, c.d_model)
        else:
            self.tokenizer = PatchEmbed(c.in_chans, c.patch_size, c.d_model)
        self.grid = grid_size(c.image_size, c.image_size, c.patch_size)
        self.n_prefix = 1 if c.pool == "cls" else 0
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.d_model)) if c.pool == "cls" else None
        self.pos = LearnedPositions(c.d_model, self.n_prefix + self.grid[0] * self.grid[1])
        self.dropout = nn.Dropout(c.dropout)
        rates = [c.drop_path * i / max(1, c.n_layers - 1) for i in range(c.n_layers)]
        self.blocks = nn.ModuleList(
            Block(c.d_model, c.n_heads, c.d_ff, c.dropout, c.attn_dropout, rate, c.norm_eps) for rate in rates
        )
        self.norm = nn.LayerNorm(c.d_model, eps=c.norm_eps)
        if c.head_hidden:
            self.head = nn.Sequential(nn.Linear(c.d_model, c.head_hidden), nn.Tanh(), nn.Linear(c.head_hidden, c.num_classes))
        else:
            self.head = nn.Linear(c.d_model, c.num_classes)
        self.register_buffer("pixel_mean", torch.tensor(c.pixel_mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(c.pixel_std).view(1, -1, 1, 1), persistent=False)
        self._init_weights()

    def _init_weights(self) -> None:
        # Linear layers: truncated normal, std 0.02, zero bias; the patch/pixel projection: LeCun normal
        # (std 1/√fan_in, as the authors' Flax convolution); position table N(0, 0.02²) from
        # LearnedPositions; [class] token zeros; convolutions and norms keep PyTorch's defaults.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
                nn.init.zeros_(m.bias)
        if isinstance(self.tokenizer, PatchEmbed):
            w = self.tokenizer.proj.weight
            std = 1.0 / math.sqrt(w.shape[1])
            nn.init.trunc_normal_(w, std=std, a=-2 * std, b=2 * std)

    def no_weight_decay(self) -> set[str]:
        """Names of parameters that weight decay should skip: positions, [class] token, biases and norm gains."""
        return {name for name, p in self.named_parameters() if p.ndim < 2 or name.startswith(("pos.", "cls_token"))}

    # --- tokens -----------------------------------------------------------------------------------
    def num_tokens(self, image_size: int | None = None) -> int:
        """Tokens per image the blocks see ([class] included) at ``image_size`` (default: the config's)."""
        gh, gw = grid_size(image_size or self.config.image_size, image_size or self.config.image_size, self.config.patch_size)
        return self.n_prefix + gh * gw

    def _positions(self, grid: tuple[int, int]) -> Tensor:
        """The (n_prefix + gh·gw, D) position table for a token grid, resampled if it differs from the trained one."""
        table = self.pos.table
        if tuple(grid) == self.grid:
            return table
        prefix, cells = table[: self.n_prefix], table[self.n_prefix :]
        return torch.cat([prefix, interpolate_grid(cells, self.grid, grid, self.config.pos_interp)], dim=0)

    def embed(self, images: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """Images (B, C, H, W) in [0, 1] → z₀ (B, T, D) of eq. (1), and the token grid."""
        c = self.config
        if images.ndim != 4 or images.shape[1] != c.in_chans:
            raise ValueError(f"expected images shaped (B, {c.in_chans}, H, W), got {tuple(images.shape)}")
        x = (images - self.pixel_mean) / self.pixel_std
        tokens, grid = self.tokenizer(x)  # (B, N, D)
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        return self.dropout(tokens + self._positions(grid)), grid

    def resize_image(self, image_size: int) -> None:
        """Resample the position grid for ``image_size`` once and for all (e.g. before fine-tuning at a higher resolution)."""
        new = grid_size(image_size, image_size, self.config.patch_size)
        table = self._positions(new).detach().clone()
        self.pos = LearnedPositions(table.shape[1], table.shape[0])
        self.pos.table = nn.Parameter(table)
        self.grid = new
        self.config = replace(self.config, image_size=image_size)

    # --- forward ----------------------------------------------------------------------------------
    def _encode(self, images: Tensor, need_weights: bool = False) -> tuple[Tensor, list[Tensor], tuple[int, int]]:
        x, grid = self.embed(images)
        weights = []
        for block in self.blocks:
            x, w = block(x, need_weights=need_weights)
            if w is not None:
                weights.append(w)
        return self.norm(x), weights, grid

    def forward_features(self, images: Tensor) -> Tensor:
        """Images (B, C, H, W) in [0, 1] → final normalised tokens LN(z_L): (B, T, D), [class] first when pool="cls"."""
        return self._encode(images)[0]

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        """Tokens (B, T, D) → logits (B, num_classes); ``pre_logits=True`` returns the pooled (B, D) vector."""
        pooled = features[:, 0] if self.config.pool == "cls" else features[:, self.n_prefix :].mean(dim=1)
        return pooled if pre_logits else self.head(pooled)

    def forward(self, images: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(images))

    def attention_maps(self, images: Tensor) -> list[Tensor]:
        """Each block's attention weights (B, H, T, T), first block first."""
        return self._encode(images, need_weights=True)[1]

    @torch.no_grad()
    def relevance(self, images: Tensor, residual: float = 0.5) -> tuple[Tensor, Tensor]:
        """(logits (B, K), attention-rollout relevance of the image tokens (B, gh, gw), each map summing to 1)."""
        z, weights, grid = self._encode(images, need_weights=True)
        rollout = attention_rollout(weights, residual)  # (B, T, T)
        p = self.n_prefix
        rel = rollout[:, 0, p:] if p else rollout.mean(dim=1)
        rel = rel / rel.sum(dim=-1, keepdim=True)
        return self.forward_head(z), rel.reshape(-1, *grid)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def predict(model: VisionTransformer, images: Tensor, batch_size: int = 256, tta: dict | None = None) -> Tensor:
    """Class probabilities (N, K) of images (N, C, H, W) in [0, 1], computed in eval mode by batches. With ``tta``
    (the keyword arguments of :func:`transmodal.vision.augment.tta_views`, e.g. ``{"shift_by": 1, "flip": True}``)
    they are the mean of the probabilities over the test-time views, p(k | x) = (1/V) Σ_v softmax(f(view_v(x)))_k."""
    from transmodal.vision.augment import tta_views

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            x = images[start : start + batch_size]
            views = tta_views(x, **tta) if tta is not None else [x]
            out.append(sum(F.softmax(model(v), dim=-1) for v in views) / len(views))
    return torch.cat(out) if out else images.new_zeros(0, model.config.num_classes)

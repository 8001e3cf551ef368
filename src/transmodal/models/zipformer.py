r"""Zipformer: "Zipformer: A faster and better encoder for automatic speech recognition" (Yao et al., ICLR 2024).

A U-Net-like stack of encoder stacks that run at different frame rates::

    (B, T, 80) 100 Hz ─Conv-Embed (2×)─ 50 Hz ─ stack₁ (50 Hz) ─ stack₂ (25 Hz) ─ stack₃ (12.5 Hz)
                       ─ stack₄ (6.25 Hz) ─ stack₅ (12.5 Hz) ─ stack₆ (25 Hz) ─ combine ─ Downsample 2× ─ (B, T', D) 25 Hz

Each stack i with factor f = ``downsampling[i]`` (1, 2, 4, 8, 4, 2 for the paper's models) does

    h = Downsample_f(x)            learned weighted average of f consecutive frames: Σ_k softmax(w)_k x_{fj+k}
    h = ZipformerLayer(h) × Nᵢ     at 50/f Hz
    h = Upsample_f(h)              each frame repeated f times
    y = Bypass(x, h) = x + c ⊙ (h − x),   c ∈ [0, 1]ᵈ learned per channel (clamped)

The stacks have different widths (192 … 768); between stacks the channels are truncated or
zero-padded, and the final output takes, for every channel, the latest stack that has it (so the
output width is max(dims)) — both as in the authors' code.

**Zipformer layer** (the paper's "Zipformer block") — roughly two Conformer blocks sharing one set of
attention weights A (computed once, from the layer input x₀)::

    A  = softmax(q·kᵀ/√d_q + pos)                      (B, H, T, T)   AttentionWeights
    x  = x₀ + FFN₁(x₀)
    x  = x  + NLA(x, A₁)                               non-linear attention, first head's weights
    x  = x  + SA₁(x, A)                                SA(x, A) = W_o · (A · W_v x), per head
    x  = x  + Conv₁(x)
    x  = x  + FFN₂(x)
    x  = Bypass_mid(x₀, x)
    x  = x  + SA₂(x, A)
    x  = x  + Conv₂(x)
    x  = x  + FFN₃(x)
    y  = Bypass(x₀, BiasNorm(x))

* FFN(x) = W₂ Dropout(SwooshL(W₁ x)), hidden sizes ¾·f, f, 5⁄4·f for FFN₁, FFN₂, FFN₃.
* NLA(x, A) = W_o [ (A (tanh(s) ⊙ v)) ⊙ y ],  [s; v; y] = W_in x, hidden 3d/4 each.
* Conv: pointwise d → 2d, GLU gate, depthwise conv, SwooshR, pointwise d → d (no norms).
* BiasNorm(x) = x / RMS[x − b] · exp(γ) (:class:`~transmodal.nn.norms.BiasNorm`); SwooshR/SwooshL in
  :mod:`transmodal.nn.activations`.
* A's queries/keys have ``query_head_dim`` (32) per head, values ``value_head_dim`` (12), and the
  position term pos_ij = p_i · W_R R_{i−j} uses its own ``pos_head_dim`` (4) per head, with
  R a ``pos_dim`` (48) relative embedding — computed with the relative-shift trick and passed to
  :func:`~transmodal.nn.attention.attention` as its bias (with ``need_weights=True`` to get A).

**Simplified or left out** (they change training dynamics, not the forward function's shape):
the ScaledAdam optimiser, Balancer and Whiten activation constraints, scheduled dropout/skip rates
("layer/module skipping"), activation-dropout tricks, causal/streaming chunking; R is the plain
sinusoidal relative table (:func:`~transmodal.nn.relative.relative_sinusoids`) instead of the
authors' compressed relative encoding (icefall's ``CompactRelPositionalEncoding``); the scores use
the standard 1/√d_q scale; the bypass scale c is simply clamped to [0, 1] (the authors' code also
keeps it above a scheduled minimum while training). None of these changes the parameter count.

**Parameter counts.** The paper's sizes count the whole pruned transducer as trained in icefall:
this encoder, plus a stateless decoder (500-token embedding of 512, a grouped Conv1d over 2
tokens), a joiner (encoder/decoder projections to 512, output 512 → 500) and the two "simple"
projections of the pruned RNN-T loss ("transducer parts" below). icefall's layers also hold one
unused d-sized vector each (``bypass_scale``; not created here). With both added, the counts match
the published ones exactly (checked in the tests):

    name  dims                     layers       this encoder  transducer  unused   total        paper
    S     192,256,256,256,256,256  2,2,2,2,2,2  21,986,835    1,295,836   2,944    23,285,615   23.3 M
    M     192,256,384,512,384,256  2,2,3,4,3,2  63,988,343    1,554,908   5,760    65,549,011   65.5 M
    L     192,256,512,768,512,256  2,2,4,5,4,2  146,616,250   1,813,980   9,344    148,439,574  148.4 M

(all with heads 4,4,4,8,4,4, kernels 31,31,15,15,15,31, FFN dims as in ``CONFIGS``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from transmodal.models.registry import register
from transmodal.nn.activations import SwooshL, swoosh_l, swoosh_r
from transmodal.nn.attention import attention, padding_mask
from transmodal.nn.conv import ConvolutionModule
from transmodal.nn.lengths import check_features, check_out_lengths, length_mask, zero_padding
from transmodal.nn.norms import BiasNorm
from transmodal.nn.relative import rel_shift, relative_sinusoids


@dataclass
class ZipformerConfig:
    n_mels: int = 80
    dims: tuple[int, ...] = (192, 256, 384, 512, 384, 256)  # width of each stack
    layers: tuple[int, ...] = (2, 2, 3, 4, 3, 2)  # layers per stack
    ff_dims: tuple[int, ...] = (512, 768, 1024, 1536, 1024, 768)  # FFN₂ hidden size per stack
    heads: tuple[int, ...] = (4, 4, 4, 8, 4, 4)
    kernels: tuple[int, ...] = (31, 31, 15, 15, 15, 31)  # depthwise convolution per stack (odd)
    downsampling: tuple[int, ...] = (1, 2, 4, 8, 4, 2)  # relative to the 50 Hz embedding output
    query_head_dim: int = 32
    value_head_dim: int = 12
    pos_head_dim: int = 4
    pos_dim: int = 48
    embed_channels: tuple[int, ...] = (8, 32, 128)  # Conv-Embed's three convolutions
    dropout: float = 0.1

    def __post_init__(self):
        n = len(self.dims)
        for name in ("layers", "ff_dims", "heads", "kernels", "downsampling"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries but dims has {n}; give one per stack")
        if len(self.embed_channels) != 3:
            raise ValueError(f"embed_channels needs 3 entries (one per convolution), got {self.embed_channels}")

    @property
    def d_model(self) -> int:
        """Output width: the widest stack."""
        return max(self.dims)


CONFIGS: dict[str, ZipformerConfig] = {
    # The paper's three sizes (icefall's --encoder-dim / --num-encoder-layers / --feedforward-dim).
    "S": ZipformerConfig(
        dims=(192, 256, 256, 256, 256, 256), layers=(2, 2, 2, 2, 2, 2), ff_dims=(512, 768, 768, 768, 768, 768)
    ),
    "M": ZipformerConfig(),
    # ≈2.8 M parameters (see conformer "cpu"): one layer per stack, narrow.
    "cpu": ZipformerConfig(dims=(96, 128, 128, 128, 128, 96), layers=(1, 1, 1, 1, 1, 1),
                           ff_dims=(256, 320, 320, 320, 320, 256), heads=(4, 4, 4, 4, 4, 4)),
    "L": ZipformerConfig(
        dims=(192, 256, 512, 768, 512, 256), layers=(2, 2, 4, 5, 4, 2), ff_dims=(512, 768, 1536, 2048, 1536, 768)
    ),
    # CPU-sized models.
    "small": ZipformerConfig(
        dims=(96, 128, 160, 192, 160, 128), layers=(1, 1, 2, 2, 2, 1), ff_dims=(256, 384, 512, 768, 512, 384),
        heads=(4, 4, 4, 4, 4, 4),
    ),
    "tiny": ZipformerConfig(
        dims=(32, 48, 64, 48), layers=(1, 1, 1, 1), ff_dims=(64, 96, 128, 96), heads=(2, 2, 2, 2),
        kernels=(7, 7, 5, 7), downsampling=(1, 2, 4, 2), query_head_dim=8, value_head_dim=8, pos_head_dim=4,
        pos_dim=16, embed_channels=(4, 8, 16), dropout=0.0,
    ),
}


def config(name: str, **overrides) -> ZipformerConfig:
    """A named configuration with fields replaced, e.g. ``config("M", dropout=0.0)``."""
    if name not in CONFIGS:
        raise ValueError(f"unknown zipformer configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


# --- the pieces of a layer --------------------------------------------------------------------------


class AttentionWeights(nn.Module):
    """A = softmax(q·kᵀ/√d_q + p·W_R R_{i−j}) with separate query/key and position-query heads: (B, H, T, T)."""

    def __init__(self, d_model: int, n_heads: int, query_head_dim: int, pos_head_dim: int, pos_dim: int, dropout: float = 0.0):
        super().__init__()
        self.n_heads, self.dq, self.dp, self.pos_dim, self.dropout = n_heads, query_head_dim, pos_head_dim, pos_dim, dropout
        self.in_proj = nn.Linear(d_model, n_heads * (2 * query_head_dim + pos_head_dim))  # [q; k; p]
        self.pos_proj = nn.Linear(pos_dim, n_heads * pos_head_dim, bias=False)  # W_R

    def forward(self, x: Tensor, keep: Tensor | None) -> Tensor:
        b, t, _ = x.shape
        h, dq, dp = self.n_heads, self.dq, self.dp
        q, k, p = self.in_proj(x).split([h * dq, h * dq, h * dp], dim=-1)
        q, k = (z.view(b, t, h, dq).transpose(1, 2) for z in (q, k))  # (B, H, T, dq)
        p = p.view(b, t, h, dp).transpose(1, 2)  # (B, H, T, dp)
        r = self.pos_proj(relative_sinusoids(torch.arange(t - 1, -t, -1, device=x.device), self.pos_dim, x.dtype))
        pos = rel_shift(torch.einsum("bhtd,nhd->bhtn", p, r.view(2 * t - 1, h, dp)))  # (B, H, T, T)
        no_values = q.new_zeros(b, h, t, 0)  # only the weights are wanted here
        _, weights = attention(
            q, k, no_values, None if keep is None else padding_mask(keep), bias=pos,
            dropout_p=self.dropout if self.training else 0.0, need_weights=True,
        )
        return weights


class SelfAttention(nn.Module):
    """SA(x, A) = W_o · concat_h(A_h · W_v,h x): reuses weights A computed elsewhere."""

    def __init__(self, d_model: int, n_heads: int, value_head_dim: int):
        super().__init__()
        self.n_heads, self.dv = n_heads, value_head_dim
        self.in_proj = nn.Linear(d_model, n_heads * value_head_dim)
        self.out_proj = nn.Linear(n_heads * value_head_dim, d_model)

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        b, t, _ = x.shape
        v = self.in_proj(x).view(b, t, self.n_heads, self.dv).transpose(1, 2)  # (B, H, T, dv)
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, t, -1))


class NonlinearAttention(nn.Module):
    """NLA(x, A) = W_o[(A (tanh(s) ⊙ v)) ⊙ y], [s; v; y] = W_in x, using the first head's weights."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.in_proj = nn.Linear(d_model, 3 * hidden)
        self.out_proj = nn.Linear(hidden, d_model)

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        s, v, y = self.in_proj(x).chunk(3, dim=-1)  # (B, T, hidden) each
        mixed = weights[:, 0] @ (torch.tanh(s) * v)  # (B, T, T) @ (B, T, hidden)
        return self.out_proj(mixed * y)


class ZipformerFeedForward(nn.Module):
    """W₂ Dropout(SwooshL(W₁ x))."""

    def __init__(self, d_model: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.w1, self.act, self.dropout, self.w2 = nn.Linear(d_model, hidden), SwooshL(), nn.Dropout(dropout), nn.Linear(hidden, d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(self.dropout(self.act(self.w1(x))))


class Bypass(nn.Module):
    """y = x + c ⊙ (h − x): a learned per-channel interpolation between a module's input x and output h."""

    def __init__(self, d_model: int, init: float = 0.5):
        super().__init__()
        self.scale = nn.Parameter(torch.full((d_model,), init))  # c, used clamped to [0, 1]

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        return x + self.scale.clamp(0.0, 1.0) * (h - x)


class ZipformerLayer(nn.Module):
    """One Zipformer block (see the module docstring for its eleven steps)."""

    def __init__(self, d_model: int, ff_dim: int, n_heads: int, kernel_size: int, c: ZipformerConfig):
        super().__init__()
        self.attn_weights = AttentionWeights(d_model, n_heads, c.query_head_dim, c.pos_head_dim, c.pos_dim, c.dropout)
        self.ff1 = ZipformerFeedForward(d_model, ff_dim * 3 // 4, c.dropout)
        self.nonlin_attn = NonlinearAttention(d_model, d_model * 3 // 4)
        self.self_attn1 = SelfAttention(d_model, n_heads, c.value_head_dim)
        self.conv1 = ConvolutionModule(d_model, kernel_size, pre_norm=False, norm="none", activation="swoosh_r")
        self.ff2 = ZipformerFeedForward(d_model, ff_dim, c.dropout)
        self.bypass_mid = Bypass(d_model)
        self.self_attn2 = SelfAttention(d_model, n_heads, c.value_head_dim)
        self.conv2 = ConvolutionModule(d_model, kernel_size, pre_norm=False, norm="none", activation="swoosh_r")
        self.ff3 = ZipformerFeedForward(d_model, ff_dim * 5 // 4, c.dropout)
        self.norm = BiasNorm(d_model)
        self.bypass = Bypass(d_model)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """x: (B, T, D); keep: (B, T) booleans, True = real frame."""
        x0, drop = x, self.dropout
        a = self.attn_weights(x0, keep)  # (B, H, T, T), shared by NLA, SA₁ and SA₂
        x = x + drop(self.ff1(x))
        x = x + drop(self.nonlin_attn(x, a))
        x = x + drop(self.self_attn1(x, a))
        x = x + drop(self.conv1(x, keep))
        x = x + drop(self.ff2(x))
        x = self.bypass_mid(x0, x)
        x = x + drop(self.self_attn2(x, a))
        x = x + drop(self.conv2(x, keep))
        x = x + drop(self.ff3(x))
        return self.bypass(x0, self.norm(x))


# --- frame rates ------------------------------------------------------------------------------------


class Downsample(nn.Module):
    """(B, T, D) → (B, ⌈T/f⌉, D): output j = Σ_k softmax(w)_k · x_{fj+k}, w: (f,) learned.

    Where a group runs past an item's last real frame, that frame is repeated (not the padding), so
    the item's frames do not depend on how much padding the batch has.
    """

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor
        self.weights = nn.Parameter(torch.zeros(factor))  # uniform average at start

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        b, t, d = x.shape
        f = self.factor
        t_out = (t + f - 1) // f  # ⌈t/f⌉; not -(-t // f): ONNX integer division truncates, so that would be ⌊t/f⌋
        frame = torch.arange(t_out * f, device=x.device)[None, :]
        source = torch.minimum(frame, (lengths - 1).clamp(min=0)[:, None])  # (B, t_out·f)
        x = x.gather(1, source[..., None].expand(b, t_out * f, d))
        w = torch.softmax(self.weights, dim=0).to(x.dtype)
        return torch.einsum("btfd,f->btd", x.view(b, t_out, f, d), w), (lengths + f - 1) // f


def upsample(x: Tensor, factor: int, length: int) -> Tensor:
    """(B, T', D) → (B, length, D): every frame repeated ``factor`` times, cut to ``length``."""
    return x.repeat_interleave(factor, dim=1)[:, :length]


class ZipformerStack(nn.Module):
    """Downsample_f → N Zipformer layers → Upsample_f → Bypass(input, output) (no resampling when f = 1)."""

    def __init__(self, d_model: int, n_layers: int, ff_dim: int, n_heads: int, kernel_size: int, factor: int, c: ZipformerConfig):
        super().__init__()
        self.d_model, self.factor = d_model, factor
        self.layers = nn.ModuleList(ZipformerLayer(d_model, ff_dim, n_heads, kernel_size, c) for _ in range(n_layers))
        if factor > 1:
            self.downsample = Downsample(factor)
            self.out_bypass = Bypass(d_model)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        h, h_lengths = (x, lengths) if self.factor == 1 else self.downsample(x, lengths)
        keep = length_mask(h_lengths, h.shape[1])
        for layer in self.layers:
            h = layer(h, keep)
        if self.factor == 1:
            return h
        return self.out_bypass(x, upsample(h, self.factor, x.shape[1]))


def match_channels(x: Tensor, d: int) -> Tensor:
    """Truncate or zero-pad the last dimension to d (how Zipformer passes x between stacks of different widths)."""
    if x.shape[-1] >= d:
        return x[..., :d]
    return torch.cat([x, x.new_zeros(*x.shape[:-1], d - x.shape[-1])], dim=-1)


def combine_outputs(outputs: list[Tensor]) -> Tensor:
    """(B, T, dᵢ) per stack → (B, T, max dᵢ): each channel from the *last* stack that has it."""
    pieces, width = [outputs[-1]], outputs[-1].shape[-1]
    for out in reversed(outputs[:-1]):
        if out.shape[-1] > width:
            pieces.append(out[..., width:])
            width = out.shape[-1]
    return torch.cat(pieces, dim=-1)


# --- the front end ----------------------------------------------------------------------------------


class ConvEmbed(nn.Module):
    """Zipformer's Conv-Embed: 100 Hz → 50 Hz, T' = ⌊(T − 7)/2⌋.

    Conv2d(1→c₁, 3×3, freq-padded) → SwooshR → Conv2d(c₁→c₂, 3×3, stride 2) → SwooshR →
    Conv2d(c₂→c₃, 3×3, stride (1, 2)) → SwooshR → ConvNeXt [x + PW(SwooshL(PW(DW₇ₓ₇(x))))] →
    Linear(c₃·F' → d) → BiasNorm, with F' = ⌊(⌊(F − 1)/2⌋ − 1)/2⌋ (19 for 80 mels).
    """

    def __init__(self, n_mels: int, d_model: int, channels: tuple[int, ...] = (8, 32, 128)):
        super().__init__()
        c1, c2, c3 = channels
        self.conv1 = nn.Conv2d(1, c1, 3, padding=(0, 1))
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=2)
        self.conv3 = nn.Conv2d(c2, c3, 3, stride=(1, 2))
        self.convnext_dw = nn.Conv2d(c3, c3, 7, padding=3, groups=c3)
        self.convnext_pw1 = nn.Conv2d(c3, 3 * c3, 1)
        self.convnext_pw2 = nn.Conv2d(3 * c3, c3, 1)
        f = ((n_mels - 1) // 2 - 1) // 2
        if f < 1:
            raise ValueError(f"{n_mels} mel bins are too few for Zipformer's Conv-Embed (need at least 7)")
        self.out = nn.Linear(c3 * f, d_model)
        self.norm = BiasNorm(d_model)

    @staticmethod
    def out_lengths(lengths: Tensor) -> Tensor:
        return torch.div(lengths - 7, 2, rounding_mode="floor")

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = swoosh_r(self.conv1(x[:, None]))  # (B, c1, T−2, F); unpadded in time, so real frames see real frames
        x = swoosh_r(self.conv2(x))  # (B, c2, ⌊(T−5)/2⌋ + 1, ·)
        x = swoosh_r(self.conv3(x))  # (B, c3, ⌊(T−7)/2⌋, F')
        lengths = self.out_lengths(lengths)
        h = zero_padding(x, lengths, time_dim=2)  # the 7×7 depthwise conv is padded: zero the tail
        x = x + self.convnext_pw2(swoosh_l(self.convnext_pw1(self.convnext_dw(h))))
        b, c, t, f = x.shape
        return self.norm(self.out(x.permute(0, 2, 1, 3).reshape(b, t, c * f))), lengths


# --- the model --------------------------------------------------------------------------------------


@register("zipformer", ZipformerConfig)
class Zipformer(nn.Module):
    """``forward(feats (B, T, n_mels), lengths (B,))`` → (out (B, T', max(dims)), out_lengths (B,)), T' ≈ T/4."""

    def __init__(self, config: ZipformerConfig):
        super().__init__()
        c = self.config = config
        self.embed = ConvEmbed(c.n_mels, c.dims[0], c.embed_channels)
        self.dropout = nn.Dropout(c.dropout)
        self.stacks = nn.ModuleList(
            ZipformerStack(d, n, ff, h, k, f, c)
            for d, n, ff, h, k, f in zip(c.dims, c.layers, c.ff_dims, c.heads, c.kernels, c.downsampling)
        )
        self.out_downsample = Downsample(2)
        self.subsampling = 4  # 2× in Conv-Embed, 2× at the output

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        check_features(feats, lengths, self.config.n_mels)
        check_out_lengths(self.embed.out_lengths(lengths), lengths, self.subsampling, 9)
        x, x_lengths = self.embed(feats, lengths)  # (B, T1, dims[0]) at 50 Hz
        x = self.dropout(x)
        outputs = []
        for stack in self.stacks:
            x = stack(match_channels(x, stack.d_model), x_lengths)
            outputs.append(x)
        x, out_lengths = self.out_downsample(combine_outputs(outputs), x_lengths)  # 25 Hz
        return zero_padding(x, out_lengths), out_lengths

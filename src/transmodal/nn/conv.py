r"""The convolution module of Conformer (Gulati et al. 2020, §2.2 and Figure 2), also used by Zipformer.

    y = Dropout( PW₂( Swish( BN( DWConv_K( GLU( PW₁( LN(x) ) ) ) ) ) ) )

* PW₁: pointwise convolution d → 2d, and GLU(a, b) = a ⊙ σ(b) halves it back to d channels;
* DWConv_K: depthwise 1-D convolution over time (one kernel of K taps per channel), padded by
  (K − 1)/2 on both sides so the length is kept — hence K must be odd (the paper's Table 1 lists 32;
  we use 31, as most reimplementations do);
* BN: batch normalisation (here :class:`~transmodal.nn.norms.MaskedBatchNorm1d`, whose training
  statistics ignore padded frames), Swish, and a second pointwise convolution d → d.

The residual connection is the caller's (Conformer: x + Conv(x)). A pointwise convolution is a
linear map applied to every frame, so PW₁/PW₂ are ``nn.Linear`` on (B, T, D) (same parameters as
``Conv1d(kernel_size=1)``, no transposes).

Padded frames are set to zero right before the depthwise convolution — the only step that mixes
frames — so a real frame near the end of an item sees the same zeros it would see alone.

Zipformer's variant (Yao et al. 2024) drops the LayerNorm and BatchNorm and uses SwooshR:
``ConvolutionModule(d, K, pre_norm=False, norm="none", activation="swoosh_r")``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from transmodal.nn.activations import activation as make_activation
from transmodal.nn.norms import MaskedBatchNorm1d


class ConvolutionModule(nn.Module):
    def __init__(
        self,
        d_model: int,
        kernel_size: int = 31,
        dropout: float = 0.0,
        *,
        pre_norm: bool = True,
        norm: str = "batch",
        activation: str = "swish",
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(
                f"the depthwise kernel must be odd to keep the length (got {kernel_size}); "
                "use 31 for the paper's 32, or 9 for Fast Conformer"
            )
        if norm not in ("batch", "layer", "none"):
            raise ValueError(f"unknown norm {norm!r}; choose 'batch', 'layer' or 'none'")
        self.norm_in = nn.LayerNorm(d_model) if pre_norm else nn.Identity()
        self.pointwise_in = nn.Linear(d_model, 2 * d_model)  # PW₁, followed by GLU
        self.depthwise = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2, groups=d_model)
        self.norm_kind = norm
        if norm == "batch":
            self.norm = MaskedBatchNorm1d(d_model)
        elif norm == "layer":
            self.norm = nn.LayerNorm(d_model)
        else:
            self.norm = nn.Identity()
        self.act = make_activation(activation)
        self.pointwise_out = nn.Linear(d_model, d_model)  # PW₂
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """x: (B, T, D); keep: (B, T) booleans, True = real frame. Returns (B, T, D)."""
        a, gate = self.pointwise_in(self.norm_in(x)).chunk(2, dim=-1)
        h = a * torch.sigmoid(gate)  # GLU: (B, T, D)
        if keep is not None:
            h = h * keep[..., None].to(h.dtype)  # padded frames must not leak into the convolution
        h = self.depthwise(h.transpose(1, 2))  # (B, D, T)
        if self.norm_kind == "batch":
            h = self.norm(h, keep)
        elif self.norm_kind == "layer":
            h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        h = self.act(h.transpose(1, 2))  # (B, T, D)
        return self.dropout(self.pointwise_out(h))

r"""Activations of the speech encoders: Swish (Conformer) and SwooshR / SwooshL (Zipformer).

* Swish (Ramachandran et al. 2017), used by Conformer's feed-forward and convolution modules::

      Swish(x) = x · σ(x)                  (β = 1; the same function as SiLU)

* SwooshR and SwooshL ("Zipformer: A faster and better encoder for ASR", Yao et al. 2024)::

      SwooshR(x) = log(1 + exp(x − 1)) − 0.08x − 0.313261687
      SwooshL(x) = log(1 + exp(x − 4)) − 0.08x − 0.035

  Both have a slope of −0.08 for large negative x (so the gradient never vanishes completely) and
  of 0.92 for large positive x. SwooshR's constant is log(1 + e⁻¹), so SwooshR(0) = 0 exactly.
  SwooshL's constant, as printed in the paper (and used by icefall), is 0.035 rather than
  log(1 + e⁻⁴) ≈ 0.018150, so SwooshL(0) ≈ −0.016850 — *not* zero. We keep the paper's constant
  (a different value would change trained checkpoints) and state the offset here; the tests pin it.
  As in the authors' code (icefall), SwooshL serves the feed-forward modules and SwooshR the
  convolution modules and the convolutional embedding.

``log(1 + exp(z))`` is computed as ``softplus(z)``, which does not overflow, is exact to 4e-18 in float64 (it
turns linear only past z = 40) and, unlike ``logaddexp``, exports to ONNX (opset 18 has ``Softplus``).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

SWOOSH_R_OFFSET = 0.313261687  # = log(1 + e^-1), printed to 9 decimals in the paper
SWOOSH_L_OFFSET = 0.035  # the paper's constant; log(1 + e^-4) would be 0.0181499...


def swoosh_r(x: Tensor) -> Tensor:
    """SwooshR(x) = log(1 + exp(x − 1)) − 0.08x − 0.313261687."""
    return F.softplus(x - 1.0, threshold=40.0) - 0.08 * x - SWOOSH_R_OFFSET


def swoosh_l(x: Tensor) -> Tensor:
    """SwooshL(x) = log(1 + exp(x − 4)) − 0.08x − 0.035."""
    return F.softplus(x - 4.0, threshold=40.0) - 0.08 * x - SWOOSH_L_OFFSET


class SwooshR(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return swoosh_r(x)


class SwooshL(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return swoosh_l(x)


ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "swoosh_r": SwooshR,
    "swoosh_l": SwooshL,
}


def activation(name: str) -> nn.Module:
    """An activation module by name (``relu``, ``gelu``, ``swish``/``silu``, ``swoosh_r``, ``swoosh_l``)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()

r"""Position-wise feed-forward network (paper §3.3) and the activations the models use.

    FFN(x) = act(x W_1 + b_1) W_2 + b_2,    W_1: d_model × d_ff,  W_2: d_ff × d_model

The paper uses ReLU and d_ff = 2048 = 4·d_model; ``d_ff`` defaults to 4·d_model here.
"""

from __future__ import annotations

from torch import Tensor, nn

from transmodal.nn.activations import SwooshL, SwooshR

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "swish": nn.SiLU, "silu": nn.SiLU, "swoosh_l": SwooshL, "swoosh_r": SwooshR}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class FeedForward(nn.Module):
    """act(x W1 + b1) W2 + b2 with dropout after the activation."""

    def __init__(self, d_model: int, d_ff: int | None = None, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        d_ff = d_ff or 4 * d_model
        self.w1 = nn.Linear(d_model, d_ff)
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.w2 = nn.Linear(d_ff, d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(self.dropout(self.act(self.w1(x))))

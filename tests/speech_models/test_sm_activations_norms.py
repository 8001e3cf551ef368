"""Swish / SwooshR / SwooshL, BiasNorm and MaskedBatchNorm1d against formulas written out in float64."""

import math

import pytest
import torch
from torch import nn

from transmodal.nn.activations import SwooshL, SwooshR, activation, swoosh_l, swoosh_r
from transmodal.nn.norms import BiasNorm, MaskedBatchNorm1d


def test_swoosh_match_the_paper_formulas_pointwise():
    xs = [-30.0, -5.0, -1.0, -0.25, 0.0, 0.5, 1.0, 3.0, 4.0, 10.0, 30.0]
    x = torch.tensor(xs, dtype=torch.float64)
    want_r = torch.tensor([math.log(1 + math.exp(v - 1)) - 0.08 * v - 0.313261687 for v in xs], dtype=torch.float64)
    want_l = torch.tensor([math.log(1 + math.exp(v - 4)) - 0.08 * v - 0.035 for v in xs], dtype=torch.float64)
    torch.testing.assert_close(swoosh_r(x), want_r, atol=1e-12, rtol=0)
    torch.testing.assert_close(swoosh_l(x), want_l, atol=1e-12, rtol=0)
    torch.testing.assert_close(SwooshR()(x), want_r)
    torch.testing.assert_close(SwooshL()(x), want_l)


def test_swoosh_r_is_zero_at_zero_but_swoosh_l_keeps_the_papers_offset():
    zero = torch.zeros(1, dtype=torch.float64)
    # 0.313261687 is log(1 + e^-1) to 9 decimals: SwooshR(0) = 0.
    assert abs(math.log1p(math.exp(-1)) - 0.313261687) < 1e-9
    assert abs(float(swoosh_r(zero))) < 1e-9
    # The paper's SwooshL constant 0.035 is not log(1 + e^-4) = 0.01815, so SwooshL(0) ≈ -0.01685.
    assert float(swoosh_l(zero)) == pytest.approx(math.log1p(math.exp(-4)) - 0.035, abs=1e-12)
    assert float(swoosh_l(zero)) == pytest.approx(-0.016850, abs=1e-6)


def test_swoosh_slopes_and_no_overflow():
    x = torch.tensor([-200.0, 200.0, 1e4], requires_grad=True)
    for fn in (swoosh_r, swoosh_l):
        y = fn(x)
        assert torch.isfinite(y).all()
        (g,) = torch.autograd.grad(y.sum(), x)
        torch.testing.assert_close(g, torch.tensor([-0.08, 0.92, 0.92]))


def test_activation_lookup():
    assert isinstance(activation("swish"), nn.SiLU)
    x = torch.randn(7, dtype=torch.float64)
    torch.testing.assert_close(activation("swish")(x), x / (1 + torch.exp(-x)))
    with pytest.raises(ValueError, match="unknown activation"):
        activation("swooshy")


def test_bias_norm_formula():
    torch.manual_seed(0)
    norm = BiasNorm(6).double()
    with torch.no_grad():
        norm.bias.copy_(torch.randn(6))
        norm.log_scale.fill_(0.3)
    x = torch.randn(2, 3, 6, dtype=torch.float64)
    bias = norm.bias.detach()
    want = torch.empty_like(x)
    for i in range(2):
        for j in range(3):
            rms = math.sqrt(sum((float(x[i, j, c]) - float(bias[c])) ** 2 for c in range(6)) / 6)
            want[i, j] = x[i, j] / rms * math.exp(0.3)
    torch.testing.assert_close(norm(x), want, atol=1e-7, rtol=1e-7)
    assert sum(p.numel() for p in norm.parameters()) == 6 + 1  # b per channel, one scalar γ
    # A padded all-zero frame with b = 0 stays finite.
    assert torch.isfinite(BiasNorm(4)(torch.zeros(1, 4))).all()


def test_masked_batch_norm_uses_real_frames_only():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 7, dtype=torch.float64)
    lengths = [7, 5, 2]
    keep = torch.arange(7)[None, :] < torch.tensor(lengths)[:, None]
    x_padded = x.clone()
    for b, n in enumerate(lengths):
        x_padded[b, :, n:] = 1e3  # would wreck the statistics if counted
    ours = MaskedBatchNorm1d(4, momentum=0.3).double()
    ref = nn.BatchNorm1d(4, momentum=0.3).double()
    with torch.no_grad():
        for m in (ours, ref):
            m.weight.copy_(torch.tensor([1.0, 2.0, 0.5, -1.0]))
            m.bias.copy_(torch.tensor([0.0, 0.1, -0.2, 0.3]))
    y = ours(x_padded, keep)
    real = torch.cat([x[b, :, :n] for b, n in enumerate(lengths)], dim=1)[None]  # (1, C, 14) real frames only
    y_ref = ref(real)[0]
    got = torch.cat([y[b, :, :n] for b, n in enumerate(lengths)], dim=1)
    torch.testing.assert_close(got, y_ref)
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    # Evaluation: exactly BatchNorm1d with the running statistics.
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(x_padded, keep), ref(x_padded))

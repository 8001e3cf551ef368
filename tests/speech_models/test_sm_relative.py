"""Relative-position attention (Transformer-XL / Conformer) against pair-by-pair float64 loops."""

import pytest
import torch

import transmodal.nn.relative as relative
from sm_reference import f64, randomize, rel_mhsa, sinusoid
from transmodal.nn.relative import RelPositionMultiHeadAttention, rel_shift, relative_sinusoids


def test_relative_sinusoids_of_negative_and_positive_distances():
    d = 8
    got = relative_sinusoids(torch.tensor([-3, 0, 2, 7]), d)
    want = torch.stack([sinusoid(r, d) for r in (-3, 0, 2, 7)]).float()
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="even"):
        relative_sinusoids(torch.tensor([1]), 7)


@pytest.mark.parametrize("t", [1, 2, 5, 8])
def test_rel_shift_puts_distance_i_minus_j_in_column_j(t):
    # Column c of the input holds distance T-1-c; fill it with a code of (row, distance).
    x = torch.empty(2, 3, t, 2 * t - 1)
    for i in range(t):
        for c in range(2 * t - 1):
            x[:, :, i, c] = 1000 * i + (t - 1 - c)
    out = rel_shift(x)
    assert out.shape == (2, 3, t, t)
    for i in range(t):
        for j in range(t):
            assert out[0, 0, i, j] == 1000 * i + (i - j)
    with pytest.raises(ValueError, match="2T-1"):
        rel_shift(torch.zeros(3, 4))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_rel_position_attention_matches_transformer_xl_loops(dtype, tol):
    torch.manual_seed(1)
    mod = randomize(RelPositionMultiHeadAttention(16, 4)).to(dtype).eval()
    x = torch.randn(2, 6, 16, dtype=dtype)
    keep = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    out, weights = mod(x, keep, need_weights=True)
    assert weights.shape == (2, 4, 6, 6)
    for b in range(2):
        n = int(keep[b].sum())
        allowed = keep[b][None, :].expand(6, 6)
        want = rel_mhsa(mod, f64(x[b]), allowed)
        torch.testing.assert_close(out[b, :n].double(), want[:n], atol=tol, rtol=tol)
    # Padded keys get zero weight.
    assert torch.all(weights[1, :, :, 4:] == 0)


def test_relative_attention_is_computed_by_the_one_attention_function(monkeypatch):
    calls = []
    real = relative.attention

    def spy(q, k, v, mask=None, **kw):
        calls.append((q.shape, kw.get("bias") is not None))
        return real(q, k, v, mask, **kw)

    monkeypatch.setattr(relative, "attention", spy)
    RelPositionMultiHeadAttention(8, 2)(torch.randn(1, 5, 8))
    assert calls == [(torch.Size([1, 2, 5, 4]), True)]


def test_rel_attention_rejects_bad_settings():
    with pytest.raises(ValueError, match="divisible"):
        RelPositionMultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="global tokens"):
        RelPositionMultiHeadAttention(8, 2, n_global=1)
    with pytest.raises(ValueError, match="need_weights"):
        RelPositionMultiHeadAttention(8, 2, window=2)(torch.randn(1, 5, 8), need_weights=True)

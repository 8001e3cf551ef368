"""attention(), causal_mask(), padding_mask() against a naive float64 reference."""

import math

import pytest
import torch

from transmodal.nn import attention, causal_mask, padding_mask


def ref_attention(q, k, v, allowed=None, bias=None):
    """Naive float64 softmax(q kᵀ/√d + bias) v with explicit masking; returns (out, weights)."""
    q, k, v = q.double(), k.double(), v.double()
    d = q.shape[-1]
    scores = torch.einsum("bhtd,bhsd->bhts", q, k) / math.sqrt(d)
    if bias is not None:
        scores = scores + bias.double()
    if allowed is not None:
        allowed = allowed.expand_as(scores)
        scores = torch.where(allowed, scores, torch.full_like(scores, -math.inf))
    m = scores.max(dim=-1, keepdim=True).values
    e = torch.exp(scores - m)
    w = e / e.sum(dim=-1, keepdim=True)
    out = torch.einsum("bhts,bhsd->bhtd", w, v)
    return out, w


def naive_causal(t, s):
    """Query i is absolute position s - t + i and sees keys j <= that position (explicit loops)."""
    m = torch.zeros(t, s, dtype=torch.bool)
    for i in range(t):
        for j in range(s):
            m[i, j] = j <= s - t + i
    return m


def make_qkv(dtype, b=2, h=3, t=5, s=5, d=8, dv=6):
    q = torch.randn(b, h, t, d, dtype=dtype)
    k = torch.randn(b, h, s, d, dtype=dtype)
    v = torch.randn(b, h, s, dv, dtype=dtype)
    return q, k, v


def key_padding(b, s):
    keep = torch.ones(b, s, dtype=torch.bool)
    keep[0, s - 2 :] = False  # first sentence is 2 shorter
    keep[1, s - 1 :] = False
    return keep


TOLS = [(torch.float64, 1e-10), (torch.float32, 1e-5)]


def check(dtype, tol, q, k, v, mask=None, causal=False, bias=None, allowed=None):
    want, want_w = ref_attention(q, k, v, allowed, bias)
    for need_weights in (False, True):
        out, w = attention(q, k, v, mask, causal=causal, bias=bias, need_weights=need_weights)
        assert out.dtype == dtype
        assert out.shape == want.shape
        torch.testing.assert_close(out.double(), want, atol=tol, rtol=tol)
        if need_weights:
            assert w is not None and w.shape == want_w.shape
            torch.testing.assert_close(w.double(), want_w, atol=tol, rtol=tol)
        else:
            assert w is None
    return want_w


@pytest.mark.parametrize("dtype,tol", TOLS)
def test_no_mask(dtype, tol):
    torch.manual_seed(0)
    q, k, v = make_qkv(dtype, t=4, s=7)
    check(dtype, tol, q, k, v)


@pytest.mark.parametrize("dtype,tol", TOLS)
def test_key_padding_mask(dtype, tol):
    torch.manual_seed(1)
    q, k, v = make_qkv(dtype, t=4, s=6)
    keep = key_padding(2, 6)
    m = padding_mask(keep)
    assert m.shape == (2, 1, 1, 6)
    w = check(dtype, tol, q, k, v, mask=m, allowed=m)
    # Padded keys get exactly zero weight.
    assert torch.all(w[0, :, :, 4:] == 0) and torch.all(w[1, :, :, 5:] == 0)


@pytest.mark.parametrize("dtype,tol", TOLS)
def test_causal_square(dtype, tol):
    torch.manual_seed(2)
    q, k, v = make_qkv(dtype, t=6, s=6)
    check(dtype, tol, q, k, v, causal=True, allowed=naive_causal(6, 6))


@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("t,s", [(1, 5), (3, 7)])
def test_causal_queries_are_last_positions(dtype, tol, t, s):
    torch.manual_seed(3)
    q, k, v = make_qkv(dtype, t=t, s=s)
    check(dtype, tol, q, k, v, causal=True, allowed=naive_causal(t, s))


@pytest.mark.parametrize("dtype,tol", TOLS)
def test_causal_with_padding(dtype, tol):
    torch.manual_seed(4)
    q, k, v = make_qkv(dtype, t=6, s=6)
    m = padding_mask(key_padding(2, 6))
    check(dtype, tol, q, k, v, mask=m, causal=True, allowed=m & naive_causal(6, 6))


@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("bias_shape", [(2, 3, 4, 6), (3, 4, 6), (4, 6)])
def test_additive_bias(dtype, tol, bias_shape):
    torch.manual_seed(5)
    q, k, v = make_qkv(dtype, t=4, s=6)
    bias = torch.randn(*bias_shape, dtype=dtype)
    check(dtype, tol, q, k, v, bias=bias)


@pytest.mark.parametrize("dtype,tol", TOLS)
def test_bias_and_mask(dtype, tol):
    torch.manual_seed(6)
    q, k, v = make_qkv(dtype, t=4, s=6)
    bias = torch.randn(2, 3, 4, 6, dtype=dtype)
    m = padding_mask(key_padding(2, 6))
    w = check(dtype, tol, q, k, v, mask=m, bias=bias, allowed=m)
    assert torch.all(w[0, ..., 4:] == 0)


@pytest.mark.parametrize("dtype,tol", TOLS)
def test_bias_mask_and_causal(dtype, tol):
    torch.manual_seed(7)
    q, k, v = make_qkv(dtype, t=3, s=6)
    bias = torch.randn(1, 3, 3, 6, dtype=dtype)
    m = padding_mask(key_padding(2, 6))
    check(dtype, tol, q, k, v, mask=m, causal=True, bias=bias, allowed=m & naive_causal(3, 6))


def test_weights_rows_sum_to_one_and_zero_where_masked():
    torch.manual_seed(8)
    q, k, v = make_qkv(torch.float64, t=5, s=5)
    m = padding_mask(key_padding(2, 5))
    out, w = attention(q, k, v, m, causal=True, need_weights=True)
    allowed = (m & naive_causal(5, 5)).expand(2, 3, 5, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64), atol=1e-12, rtol=0)
    assert torch.all(w[~allowed] == 0)
    assert torch.all(w[allowed] > 0)
    # The returned output is exactly weights @ v.
    torch.testing.assert_close(out, w @ v, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_sdpa_and_explicit_paths_agree(dtype, tol):
    torch.manual_seed(9)
    q, k, v = make_qkv(dtype, t=4, s=6)
    m = padding_mask(key_padding(2, 6))
    bias = torch.randn(3, 4, 6, dtype=dtype)
    for kwargs in (dict(), dict(mask=m), dict(causal=True), dict(mask=m, causal=True, bias=bias), dict(bias=bias)):
        a, _ = attention(q, k, v, need_weights=False, **kwargs)
        b, _ = attention(q, k, v, need_weights=True, **kwargs)
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def test_causal_mask_shape_and_values():
    torch.manual_seed(10)
    for t, s in [(1, 1), (4, 4), (1, 6), (3, 7)]:
        m = causal_mask(t, s)
        assert m.shape == (t, s) and m.dtype == torch.bool
        assert torch.equal(m, naive_causal(t, s))
    # Square case is lower-triangular.
    assert torch.equal(causal_mask(5, 5), torch.tril(torch.ones(5, 5, dtype=torch.bool)))
    # A single query at the end sees everything.
    assert causal_mask(1, 6).all()


def test_padding_mask_shape_and_rejects_non_bool():
    torch.manual_seed(11)
    keep = torch.tensor([[True, True, False], [True, True, True]])
    m = padding_mask(keep)
    assert m.shape == (2, 1, 1, 3)
    assert torch.equal(m[:, 0, 0, :], keep)
    with pytest.raises(TypeError):
        padding_mask(torch.tensor([[1, 1, 0]]))
    with pytest.raises(TypeError):
        padding_mask(torch.tensor([[1.0, 0.0]]))

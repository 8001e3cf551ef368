"""MultiHeadAttention vs a naive per-head float64 implementation; rotary embeddings; KV cache."""

import cmath
import math

import pytest
import torch

from transmodal.nn import KVCache, MultiHeadAttention, RotaryEmbedding


def naive_softmax_attn(q, k, v, allowed=None):
    """q: (T, d), k: (S, d), v: (S, d) float64 → (T, d)."""
    scores = q @ k.T / math.sqrt(q.shape[-1])
    if allowed is not None:
        scores = scores.masked_fill(~allowed, -math.inf)
    w = torch.exp(scores - scores.max(-1, keepdim=True).values)
    w = w / w.sum(-1, keepdim=True)
    return w @ v


def naive_rotate(x, offset, base=10000.0):
    """x: (T, d) float64; rotate pair (i, i + d/2) of position t by angle (offset+t)·base^(-2i/d)."""
    t_len, d = x.shape
    half = d // 2
    out = torch.empty_like(x, dtype=torch.float64)
    for t in range(t_len):
        for i in range(half):
            theta = (offset + t) * base ** (-2 * i / d)
            z = complex(float(x[t, i]), float(x[t, i + half])) * cmath.exp(1j * theta)
            out[t, i], out[t, i + half] = z.real, z.imag
    return out


@torch.no_grad()
def naive_mha(mha, x, memory=None, allowed=None, rotary=False):
    """Per-batch, per-head loops in float64 from the module's own weights."""
    d, h = mha.d_model, mha.n_heads
    dh = d // h
    x = x.double()
    if memory is None:
        w, b = mha.qkv_proj.weight.double(), mha.qkv_proj.bias.double()
        wq, wk, wv = w[:d], w[d : 2 * d], w[2 * d :]
        bq, bk, bv = b[:d], b[d : 2 * d], b[2 * d :]
        src = x
    else:
        wq, bq = mha.q_proj.weight.double(), mha.q_proj.bias.double()
        w, b = mha.kv_proj.weight.double(), mha.kv_proj.bias.double()
        wk, wv, bk, bv = w[:d], w[d:], b[:d], b[d:]
        src = memory.double()
    wo, bo = mha.out_proj.weight.double(), mha.out_proj.bias.double()
    outs = []
    for bi in range(x.shape[0]):
        heads = []
        for hi in range(h):
            sl = slice(hi * dh, (hi + 1) * dh)
            q = x[bi] @ wq[sl].T + bq[sl]
            k = src[bi] @ wk[sl].T + bk[sl]
            v = src[bi] @ wv[sl].T + bv[sl]
            if rotary:
                q, k = naive_rotate(q, 0), naive_rotate(k, 0)
            a = None if allowed is None else allowed[bi]
            heads.append(naive_softmax_attn(q, k, v, a))
        outs.append(torch.cat(heads, dim=-1) @ wo.T + bo)
    return torch.stack(outs)


def randomize_biases(mha):
    # Biases are zero-initialised by nothing in particular; make sure they matter in the comparison.
    with torch.no_grad():
        for m in mha.modules():
            if isinstance(m, torch.nn.Linear) and m.bias is not None:
                m.bias.normal_()


TOLS = [(torch.float64, 1e-10), (torch.float32, 1e-5)]


@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("rotary", [False, True])
def test_self_attention_matches_naive(dtype, tol, causal, rotary):
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, rotary=rotary).to(dtype).eval()
    randomize_biases(mha)
    x = torch.randn(2, 5, 16, dtype=dtype)
    keep = torch.tensor([[True] * 5, [True, True, True, False, False]])
    allowed = keep[:, None, :].expand(2, 5, 5)
    if causal:
        allowed = allowed & torch.tril(torch.ones(5, 5, dtype=torch.bool))
    out, w = mha(x, mask=keep[:, None, None, :], causal=causal)
    assert w is None and out.shape == (2, 5, 16) and out.dtype == dtype
    torch.testing.assert_close(out.double(), naive_mha(mha, x, allowed=allowed, rotary=rotary), atol=tol, rtol=tol)


@pytest.mark.parametrize("dtype,tol", TOLS)
def test_cross_attention_matches_naive(dtype, tol):
    torch.manual_seed(1)
    mha = MultiHeadAttention(16, 2, cross=True).to(dtype).eval()
    randomize_biases(mha)
    x = torch.randn(2, 3, 16, dtype=dtype)
    mem = torch.randn(2, 6, 16, dtype=dtype)
    keep = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    out, w = mha(x, mem, mask=keep[:, None, None, :], need_weights=True)
    allowed = keep[:, None, :].expand(2, 3, 6)
    torch.testing.assert_close(out.double(), naive_mha(mha, x, mem, allowed=allowed), atol=tol, rtol=tol)
    assert w.shape == (2, 2, 3, 6)
    assert torch.all(w[1, :, :, 4:] == 0)


def test_cross_attention_needs_memory():
    torch.manual_seed(2)
    mha = MultiHeadAttention(8, 2, cross=True)
    with pytest.raises(ValueError):
        mha(torch.randn(1, 2, 8))


def test_d_model_not_divisible_raises():
    torch.manual_seed(3)
    with pytest.raises(ValueError):
        MultiHeadAttention(10, 3)


@pytest.mark.parametrize("offset", [0, 3, 100])
def test_rotary_embedding_matches_complex_rotation(offset):
    torch.manual_seed(4)
    rope = RotaryEmbedding(8)
    x = torch.randn(2, 3, 5, 8, dtype=torch.float64)
    got = rope(x, offset)
    for b in range(2):
        for h in range(3):
            torch.testing.assert_close(got[b, h], naive_rotate(x[b, h], offset), atol=1e-12, rtol=1e-12)
    got32 = rope(x.float(), offset)
    assert got32.dtype == torch.float32
    torch.testing.assert_close(got32.double(), got, atol=1e-5, rtol=1e-5)
    # A rotation preserves norms of each pair.
    half = 4
    torch.testing.assert_close(got[..., :half] ** 2 + got[..., half:] ** 2, x[..., :half] ** 2 + x[..., half:] ** 2)


def test_rotary_odd_head_dim_raises():
    torch.manual_seed(5)
    with pytest.raises(ValueError):
        RotaryEmbedding(7)


def test_rotary_scores_depend_only_on_relative_offset():
    torch.manual_seed(6)
    rope = RotaryEmbedding(8)
    q = torch.randn(1, 1, 1, 8, dtype=torch.float64)
    k = torch.randn(1, 1, 1, 8, dtype=torch.float64)

    def score(tq, tk):
        return float((rope(q, tq) * rope(k, tk)).sum())

    for tq, tk in [(0, 0), (5, 2), (2, 5), (7, 0)]:
        base = score(tq, tk)
        for c in (1, 17, 250):
            assert abs(score(tq + c, tk + c) - base) < 1e-10
    # ... and it does depend on the relative offset.
    assert abs(score(5, 2) - score(2, 5)) > 1e-6


def test_rotary_mha_is_shift_invariant_through_cache_offset():
    """Prefill the cache with m dummy positions (masked out), so the real positions are shifted by m:
    attention weights and outputs over the real positions must be unchanged."""
    torch.manual_seed(7)
    mha = MultiHeadAttention(16, 2, rotary=True).double().eval()
    t = 4
    x = torch.randn(1, t, 16, dtype=torch.float64)
    ref_out, ref_w = mha(x, need_weights=True)
    for m in (1, 5, 40):
        cache = KVCache()
        cache.append(torch.randn(1, 2, m, 8, dtype=torch.float64), torch.randn(1, 2, m, 8, dtype=torch.float64))
        mask = torch.ones(1, 1, t, m + t, dtype=torch.bool)
        mask[..., :m] = False
        out, w = mha(x, mask=mask, cache=cache, need_weights=True)
        assert cache.length == m + t
        assert torch.all(w[..., :m] == 0)
        torch.testing.assert_close(w[..., m:], ref_w, atol=1e-10, rtol=1e-10)
        torch.testing.assert_close(out, ref_out, atol=1e-10, rtol=1e-10)
    # Sanity: the offset really is applied (the cached keys of the real positions are rotated
    # differently once m positions precede them), so the invariance above is not vacuous.
    cache = KVCache()
    mha(x, cache=cache)
    k0 = cache.k.clone()
    cache = KVCache()
    cache.append(torch.zeros(1, 2, 3, 8, dtype=torch.float64), torch.zeros(1, 2, 3, 8, dtype=torch.float64))
    mha(x, cache=cache)
    assert not torch.allclose(cache.k[..., 3:, :], k0)


@pytest.mark.parametrize("rotary", [False, True])
@pytest.mark.parametrize("chunks", [[1] * 6, [3, 1, 2]])
def test_kv_cache_incremental_equals_full_causal(rotary, chunks):
    torch.manual_seed(8)
    mha = MultiHeadAttention(16, 4, rotary=rotary).double().eval()
    randomize_biases(mha)
    x = torch.randn(2, sum(chunks), 16, dtype=torch.float64)
    full, _ = mha(x, causal=True)
    cache = KVCache()
    outs, start = [], 0
    for n in chunks:
        o, _ = mha(x[:, start : start + n], causal=True, cache=cache)
        outs.append(o)
        start += n
        assert cache.length == start
        assert cache.k.shape == (2, 4, start, 4) and cache.v.shape == (2, 4, start, 4)
    torch.testing.assert_close(torch.cat(outs, dim=1), full, atol=1e-10, rtol=1e-10)


def test_kv_cache_cross_attention_computed_once():
    torch.manual_seed(9)
    mha = MultiHeadAttention(8, 2, cross=True).double().eval()
    mem = torch.randn(2, 5, 8, dtype=torch.float64)
    x = torch.randn(2, 3, 8, dtype=torch.float64)
    full, _ = mha(x, mem)
    cache = KVCache()
    o1, _ = mha(x[:, :1], mem, cache=cache)
    k_first = cache.k
    o2, _ = mha(x[:, 1:], None, cache=cache)  # memory no longer needed
    assert cache.k is k_first and cache.length == 5
    torch.testing.assert_close(torch.cat([o1, o2], 1), full, atol=1e-10, rtol=1e-10)


def test_kv_cache_append_and_reorder():
    torch.manual_seed(10)
    c = KVCache()
    assert c.length == 0
    c.reorder(torch.tensor([0]))  # no-op on an empty cache
    k1, v1 = torch.randn(3, 2, 2, 4), torch.randn(3, 2, 2, 4)
    k2, v2 = torch.randn(3, 2, 1, 4), torch.randn(3, 2, 1, 4)
    c.append(k1, v1)
    k, v = c.append(k2, v2)
    assert c.length == 3
    assert torch.equal(k, torch.cat([k1, k2], 2)) and torch.equal(v, torch.cat([v1, v2], 2))
    idx = torch.tensor([2, 0, 0])
    c.reorder(idx)
    for row, src in enumerate([2, 0, 0]):
        assert torch.equal(c.k[row], torch.cat([k1, k2], 2)[src])
        assert torch.equal(c.v[row], torch.cat([v1, v2], 2)[src])

"""Limited-context (banded) attention with global tokens against a naive full-matrix float64 reference."""

import math

import pytest
import torch

import transmodal.nn.local_attention as local_mod
from sm_reference import NEG_INF, f64, randomize, rel_mhsa, softmax_rows
from transmodal.nn.local_attention import local_attention
from transmodal.nn.relative import RelPositionMultiHeadAttention


def naive_banded(q, k, v, w, keep=None, band_bias=None, gk=None, gv=None, gbias=None):
    """Every (query, key) pair by hand: key j allowed iff (|i − j| ≤ w and j real) or j = i; globals always."""
    q, k, v = f64(q), f64(k), f64(v)
    b_, h_, t, d = q.shape
    g = 0 if gk is None else gk.shape[2]
    out = torch.zeros(b_, h_, t, v.shape[-1], dtype=torch.float64)
    for b in range(b_):
        for h in range(h_):
            for i in range(t):
                scores = torch.full((g + t,), NEG_INF, dtype=torch.float64)
                values = torch.zeros(g + t, v.shape[-1], dtype=torch.float64)
                for p in range(g):
                    scores[p] = q[b, h, i] @ f64(gk[b, h, p]) / math.sqrt(d)
                    if gbias is not None:
                        scores[p] += float(gbias[b, h, i, p])
                    values[p] = f64(gv[b, h, p])
                for j in range(t):
                    real = keep is None or bool(keep[b, j])
                    if (abs(i - j) <= w and real) or i == j:
                        scores[g + j] = q[b, h, i] @ k[b, h, j] / math.sqrt(d)
                        if band_bias is not None:
                            scores[g + j] += float(band_bias[b, h, i, w + (j - i)])
                    values[g + j] = v[b, h, j]
                out[b, h, i] = softmax_rows(scores) @ values
    return out


CASES = [(13, 4), (12, 4), (12, 3), (5, 8), (1, 3), (9, 1), (7, 6)]


@pytest.mark.parametrize("t,w", CASES)
@pytest.mark.parametrize("with_extras", [False, True])
def test_local_attention_matches_banded_reference(t, w, with_extras):
    torch.manual_seed(t * 10 + w)
    b, h, d = 2, 2, 4
    q, k, v = (torch.randn(b, h, t, d, dtype=torch.float64) for _ in range(3))
    kw = {}
    if with_extras:
        keep = torch.ones(b, t, dtype=torch.bool)
        keep[1, max(1, t - 3) :] = False
        kw = dict(
            keep=keep,
            band_bias=torch.randn(b, h, t, 2 * w + 1, dtype=torch.float64),
            gk=torch.randn(b, h, 2, d, dtype=torch.float64),
            gv=torch.randn(b, h, 2, d, dtype=torch.float64),
            gbias=torch.randn(b, h, t, 2, dtype=torch.float64),
        )
    got = local_attention(
        q, k, v, w, keep=kw.get("keep"), band_bias=kw.get("band_bias"),
        global_k=kw.get("gk"), global_v=kw.get("gv"), global_bias=kw.get("gbias"),
    )
    want = naive_banded(q, k, v, w, **kw)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)


def test_local_attention_float32():
    torch.manual_seed(3)
    q, k, v = (torch.randn(1, 3, 10, 8) for _ in range(3))
    torch.testing.assert_close(local_attention(q, k, v, 3).double(), naive_banded(q, k, v, 3), atol=1e-5, rtol=1e-5)


def test_chunks_are_w_by_3w_so_cost_is_linear_in_length(monkeypatch):
    seen = []
    real = local_mod.attention

    def spy(q, k, v, mask=None, **kw):
        seen.append((tuple(q.shape), tuple(k.shape)))
        return real(q, k, v, mask, **kw)

    monkeypatch.setattr(local_mod, "attention", spy)
    b, h, d, w = 1, 2, 4, 16
    for t in (1000, 2000):
        q = torch.randn(b, h, t, d)
        local_attention(q, q, q, w, global_k=q[:, :, :1], global_v=q[:, :, :1])
    nb1, nb2 = math.ceil(1000 / w), math.ceil(2000 / w)
    # One call each; every block has w queries and 3w local keys (+1 global): no T × T anywhere.
    assert seen == [((b, h * nb1, w, d), (b, h * nb1, 3 * w + 1, d)), ((b, h * nb2, w, d), (b, h * nb2, 3 * w + 1, d))]


def test_local_attention_argument_errors():
    q = torch.randn(1, 1, 4, 2)
    with pytest.raises(ValueError, match="window"):
        local_attention(q, q, q, 0)
    with pytest.raises(ValueError, match="columns"):
        local_attention(q, q, q, 2, band_bias=torch.zeros(1, 1, 4, 3))
    with pytest.raises(ValueError, match="both"):
        local_attention(q, q, q, 2, global_k=q)


def band_allowed(t, w, g, keep):
    """Pairs a limited-context module with g global tokens at the front may use (by hand)."""
    allowed = torch.zeros(t, t, dtype=torch.bool)
    for i in range(t):
        for j in range(t):
            if i < g or j < g:
                allowed[i, j] = bool(keep[j])
            elif (abs(i - j) <= w and keep[j]) or i == j:
                allowed[i, j] = True
    return allowed


@pytest.mark.parametrize("t,w,g", [(11, 3, 1), (11, 3, 0), (8, 2, 2), (9, 4, 1)])
def test_rel_position_local_attention_matches_pairwise_loops(t, w, g):
    torch.manual_seed(5)
    mod = randomize(RelPositionMultiHeadAttention(8, 2, window=w, n_global=g), seed=t).double().eval()
    x = torch.randn(2, t, 8, dtype=torch.float64)
    keep = torch.ones(2, t, dtype=torch.bool)
    keep[1, t - 2 :] = False
    out, _ = mod(x, keep)
    for b in range(2):
        want = rel_mhsa(mod, x[b], band_allowed(t, w, g, keep[b]))
        n = int(keep[b].sum())
        torch.testing.assert_close(out[b, :n], want[:n], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("t", [6, 13])
def test_window_covering_the_sequence_with_global_token_equals_full_attention(t):
    torch.manual_seed(7)
    local = randomize(RelPositionMultiHeadAttention(8, 2, window=t, n_global=1), seed=1).double().eval()
    full = RelPositionMultiHeadAttention(8, 2).double().eval()
    full.load_state_dict(local.state_dict())  # the same weights
    x = torch.randn(2, t, 8, dtype=torch.float64)
    keep = torch.ones(2, t, dtype=torch.bool)
    keep[0, t - 2 :] = False
    a, _ = local(x, keep)
    b, _ = full(x, keep)
    for i, n in enumerate(keep.sum(1).tolist()):
        torch.testing.assert_close(a[i, :n], b[i, :n], atol=1e-10, rtol=1e-10)

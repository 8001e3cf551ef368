"""GPT: reference math, causality, weight tying, cached = uncached generation, temperature / top-k / top-p."""

import math

import pytest
import torch

from transmodal.models.gpt import GPT, config, filter_logits, generate, sample_next


def tiny(positions="learned", **kw):
    torch.manual_seed(0)
    return GPT(config("tiny", vocab_size=50, positions=positions, **kw)).eval()


def _ln(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def reference_logits(model: GPT, ids: torch.Tensor) -> torch.Tensor:
    """GPT-2 math written out in float64 from the parameters (pre-norm blocks, causal softmax, tied output)."""
    P = {k: v.detach().double() for k, v in model.state_dict().items()}
    c = model.config
    B, T = ids.shape
    H, dh = c.n_heads, c.d_model // c.n_heads
    x = P["tokens.emb.weight"][ids] + P["positions.table"][:T]
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for i in range(c.n_layers):
        p = f"blocks.layers.{i}."
        h = _ln(x, P[p + "res_attn.norm.weight"], P[p + "res_attn.norm.bias"])
        q, k, v = (h @ P[p + "self_attn.qkv_proj.weight"].T + P[p + "self_attn.qkv_proj.bias"]).split(c.d_model, dim=-1)
        q, k, v = (t.reshape(B, T, H, dh).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-1, -2) / math.sqrt(dh)).masked_fill(future, float("-inf"))
        a = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(B, T, c.d_model)
        x = x + a @ P[p + "self_attn.out_proj.weight"].T + P[p + "self_attn.out_proj.bias"]
        h = _ln(x, P[p + "res_ff.norm.weight"], P[p + "res_ff.norm.bias"])
        u = h @ P[p + "ff.w1.weight"].T + P[p + "ff.w1.bias"]
        u = 0.5 * u * (1 + torch.erf(u / math.sqrt(2)))
        x = x + u @ P[p + "ff.w2.weight"].T + P[p + "ff.w2.bias"]
    x = _ln(x, P["blocks.norm.weight"], P["blocks.norm.bias"])
    return x @ P["tokens.emb.weight"].T


def test_forward_matches_reference_math():
    model = tiny()
    ids = torch.randint(0, 50, (3, 17))
    assert torch.allclose(model(ids).double(), reference_logits(model, ids), atol=1e-5)


def test_output_matrix_is_the_token_embedding():
    model = tiny()
    assert model.head.proj.weight is model.tokens.weight
    assert model.head.proj.bias is None
    n_unique = sum(p.numel() for p in model.parameters())
    assert n_unique == sum(t.numel() for k, t in model.state_dict().items() if k != "head.proj.weight")


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_causal_no_position_sees_the_future(positions):
    model = tiny(positions)
    ids = torch.randint(0, 50, (2, 20))
    base = model(ids)
    for t in (0, 7, 19):
        changed = ids.clone()
        changed[:, t:] = (changed[:, t:] + 1 + torch.randint(0, 48, changed[:, t:].shape)) % 50
        out = model(changed)
        assert torch.allclose(out[:, :t], base[:, :t], atol=1e-6)
        assert not torch.allclose(out[:, t], base[:, t], atol=1e-4)  # position t does see itself
    # the same through gradients: d logits[t] / d embeddings[s] = 0 for s > t
    x = model.tokens(ids).detach().requires_grad_(True)
    h = model.positions(x) if model.positions is not None else x
    logits = model.head.logits(model.blocks(h, causal=True))
    logits[:, 9].sum().backward()
    assert x.grad[:, 10:].abs().max() == 0
    assert x.grad[:, :10].abs().min() >= 0 and x.grad[:, 9].abs().max() > 0


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_cached_logits_equal_full_recomputation(positions):
    model = tiny(positions)
    ids = torch.randint(0, 50, (2, 30))
    full = model(ids)
    cache = model.new_cache()
    parts = [model.forward_cached(ids[:, :11], cache)]  # a prompt, then one token at a time
    for t in range(11, 30):
        parts.append(model.forward_cached(ids[:, t : t + 1], cache))
    assert cache[0].length == 30
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)


def test_cached_generation_equals_uncached():
    model = tiny().double()
    prompt = torch.randint(0, 50, (3, 5))
    greedy = generate(model, prompt, 40, temperature=0.0)
    assert torch.equal(greedy, generate(model, prompt, 40, temperature=0.0, use_cache=False))
    kw = dict(temperature=0.9, top_k=20, top_p=0.9)
    a = generate(model, prompt, 40, generator=torch.Generator().manual_seed(1), **kw)
    b = generate(model, prompt, 40, use_cache=False, generator=torch.Generator().manual_seed(1), **kw)
    assert torch.equal(a, b)
    assert a.shape == (3, 45) and torch.equal(a[:, :5], prompt)


def test_generation_past_the_context_keeps_going():
    model = tiny()
    prompt = torch.randint(0, 50, (1, 80))  # longer than max_len = 64: cropped
    out = generate(model, prompt, 70, temperature=0.0)
    assert out.shape == (1, 150)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(1, 65, dtype=torch.long))


def test_generation_stops_at_eos():
    model = tiny()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    free = generate(model, prompt, 30, temperature=0.0)
    eos = int(free[0, 3 + 4])  # whatever row 0 emits 5th
    first = int((free[0, 3:] == eos).nonzero()[0])
    out = generate(model, prompt, 30, temperature=0.0, eos_id=eos)
    assert torch.equal(out[0, : 3 + first + 1], free[0, : 3 + first + 1])
    assert (out[0, 3 + first :] == eos).all()  # after EOS only EOS
    hits = (free[:, 3:] == eos).any(dim=1)
    if hits.all():  # both rows finished: generation stopped early
        assert out.shape[1] == 3 + int(max((free[i, 3:] == eos).nonzero()[0] for i in range(2))) + 1


def reference_keep(logits, top_k=None, top_p=None):
    """Kept token set, by sorting in plain Python."""
    order = sorted(range(len(logits)), key=lambda i: -logits[i])
    if top_k is not None:
        order = order[:top_k]
    if top_p is not None:
        z = [math.exp(logits[i]) for i in order]
        probs = [v / sum(z) for v in z]
        kept, mass = [], 0.0
        for i, p in zip(order, probs):
            kept.append(i)
            mass += p
            if mass >= top_p:
                break
        order = kept
    return set(order)


@pytest.mark.parametrize("top_k,top_p", [(5, None), (None, 0.5), (None, 0.9), (10, 0.8), (1, None), (None, 1.0)])
def test_filter_logits_matches_reference(top_k, top_p):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(20, 40, generator=g) * 2
    out = filter_logits(logits, top_k, top_p)
    for row, filtered in zip(logits.double().tolist(), out):
        kept = set(torch.nonzero(torch.isfinite(filtered)).flatten().tolist())
        assert kept == reference_keep(row, top_k, top_p)


def test_sampling_frequencies_follow_the_tempered_nucleus():
    logits = torch.tensor([[2.0, 1.5, 1.0, 0.0, -1.0, -3.0]])
    temperature, top_p, n = 0.7, 0.9, 40_000
    probs = torch.softmax(logits[0].double() / temperature, -1)
    keep = torch.cumsum(probs, 0) - probs < top_p
    expected = torch.where(keep, probs, torch.zeros_like(probs))
    expected /= expected.sum()
    draws = sample_next(logits.expand(n, -1), temperature, top_p=top_p, generator=torch.Generator().manual_seed(3))
    counts = torch.bincount(draws, minlength=6)
    for c, p in zip(counts.tolist(), expected.tolist()):
        if p == 0:
            assert c == 0
        else:
            assert abs(c - n * p) <= 5 * math.sqrt(n * p * (1 - p))
    assert torch.equal(sample_next(logits, 0.0), torch.tensor([0]))  # temperature 0: argmax

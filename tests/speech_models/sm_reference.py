"""Naive float64 references for the speech-model tests: explicit loops, no library code paths.

Only a module's *parameters* are read from the library (converted to float64); every computation —
sinusoids, relative scores, masks, softmax, convolutions, norms — is written out here again.
"""

from __future__ import annotations

import math

import torch

NEG_INF = float("-inf")


def f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float64)


def sinusoid(r: int, d: int) -> torch.Tensor:
    """Sinusoidal embedding of one (possibly negative) distance r, written element by element."""
    out = torch.empty(d, dtype=torch.float64)
    for i in range(0, d, 2):
        angle = r / (10000.0 ** (i / d))
        out[i] = math.sin(angle)
        out[i + 1] = math.cos(angle)
    return out


def softmax_rows(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis in float64 with -inf entries (at least one finite per row)."""
    m = scores.max(dim=-1, keepdim=True).values
    e = torch.exp(scores - m)
    return e / e.sum(dim=-1, keepdim=True)


def layer_norm(x: torch.Tensor, ln) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + ln.eps) * f64(ln.weight) + f64(ln.bias)


def linear(x: torch.Tensor, lin) -> torch.Tensor:
    y = x @ f64(lin.weight).T
    return y if lin.bias is None else y + f64(lin.bias)


def swish(x: torch.Tensor) -> torch.Tensor:
    return x / (1.0 + torch.exp(-x))


def swoosh_r(x: torch.Tensor) -> torch.Tensor:
    return torch.log1p(torch.exp(x - 1.0)) - 0.08 * x - 0.313261687


def swoosh_l(x: torch.Tensor) -> torch.Tensor:
    return torch.log1p(torch.exp(x - 4.0)) - 0.08 * x - 0.035


def depthwise_conv_same(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x: (T, C); weight: (C, 1, K) odd K; zero padding (K-1)/2 each side; explicit taps."""
    t, c = x.shape
    k = weight.shape[-1]
    half = k // 2
    out = torch.zeros(t, c, dtype=torch.float64) + bias
    for i in range(t):
        for tap in range(k):
            j = i + tap - half
            if 0 <= j < t:
                out[i] += weight[:, 0, tap] * x[j]
    return out


def rel_mhsa(mod, x: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """Transformer-XL attention of one item, pair by pair.

    x: (T, D) float64; allowed: (T, T) booleans (query i may attend key j). Reads the weights of a
    RelPositionMultiHeadAttention. s_ij = ((q_i + u)·k_j + (q_i + v)·W_R R_{i−j}) / √d_head.
    """
    t, d = x.shape
    h = mod.n_heads
    dh = d // h
    qkv = linear(x, mod.qkv_proj)
    q, k, v = qkv[:, :d], qkv[:, d : 2 * d], qkv[:, 2 * d :]
    u, vb = f64(mod.pos_bias_u), f64(mod.pos_bias_v)
    w_r = f64(mod.pos_proj.weight)
    r = {dist: w_r @ sinusoid(dist, d) for dist in range(-(t - 1), t)}
    out = torch.zeros(t, d, dtype=torch.float64)
    for head in range(h):
        sl = slice(head * dh, (head + 1) * dh)
        for i in range(t):
            scores = torch.full((t,), NEG_INF, dtype=torch.float64)
            for j in range(t):
                if allowed is not None and not allowed[i, j]:
                    continue
                content = (q[i, sl] + u[head]) @ k[j, sl]
                position = (q[i, sl] + vb[head]) @ r[i - j][sl]
                scores[j] = (content + position) / math.sqrt(dh)
            w = softmax_rows(scores)
            out[i, sl] = w @ v[:, sl]
    return linear(out, mod.out_proj)


def randomize(mod: torch.nn.Module, seed: int = 0, scale: float = 0.5) -> torch.nn.Module:
    """Give every parameter (also the ones that start at zero, like u and v) random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in mod.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return mod


def check_padded_batch(model, lengths, n_mels: int = 80, atol: float = 1e-5, seed: int = 0):
    """A padded batch (with huge garbage in the padding) gives each item what it gives alone."""
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    feats = torch.randn(len(lengths), t, n_mels, generator=g)
    lengths = torch.tensor(lengths)
    for b, n in enumerate(lengths.tolist()):
        feats[b, n:] = 1e4 * torch.randn(t - n, n_mels, generator=g)  # must not leak
    model.eval()
    with torch.no_grad():
        out, out_lengths = model(feats, lengths)
        assert out.shape[0] == len(lengths) and out.shape[1] == int(out_lengths.max())
        for b, n in enumerate(lengths.tolist()):
            alone, alone_len = model(feats[b : b + 1, :n], lengths[b : b + 1])
            assert int(alone_len) == int(out_lengths[b])
            m = int(alone_len)
            assert alone.shape[1] == m
            torch.testing.assert_close(out[b, :m], alone[0], atol=atol, rtol=1e-4)
            assert torch.all(out[b, m:] == 0), "padded output frames should be zeroed"
    return out, out_lengths


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())

"""Zipformer: the layer's eleven steps against float64 loops, frame-rate plumbing, padding, exact sizes."""

import math

import pytest
import torch
from torch import nn

from sm_reference import (
    check_padded_batch, count, depthwise_conv_same, f64, linear, randomize, sinusoid, softmax_rows, swoosh_l, swoosh_r,
)
from transmodal.models.zipformer import (
    CONFIGS, Bypass, Downsample, Zipformer, ZipformerConfig, ZipformerLayer, combine_outputs, config, match_channels, upsample,
)

# --- float64 reference of one layer ------------------------------------------------------------------


def ref_weights(m, x):
    t = x.shape[0]
    h, dq, dp = m.n_heads, m.dq, m.dp
    proj = linear(x, m.in_proj)
    q, k, p = proj[:, : h * dq], proj[:, h * dq : 2 * h * dq], proj[:, 2 * h * dq :]
    w_r = f64(m.pos_proj.weight)
    a = torch.empty(h, t, t, dtype=torch.float64)
    for head in range(h):
        for i in range(t):
            scores = torch.empty(t, dtype=torch.float64)
            for j in range(t):
                r = (w_r @ sinusoid(i - j, m.pos_dim))[head * dp : (head + 1) * dp]
                qi, kj = q[i, head * dq : (head + 1) * dq], k[j, head * dq : (head + 1) * dq]
                scores[j] = qi @ kj / math.sqrt(dq) + p[i, head * dp : (head + 1) * dp] @ r
            a[head, i] = softmax_rows(scores)
    return a


def ref_self_attn(m, x, a):
    v = linear(x, m.in_proj)
    dv = m.dv
    out = torch.cat([a[h] @ v[:, h * dv : (h + 1) * dv] for h in range(m.n_heads)], dim=-1)
    return linear(out, m.out_proj)


def ref_nonlin_attn(m, x, a):
    s, v, y = linear(x, m.in_proj).chunk(3, dim=-1)
    return linear((a[0] @ (torch.tanh(s) * v)) * y, m.out_proj)


def ref_ff(m, x):
    return linear(swoosh_l(linear(x, m.w1)), m.w2)


def ref_conv(m, x):
    d = x.shape[-1]
    h = linear(x, m.pointwise_in)
    h = h[:, :d] * torch.sigmoid(h[:, d:])
    h = swoosh_r(depthwise_conv_same(h, f64(m.depthwise.weight), f64(m.depthwise.bias)))
    return linear(h, m.pointwise_out)


def ref_bias_norm(m, x):
    rms = torch.sqrt(((x - f64(m.bias)) ** 2).mean(-1, keepdim=True) + m.eps)
    return x / rms * math.exp(float(m.log_scale.detach()))


def ref_bypass(m, x, h):
    c = f64(m.scale).clamp(0, 1)
    return x + c * (h - x)


def ref_layer(lay, x0):
    a = ref_weights(lay.attn_weights, x0)
    x = x0 + ref_ff(lay.ff1, x0)
    x = x + ref_nonlin_attn(lay.nonlin_attn, x, a)
    x = x + ref_self_attn(lay.self_attn1, x, a)
    x = x + ref_conv(lay.conv1, x)
    x = x + ref_ff(lay.ff2, x)
    x = ref_bypass(lay.bypass_mid, x0, x)
    x = x + ref_self_attn(lay.self_attn2, x, a)
    x = x + ref_conv(lay.conv2, x)
    x = x + ref_ff(lay.ff3, x)
    return ref_bypass(lay.bypass, x0, ref_bias_norm(lay.norm, x))


def test_zipformer_layer_matches_reference():
    torch.manual_seed(0)
    c = ZipformerConfig(
        dims=(8,), layers=(1,), ff_dims=(8,), heads=(2,), kernels=(3,), downsampling=(1,),
        query_head_dim=4, value_head_dim=3, pos_head_dim=2, pos_dim=6, dropout=0.1,
    )
    lay = randomize(ZipformerLayer(8, 8, 2, 3, c), scale=0.4).double().eval()
    assert (lay.bypass.scale < 0).any() or (lay.bypass.scale > 1).any() or (lay.bypass_mid.scale < 0).any()  # clamp is exercised
    x = torch.randn(1, 7, 8, dtype=torch.float64)
    torch.testing.assert_close(lay(x)[0], ref_layer(lay, x[0]), atol=1e-10, rtol=1e-10)


# --- frame rates ------------------------------------------------------------------------------------


def test_downsample_is_a_softmax_weighted_average_and_repeats_the_last_real_frame():
    ds = Downsample(3).double()
    with torch.no_grad():
        ds.weights.copy_(torch.tensor([0.1, -0.4, 0.7]))
    e = [math.exp(v) for v in (0.1, -0.4, 0.7)]
    w = [v / sum(e) for v in e]
    x = torch.randn(2, 7, 4, dtype=torch.float64)
    out, lengths = ds(x, torch.tensor([7, 5]))
    assert out.shape == (2, 3, 4) and lengths.tolist() == [3, 2]
    torch.testing.assert_close(out[0, 1], w[0] * x[0, 3] + w[1] * x[0, 4] + w[2] * x[0, 5])
    torch.testing.assert_close(out[0, 2], (w[0] + w[1] + w[2]) * x[0, 6])  # past the end: frame 6 again
    torch.testing.assert_close(out[1, 1], w[0] * x[1, 3] + (w[1] + w[2]) * x[1, 4])  # item 1 ends at frame 4


def test_upsample_bypass_and_channel_plumbing():
    x = torch.arange(6.0).view(1, 3, 2)
    assert upsample(x, 2, 5)[0, :, 0].tolist() == [0, 0, 2, 2, 4]
    by = Bypass(2)
    with torch.no_grad():
        by.scale.copy_(torch.tensor([-0.5, 1.5]))  # clamped to [0, 1]
    a, b = torch.zeros(1, 1, 2), torch.ones(1, 1, 2)
    assert by(a, b).tolist() == [[[0.0, 1.0]]]
    assert match_channels(torch.ones(1, 1, 3), 5).tolist() == [[[1, 1, 1, 0, 0]]]
    assert match_channels(torch.ones(1, 1, 3), 2).shape[-1] == 2
    outs = [torch.full((1, 1, d), float(i)) for i, d in enumerate((2, 4, 3))]
    assert combine_outputs(outs).tolist() == [[[2, 2, 2, 1]]]  # channel 3 comes from the last stack that has it


@pytest.mark.parametrize("t", [9, 10, 11, 40, 77])
def test_output_lengths(t):
    model = Zipformer(config("tiny")).eval()
    out, lengths = model(torch.randn(1, t, 80), torch.tensor([t]))
    want = math.ceil(((t - 7) // 2) / 2)
    assert out.shape == (1, want, model.config.d_model) and lengths.tolist() == [want]
    assert model.config.d_model == 64 and model.subsampling == 4


def test_too_short_input_is_refused():
    with pytest.raises(ValueError, match="at least 9 frames"):
        Zipformer(config("tiny"))(torch.randn(1, 8, 80), torch.tensor([8]))


def test_padded_batch_equals_items_alone():
    torch.manual_seed(1)
    model = randomize(Zipformer(config("tiny")), seed=3, scale=0.2)
    check_padded_batch(model, [90, 57, 30, 9], atol=1e-4)


def test_training_step_has_finite_gradients():
    torch.manual_seed(2)
    model = Zipformer(config("tiny", dropout=0.1)).train()
    feats = torch.randn(2, 60, 80)
    feats[1, 25:] = 0.0  # zero padding must not produce NaN (BiasNorm of a zero frame)
    out, _ = model(feats, torch.tensor([60, 25]))
    out.pow(2).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_config_validation():
    with pytest.raises(ValueError, match="one per stack"):
        ZipformerConfig(dims=(8, 8), layers=(1,))


def transducer_parts(enc_dim, vocab=500, dec=512, joiner=512):
    """icefall's stateless decoder + joiner + the pruned-RNN-T 'simple' projections, built on meta."""
    with torch.device("meta"):
        decoder = count(nn.Embedding(vocab, dec)) + count(nn.Conv1d(dec, dec, 2, groups=dec // 4, bias=False))
        join = count(nn.Linear(enc_dim, joiner)) + count(nn.Linear(dec, joiner)) + count(nn.Linear(joiner, vocab))
        simple = count(nn.Linear(enc_dim, vocab)) + count(nn.Linear(dec, vocab))
    return decoder + join + simple


# icefall's published totals (LibriSpeech README): small / normal / large Zipformer transducers.
PUBLISHED = {"S": 23_285_615, "M": 65_549_011, "L": 148_439_574}


@pytest.mark.parametrize("name", ["S", "M", "L"])
def test_parameter_counts_match_the_papers_models(name):
    c = CONFIGS[name]
    with torch.device("meta"):
        n = count(Zipformer(c))
    unused_bypass_scale = sum(d * n_layers for d, n_layers in zip(c.dims, c.layers))  # one d-vector per icefall layer
    assert n + transducer_parts(c.d_model) + unused_bypass_scale == PUBLISHED[name]
    assert abs(n - PUBLISHED[name]) / PUBLISHED[name] < 0.06  # the encoder alone is within 6 %

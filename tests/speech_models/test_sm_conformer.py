"""Conformer: block equations against float64 loops, subsampling lengths, padding, parameter counts."""

import pytest
import torch
from torch import nn

from sm_reference import check_padded_batch, count, depthwise_conv_same, f64, layer_norm, linear, randomize, rel_mhsa, swish
from transmodal.models.conformer import CONFIGS, Conformer, ConformerBlock, config
from transmodal.models.registry import build
from transmodal.nn.conv import ConvolutionModule


def ref_ffn(x, m):
    return linear(swish(linear(layer_norm(x, m.norm), m.ff.w1)), m.ff.w2)


def ref_conv(x, m: ConvolutionModule):
    d = x.shape[-1]
    h = linear(layer_norm(x, m.norm_in), m.pointwise_in)
    h = h[:, :d] * torch.sigmoid(h[:, d:])  # GLU
    h = depthwise_conv_same(h, f64(m.depthwise.weight), f64(m.depthwise.bias))
    bn = m.norm
    h = (h - f64(bn.running_mean)) / torch.sqrt(f64(bn.running_var) + bn.eps) * f64(bn.weight) + f64(bn.bias)
    return linear(swish(h), m.pointwise_out)


def ref_block(x, blk: ConformerBlock):
    """The paper's eq. (1), term by term."""
    x1 = x + 0.5 * ref_ffn(x, blk.ff1)  # x̃ = x + ½FFN(x)
    x2 = x1 + rel_mhsa(blk.attn, layer_norm(x1, blk.attn_norm))  # x' = x̃ + MHSA(x̃)
    x3 = x2 + ref_conv(x2, blk.conv)  # x'' = x' + Conv(x')
    return layer_norm(x3 + 0.5 * ref_ffn(x3, blk.ff2), blk.norm_out)  # y = LN(x'' + ½FFN(x''))


def test_conformer_block_follows_the_four_equations():
    torch.manual_seed(0)
    blk = randomize(ConformerBlock(8, 2, ff_mult=4, kernel_size=5, dropout=0.1), scale=0.4).double()
    bn = blk.conv.norm
    bn.running_mean.copy_(torch.randn(8))
    bn.running_var.copy_(torch.rand(8) + 0.5)
    blk.eval()
    x = torch.randn(1, 9, 8, dtype=torch.float64)
    torch.testing.assert_close(blk(x)[0], ref_block(x[0], blk), atol=1e-10, rtol=1e-10)


def test_conv_module_shapes_and_odd_kernel():
    m = ConvolutionModule(6, 7)
    assert m(torch.randn(2, 5, 6)).shape == (2, 5, 6)
    with pytest.raises(ValueError, match="odd"):
        ConvolutionModule(6, 32)


@pytest.mark.parametrize("t", [7, 8, 9, 10, 33, 100])
def test_subsampling_lengths(t):
    model = Conformer(config("tiny")).eval()
    out, lengths = model(torch.randn(1, t, 80), torch.tensor([t]))
    want = ((t - 1) // 2 - 1) // 2  # two valid 3×3 stride-2 convolutions
    assert out.shape == (1, want, 64) and lengths.tolist() == [want]
    assert model.subsampling == 4 and model.config.d_model == 64


def test_padded_batch_equals_items_alone():
    torch.manual_seed(1)
    model = Conformer(config("tiny"))
    for m in model.modules():  # non-trivial running statistics
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    check_padded_batch(model, [61, 40, 23, 7])


def test_training_step_has_finite_gradients_and_batchnorm_ignores_padding():
    torch.manual_seed(2)
    model = Conformer(config("tiny", dropout=0.1)).train()
    feats = torch.randn(2, 50, 80)
    feats[1, 30:] = 1e4  # padding garbage
    out, lengths = model(feats, torch.tensor([50, 30]))
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    bn = model.blocks[0].conv.norm
    assert bn.running_var.max() < 10  # 1e4 garbage would have blown the variance up


def test_errors_say_what_to_fix():
    model = Conformer(config("tiny"))
    with pytest.raises(ValueError, match="at least 7 frames"):
        model(torch.randn(1, 6, 80), torch.tensor([6]))
    with pytest.raises(ValueError, match="80 bins"):
        model(torch.randn(1, 20, 40), torch.tensor([20]))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 20\]"):
        model(torch.randn(1, 20, 80), torch.tensor([21]))
    with pytest.raises(TypeError, match="integer"):
        model(torch.randn(1, 20, 80), torch.tensor([20.0]))
    with pytest.raises(ValueError, match="unknown conformer configuration"):
        config("XL")


def test_registry_builds_from_a_dict():
    model = build("conformer", {"d_model": 32, "n_layers": 1, "n_heads": 2, "kernel_size": 3})
    assert isinstance(model, Conformer) and model.arch == "conformer"


def closed_form_encoder(d, layers, k=31, n_mels=80):
    """Parameters of the encoder by hand: Conv2d subsampling + linear + blocks of 24d² + kd + 32d."""
    f = ((n_mels - 1) // 2 - 1) // 2  # mel bins left after two valid stride-2 convs: 19
    subsampling = (9 * d + d) + (9 * d * d + d) + (f * d * d + d)
    ffn = 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d)  # LN + W1 + W2
    mhsa = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + d * d + 2 * d  # LN + W_qkv + W_o + W_R + u, v
    conv = 2 * d + (2 * d * d + 2 * d) + (k * d + d) + 2 * d + (d * d + d)  # LN + PW1 + DW + BN + PW2
    block = 2 * ffn + mhsa + conv + 2 * d
    assert block == 24 * d * d + k * d + 32 * d
    return subsampling + layers * block


def lstm_transducer_parts(d_enc, d_dec, vocab=1024):
    """(1-layer LSTM, + embedding + joint network) parameter counts, built on the meta device."""
    with torch.device("meta"):
        lstm = count(nn.LSTM(d_dec, d_dec, num_layers=1))
        rest = count(nn.Embedding(vocab, d_dec)) + count(nn.Linear(d_enc, d_dec)) + count(nn.Linear(d_dec, d_dec)) + count(nn.Linear(d_dec, vocab))
    return lstm, lstm + rest


# The paper's Table 1: (d, layers, heads, decoder width, total parameters).
PAPER = {"S": (144, 16, 4, 320, 10.3e6), "M": (256, 16, 4, 640, 30.7e6), "L": (512, 17, 8, 640, 118.8e6)}


@pytest.mark.parametrize("name", ["S", "M", "L"])
def test_parameter_counts_against_table_1(name):
    d, layers, heads, d_dec, paper = PAPER[name]
    c = CONFIGS[name]
    assert (c.d_model, c.n_layers, c.n_heads, c.kernel_size) == (d, layers, heads, 31)
    with torch.device("meta"):
        model = Conformer(c)
    n = count(model)
    assert n == closed_form_encoder(d, layers)
    # The paper counts encoder + a 1-layer LSTM decoder + joint network; its total lies between
    # "encoder + LSTM" and "encoder + LSTM + 1k-token embedding + joint" (rounded to 0.1 M).
    lo, hi = lstm_transducer_parts(d, d_dec)
    assert n + lo <= paper + 0.05e6 and paper - 0.05e6 <= n + hi
    assert abs(n + lo - paper) / paper < 0.08 and abs(n + hi - paper) / paper < 0.06

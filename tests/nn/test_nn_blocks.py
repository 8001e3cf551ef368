"""FeedForward, Residual, label-smoothed loss, EncoderLayer masking."""

import pytest
import torch
import torch.nn.functional as F

from transmodal.nn import EncoderLayer, FeedForward, LayerSpec, Residual, label_smoothed_nll, make_activation


@pytest.mark.parametrize("act,fn", [("relu", torch.relu), ("gelu", F.gelu), ("silu", F.silu), ("swish", F.silu)])
def test_feedforward_is_w2_act_w1(act, fn):
    torch.manual_seed(0)
    ff = FeedForward(6, 10, dropout=0.0, activation=act).double()
    x = torch.randn(2, 3, 6, dtype=torch.float64)
    w1, b1, w2, b2 = ff.w1.weight, ff.w1.bias, ff.w2.weight, ff.w2.bias
    want = fn(x @ w1.T + b1) @ w2.T + b2
    torch.testing.assert_close(ff(x), want, atol=1e-12, rtol=1e-12)


def test_feedforward_default_d_ff_and_bad_activation():
    torch.manual_seed(1)
    ff = FeedForward(12)
    assert ff.w1.weight.shape == (48, 12) and ff.w2.weight.shape == (12, 48)
    with pytest.raises(ValueError):
        make_activation("tanhh")


def ref_layernorm(x, ln):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + ln.eps) * ln.weight + ln.bias


def test_residual_post_norm_and_pre_norm():
    torch.manual_seed(2)
    d = 8
    lin = torch.nn.Linear(d, d).double()
    x = torch.randn(3, 4, d, dtype=torch.float64)
    post = Residual(d, dropout=0.0, norm_first=False).double()
    pre = Residual(d, dropout=0.0, norm_first=True).double()
    with torch.no_grad():  # non-trivial LayerNorm affine parameters
        for r in (post, pre):
            r.norm.weight.normal_()
            r.norm.bias.normal_()
    torch.testing.assert_close(post(x, lin), ref_layernorm(x + lin(x), post.norm), atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(pre(x, lin), x + lin(ref_layernorm(x, pre.norm)), atol=1e-12, rtol=1e-12)


def ref_label_smoothed(logprobs, target, eps, ignore_index=None):
    """−Σ_v q_v log p_v with q = (1−ε)·onehot + ε/V, averaged over kept positions, in float64 loops."""
    lp = logprobs.double().reshape(-1, logprobs.shape[-1])
    tg = target.reshape(-1).tolist()
    v = lp.shape[-1]
    tot_s, tot_n, n = 0.0, 0.0, 0
    for row, y in zip(lp, tg):
        if ignore_index is not None and y == ignore_index:
            continue
        q = torch.full((v,), eps / v, dtype=torch.float64)
        q[y] += 1 - eps
        tot_s += float(-(q * row).sum())
        tot_n += float(-row[y])
        n += 1
    return tot_s / n, tot_n / n


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("ignore_index", [None, 0])
def test_label_smoothed_nll_matches_definition(eps, ignore_index):
    torch.manual_seed(3)
    logprobs = torch.randn(3, 5, 7).log_softmax(-1)
    target = torch.randint(1, 7, (3, 5))
    target[0, 3:] = 0
    target[2, 4] = 0
    loss, nll = label_smoothed_nll(logprobs, target, eps, ignore_index=ignore_index)
    want_loss, want_nll = ref_label_smoothed(logprobs, target, eps, ignore_index)
    assert loss.item() == pytest.approx(want_loss, rel=1e-5)
    assert nll.item() == pytest.approx(want_nll, rel=1e-5)


def test_label_smoothed_nll_eps0_equals_nll_loss():
    torch.manual_seed(4)
    logprobs = torch.randn(4, 6, 9).log_softmax(-1)
    target = torch.randint(0, 9, (4, 6))
    loss, nll = label_smoothed_nll(logprobs, target, 0.0, ignore_index=3)
    want = F.nll_loss(logprobs.reshape(-1, 9), target.reshape(-1), ignore_index=3)
    torch.testing.assert_close(loss, want)
    torch.testing.assert_close(nll, want)
    loss, nll = label_smoothed_nll(logprobs, target, 0.0)
    torch.testing.assert_close(loss, F.nll_loss(logprobs.reshape(-1, 9), target.reshape(-1)))


def test_label_smoothed_nll_gradient_flows():
    torch.manual_seed(5)
    logits = torch.randn(2, 3, 5, requires_grad=True)
    target = torch.tensor([[1, 2, 0], [4, 0, 0]])
    loss, _ = label_smoothed_nll(logits.log_softmax(-1), target, 0.1, ignore_index=0)
    loss.backward()
    # ignored positions receive no gradient
    assert torch.all(logits.grad[0, 2] == 0) and torch.all(logits.grad[1, 1:] == 0)
    assert logits.grad[0, 0].abs().sum() > 0


def test_label_smoothed_nll_ignore_index_outside_vocab():
    torch.manual_seed(6)
    logprobs = torch.randn(3, 5).log_softmax(-1)
    target = torch.tensor([1, -100, 2])
    loss, nll = label_smoothed_nll(logprobs, target, 0.0, ignore_index=-100)
    torch.testing.assert_close(nll, F.nll_loss(logprobs, target, ignore_index=-100))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("rotary", [False, True])
def test_encoder_layer_ignores_padded_content(norm_first, rotary):
    torch.manual_seed(7)
    spec = LayerSpec(d_model=16, n_heads=4, d_ff=32, dropout=0.0, norm_first=norm_first, rotary=rotary)
    layer = EncoderLayer(spec).eval()
    x = torch.randn(2, 6, 16)
    keep = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    mask = keep[:, None, None, :]
    out = layer(x, mask)
    x2 = x.clone()
    x2[0, 4:] = 100 * torch.randn(2, 16)
    out2 = layer(x2, mask)
    torch.testing.assert_close(out2[0, :4], out[0, :4], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out2[1], out[1])
    # and without the mask, the padded content does leak into real positions
    assert not torch.allclose(layer(x2)[0, :4], layer(x)[0, :4], atol=1e-3)
    # Real positions equal the sentence run alone (no padding at all).
    alone = layer(x[:1, :4])
    torch.testing.assert_close(out[0, :4], alone[0], atol=1e-5, rtol=1e-5)

"""The autoregressive pixel model: causality, cached = uncached, sampling, bits/dim, quantisation."""

import math

import pytest
import torch

from transmodal.models.pixel_gpt import PixelGPT, bits_per_dim, config, sample_logits
from transmodal.vision.quantize import dequantize, kmeans_palette, quantize, uniform_palette


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    kw.setdefault("height", 6)
    kw.setdefault("width", 6)
    kw.setdefault("levels", 8)
    return PixelGPT(config("micro", **kw)).eval()


def test_changing_a_later_pixel_never_changes_an_earlier_prediction():
    model = tiny()
    x = torch.randint(0, 8, (2, 36), generator=torch.Generator().manual_seed(0))
    y = torch.tensor([3, 10])
    base = model(x, y)
    for t in (0, 7, 20, 35):
        changed = x.clone()
        changed[:, t] = (changed[:, t] + 3) % 8
        out = model(changed, y)
        torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1], rtol=0, atol=1e-6)  # rows ≤ t predict pixels ≤ t
        if t + 1 < 36:
            assert (out[:, t + 1] - base[:, t + 1]).abs().max() > 1e-4  # the next prediction does see it


def test_the_class_token_conditions_every_prediction():
    model = tiny()
    x = torch.randint(0, 8, (1, 36))
    a, b = model(x, torch.tensor([0])), model(x, torch.tensor([1]))
    assert (a[:, 0] - b[:, 0]).abs().max() > 1e-4
    torch.testing.assert_close(model(x, None), model(x, torch.tensor([model.no_class])))


def test_cached_logits_equal_uncached():
    model = tiny()
    x = torch.randint(0, 8, (3, 36))
    y = torch.tensor([1, 2, 10])
    torch.testing.assert_close(model.step_logits(x, y), model(x, y), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(temperature=0.7, top_k=3), dict(temperature=0.0)])
def test_cached_sampling_equals_uncached(kw):
    model = tiny(seed=2)
    prefix = torch.randint(0, 8, (3, 12))
    labels = torch.tensor([0, 4, 10])
    a = model.generate(labels=labels, prefix=prefix, generator=torch.Generator().manual_seed(7), **kw)
    b = model.generate(labels=labels, prefix=prefix, generator=torch.Generator().manual_seed(7), use_cache=False, **kw)
    assert torch.equal(a, b)
    assert torch.equal(a[:, :12], prefix)  # the kept rows are kept
    assert a.shape == (3, 36) and int(a.min()) >= 0 and int(a.max()) < 8


def test_unconditional_and_class_conditional_sampling():
    model = tiny()
    g = torch.Generator().manual_seed(0)
    assert model.generate(n=2, generator=g).shape == (2, 36)
    assert model.generate(labels=torch.tensor([3, 3, 5]), generator=g).shape == (3, 36)
    with pytest.raises(ValueError, match="batch size"):
        model.generate(n=2, labels=torch.tensor([1, 2, 3]))


def test_sampling_follows_the_softmax():
    logits = torch.tensor([[0.0, math.log(3.0), -1e9, math.log(6.0)]]).expand(30000, -1)
    draws = sample_logits(logits, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=4).float() / 30000
    torch.testing.assert_close(freq, torch.tensor([0.1, 0.3, 0.0, 0.6]), rtol=0, atol=0.015)
    top2 = sample_logits(logits, top_k=2, generator=torch.Generator().manual_seed(0))
    freq2 = torch.bincount(top2, minlength=4).float() / 30000
    torch.testing.assert_close(freq2, torch.tensor([0.0, 1 / 3, 0.0, 2 / 3]), rtol=0, atol=0.015)
    assert torch.equal(sample_logits(logits[:3], temperature=0), torch.full((3,), 3))


def test_bits_per_dim_is_the_mean_negative_log2_probability():
    logits = torch.randn(2, 5, 4)
    x = torch.randint(0, 4, (2, 5))
    p = torch.softmax(logits, -1).gather(-1, x[..., None]).squeeze(-1)
    torch.testing.assert_close(bits_per_dim(logits, x), -torch.log2(p).mean())
    assert abs(float(bits_per_dim(torch.zeros(1, 3, 16), torch.zeros(1, 3, dtype=torch.long))) - 4.0) < 1e-6  # uniform = log2 L


def test_one_training_step_lowers_the_loss():
    model = tiny().train()
    x = torch.randint(0, 8, (4, 36))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(5):
        loss = bits_per_dim(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_uniform_quantisation_rounds_to_the_nearest_level():
    palette = uniform_palette(5)  # 0, .25, .5, .75, 1
    x = torch.tensor([0.0, 0.1, 0.13, 0.37, 0.62, 0.88, 1.0])
    assert quantize(x, palette).tolist() == [0, 0, 1, 1, 2, 4, 4]
    levels = torch.arange(5)
    assert torch.equal(quantize(dequantize(levels, palette), palette), levels)


def test_kmeans_palette_finds_clusters():
    g = torch.Generator().manual_seed(0)
    values = torch.cat([0.1 + 0.01 * torch.randn(500, generator=g), 0.5 + 0.01 * torch.randn(300, generator=g),
                        0.9 + 0.01 * torch.randn(200, generator=g)])
    palette = kmeans_palette(values, 3)
    assert palette == sorted(palette)
    torch.testing.assert_close(torch.tensor(palette), torch.tensor([0.1, 0.5, 0.9]), rtol=0, atol=0.01)


def test_model_quantises_and_renders_with_its_palette():
    model = tiny(palette=[0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0])
    images = torch.rand(2, 1, 6, 6)
    q = model.quantize(images)
    assert q.shape == (2, 36)
    assert (model.render(q) - images).abs().max() <= 0.1 + 1e-6
    with pytest.raises(ValueError, match="palette"):
        config("micro", levels=4, palette=[0.0, 1.0])

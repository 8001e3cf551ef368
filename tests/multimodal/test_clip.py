"""CLIP: the contrastive loss against float64 arithmetic, the temperature clamp, zero-shot and retrieval math,
the text encoder's padding invariance, checkpoints, and the scene / caption data."""

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transmodal.models.clip import (
    CLIP, CLIPConfig, clamp_after_each_step, embed_images, retrieval_recall, tokenize, zero_shot_probs, zero_shot_weights,
)
from transmodal.nn.contrastive import contrastive_loss, similarity_logits
from transmodal.text.tokenizers import train_bpe
from transmodal.train import load_model, save_model
from transmodal.vision import captions, scenes

VISION = dict(image_size=16, in_chans=3, patch_size=8, d_model=16, n_layers=1, n_heads=2, d_ff=32, pool="mean")
WORDS = ["a photo of a red circle", "a small blue square on the left", "a large green triangle at the top",
         "a picture of a yellow cross", "an image of a purple shape in the centre"] * 4


@pytest.fixture(scope="module")
def tok():
    return train_bpe(WORDS, vocab_size=80, min_frequency=1)


def tiny_clip(tok, pool="mean", seed=0) -> CLIP:
    torch.manual_seed(seed)
    cfg = CLIPConfig(embed_dim=8, vision=VISION, vocab_size=tok.vocab_size, context_length=24, text_width=16,
                     text_layers=2, text_heads=2, text_pool=pool, pad_id=tok.pad_id, eos_id=tok.eos_id)
    return CLIP(cfg).eval()


# ------------------------------------------------------------------------------------------------ loss


def reference_loss(img: np.ndarray, txt: np.ndarray, scale: float) -> float:
    """The paper's pseudocode in float64: CE along rows (images) and along columns (texts), averaged."""
    logits = scale * img @ txt.T
    n = logits.shape[0]
    rows = [-logits[i, i] + math.log(sum(math.exp(v) for v in logits[i])) for i in range(n)]
    cols = [-logits[j, j] + math.log(sum(math.exp(logits[i, j]) for i in range(n))) for j in range(n)]
    return 0.5 * (sum(rows) / n + sum(cols) / n)


def test_contrastive_loss_equals_float64_reference():
    g = torch.Generator().manual_seed(1)
    img = F.normalize(torch.randn(7, 5, generator=g), dim=-1)
    txt = F.normalize(torch.randn(7, 5, generator=g), dim=-1)
    for scale in (1.0, 1 / 0.07, 100.0):
        got = contrastive_loss(img, txt, torch.tensor(scale))
        want = reference_loss(img.double().numpy(), txt.double().numpy(), scale)
        assert got.dtype == torch.float32
        assert float(got) == pytest.approx(want, rel=1e-5, abs=1e-5)
    # Not symmetric in its two terms separately: an asymmetric matrix must still give the average of both.
    logits = similarity_logits(img, txt, 10.0)
    row_only = F.cross_entropy(logits, torch.arange(7))
    assert float(contrastive_loss(img, txt, 10.0)) != pytest.approx(float(row_only), abs=1e-4)


def test_contrastive_loss_is_low_for_matching_pairs_and_checks_shapes():
    e = torch.eye(4)
    assert float(contrastive_loss(e, e, 100.0)) < 1e-3  # each pair far closer than every other
    assert float(contrastive_loss(e, e.flip(0), 100.0)) > 50.0
    with pytest.raises(ValueError, match="matching pairs"):
        contrastive_loss(torch.ones(3, 2), torch.ones(4, 2), 1.0)


# ---------------------------------------------------------------------------------------- temperature


def test_temperature_starts_at_one_over_0_07(tok):
    model = tiny_clip(tok)
    assert float(model.logit_scale.detach()) == pytest.approx(math.log(1 / 0.07), rel=1e-6)
    assert float(model.scale().detach()) == pytest.approx(1 / 0.07, rel=1e-5)
    assert "logit_scale" in model.no_weight_decay()


def test_logit_scale_is_clamped_at_100_after_each_step(tok):
    model = tiny_clip(tok)

    def push(with_hook: bool) -> float:
        with torch.no_grad():
            model.logit_scale.fill_(math.log(90.0))
        opt = torch.optim.SGD([model.logit_scale], lr=1.0)
        remove = clamp_after_each_step(opt, model) if with_hook else (lambda: None)
        (-model.logit_scale).backward()  # gradient −1: one step adds 1 to t (scale × e)
        opt.step()
        opt.zero_grad()
        remove()
        return float(model.scale().detach())

    assert push(with_hook=False) == pytest.approx(90.0 * math.e, rel=1e-5)  # the step itself overshoots
    assert push(with_hook=True) == pytest.approx(100.0, rel=1e-6)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(20.0))
    model.clamp_logit_scale_()
    assert float(model.scale().detach()) == pytest.approx(20.0, rel=1e-6)  # values below the bound are left alone


# -------------------------------------------------------------------------------------------- zero-shot


def test_zero_shot_weights_are_normalised_means_of_normalised_prompts(tok):
    model = tiny_clip(tok)
    classes, templates = ["red circle", "blue square", "yellow cross"], ["a photo of a {}", "a {} on the left"]
    w = zero_shot_weights(model, tok, classes, templates)
    for k, name in enumerate(classes):
        single = [model.encode_text(tokenize(tok, [t.format(name)], 24), normalize=False)[0].double() for t in templates]
        mean = sum(v / v.norm() for v in single) / len(single)
        assert torch.allclose(w[k].double(), mean / mean.norm(), atol=1e-5)
    assert torch.allclose(w.norm(dim=-1), torch.ones(3), atol=1e-6)
    with pytest.raises(ValueError, match="exactly one"):
        zero_shot_weights(model, tok, classes, ["no slot"])


def test_zero_shot_probs_are_softmax_of_scaled_cosines(tok):
    model = tiny_clip(tok)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(30.0))
    g = torch.Generator().manual_seed(2)
    img = F.normalize(torch.randn(5, 8, generator=g), dim=-1)
    cls = F.normalize(torch.randn(3, 8, generator=g), dim=-1)
    got = zero_shot_probs(model, img, cls)
    a, c = img.double().numpy(), cls.double().numpy()
    for i in range(5):
        z = np.array([30.0 * float(a[i] @ c[k]) for k in range(3)])
        want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        assert np.allclose(got[i].numpy(), want, atol=1e-5)


def test_retrieval_recall_by_hand():
    # Similarities (images × texts): image 0 → text 0 first; image 1 ranks text 1 second; image 2 ranks text 2 last.
    sim = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.5, 0.1], [0.7, 0.6, 0.2]])
    # Factor it as img @ txtᵀ with txt = I so retrieval_recall sees exactly sim.
    r = retrieval_recall(sim, torch.eye(3), ks=(1, 2))
    assert r["image_to_text@1"] == pytest.approx(1 / 3)
    assert r["image_to_text@2"] == pytest.approx(2 / 3)
    # Texts → images: column 0 picks image 0 (0.9); column 1 picks image 2 (0.6) then 1; column 2 picks image 2.
    assert r["text_to_image@1"] == pytest.approx(2 / 3)
    assert r["text_to_image@2"] == pytest.approx(1.0)
    # With groups, texts 1 and 2 are one caption: text 1's best image (2) now counts; images 1 and 2 still find text 0 first.
    r = retrieval_recall(sim, torch.eye(3), ks=(1,), groups=torch.tensor([0, 1, 1]))
    assert r["image_to_text@1"] == pytest.approx(1 / 3)
    assert r["text_to_image@1"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------ text encoder


@pytest.mark.parametrize("pool", ["mean", "eos"])
def test_text_embedding_does_not_depend_on_padding(tok, pool):
    model = tiny_clip(tok, pool)
    short, long = "a red circle", "a picture of a small blue square on the left"
    alone = model.encode_text(tokenize(tok, [short], 24))
    batch = tokenize(tok, [short, long], 24)
    assert (batch[0] == tok.pad_id).any()  # the short caption really is padded
    assert torch.allclose(model.encode_text(batch)[0], alone[0], atol=1e-5)


def test_tokenize_appends_eos_and_refuses_long_captions(tok):
    ids = tokenize(tok, ["a red circle", "a photo of a yellow cross"], 24)
    for row in ids:
        real = row[row != tok.pad_id]
        assert int(real[-1]) == tok.eos_id and int((real == tok.eos_id).sum()) == 1
    with pytest.raises(ValueError, match="at most 4"):
        tokenize(tok, ["a photo of a yellow cross"], 4)
    model = tiny_clip(tok)
    with pytest.raises(ValueError, match="EOS"):
        model.encode_text(torch.tensor([[5, 6, 7]]))


def test_config_rejects_a_classifier_head_and_unknown_fields():
    with pytest.raises(ValueError, match="head_hidden"):
        CLIPConfig(vision={**VISION, "head_hidden": 8})
    with pytest.raises(ValueError, match="ViTConfig does not know"):
        CLIPConfig(vision={**VISION, "colour": 3})


def test_checkpoint_round_trip_rebuilds_the_model(tok, tmp_path):
    model = tiny_clip(tok)
    with torch.no_grad():
        model.logit_scale.fill_(3.0)
    save_model(tmp_path / "clip", model)
    again = load_model(tmp_path / "clip")
    assert again.arch == "clip" and again.config == model.config
    x = torch.rand(3, 3, 16, 16)
    ids = tokenize(tok, WORDS[:3], 24)
    for a, b in zip(model(x, ids), again(x, ids)):
        assert torch.allclose(a, b, atol=1e-6)
    assert embed_images(again, x).shape == (3, 8)


# --------------------------------------------------------------------------------------------------- data


def test_scenes_are_deterministic_and_hold_out_their_combinations():
    items = scenes.sample_scenes(300, "train", seed=3)
    assert not any(s.held_out for s in items)
    assert all(s.held_out for s in scenes.sample_scenes(50, "held_out", seed=3))
    assert len(scenes.all_scenes("all")) == 200 and len(scenes.all_scenes("held_out")) == 50
    # Every word of a held-out pair is seen in training, only the pair is new.
    seen_shapes = {s.shape for s in items}
    seen_colours = {s.colour for s in items}
    for shape, colour in scenes.HELD_OUT:
        assert shape in seen_shapes and colour in seen_colours
    a, b = scenes.render(items[:10], seed=5), scenes.render(items[:10], seed=5)
    assert a.shape == (10, 3, 32, 32) and a.dtype == torch.uint8 and torch.equal(a, b)
    assert not torch.equal(a, scenes.render(items[:10], seed=6))


def test_scene_pictures_show_their_colour_and_place():
    s = scenes.Scene("square", "red", "large", "left")
    x = scenes.render([s], seed=0)[0].float()
    left, right = x[:, :, :12], x[:, :, 20:]
    assert left[0].max() > 180 and left[1].max() < 120  # red on the left…
    assert right.max() < 80  # …and nothing bright on the right
    assert scenes.caption(s) == "a large red square on the left"
    rng = random.Random(0)
    variants = {scenes.caption(s, rng) for _ in range(200)}
    assert any("red" not in v for v in variants) and any("square" not in v for v in variants)
    assert not any("red" not in v and "square" not in v for v in variants)


def test_extra_colours_show_every_shape_look_like_no_named_colour_and_name_no_label():
    extra = scenes.sample_scenes(400, "extra", seed=1)
    assert {s.colour for s in extra} == set(scenes.EXTRA_COLOURS) and {s.shape for s in extra} == set(scenes.SHAPES)
    assert len(scenes.extra_colour_scenes()) == 200 and not any(s.held_out for s in extra)
    assert not set(scenes.EXTRA_COLOURS) & set(scenes.COLOURS) and len(scenes.labels()) == 20
    for name, rgb in scenes.EXTRA_COLOURS.items():  # farther from every named colour than two jitters (±20)
        for other in scenes.COLOURS.values():
            assert max(abs(a - b) for a, b in zip(rgb, other)) > 40, name
    s = scenes.Scene("circle", "orange", "large", "centre")
    x = scenes.render([s], seed=0)[0].float()
    centre = x[:, 12:20, 12:20].mean((1, 2))
    assert centre[0] > 200 and 100 < centre[1] < 170 and centre[2] < 60
    assert "orange" in scenes.caption(s)
    with pytest.raises(ValueError, match="colour"):
        scenes.Scene("circle", "teal", "large", "centre")


def test_fashion_attributes_are_measured_from_pixels():
    img = torch.zeros(2, 6, 6, dtype=torch.uint8)
    img[0, 1:3, 1:5] = torch.tensor([100, 200, 100, 200], dtype=torch.uint8)  # 8 object pixels, striped
    img[1, 0:4, 0:4] = 250  # 16 flat bright pixels
    m = captions.measure(img)
    assert m[0].tolist() == pytest.approx([8 / 36, 150.0, 100.0])  # area, tone, |horizontal differences|
    assert m[1].tolist() == pytest.approx([16 / 36, 250.0, 0.0])
    th = torch.tensor([[0.3, 200.0, 50.0]])
    words = captions.attributes(img, torch.tensor([0, 0]), th)
    assert words == [("small", "dark", "patterned"), ("large", "light", "plain")]
    assert captions.caption("Ankle boot", words[0]) == "a photo of a small, dark, patterned Ankle boot"
    assert captions.fit_thresholds(img, torch.tensor([0, 0]), 1)[0, 1] == pytest.approx(150.0)  # lower median

"""The text+image decoder: mixed-sequence causality, cached = uncached, constrained drawing, image tokens, text."""

import pytest
import torch

from transmodal.models.mixed_decoder import BOI, BOS, EOI, PAD, MixedDecoder, config, draw_images, image_slots
from transmodal.train import load_model, save_model
from transmodal.vision.image_tokens import decode_codes, encode_images, fit_codebook, image_patches, nearest_code

WORDS = ["a", "an", "bag", "dark", "it", "left", "mirror", "move"]


def tiny(seed=0, image_size=8, **kw):
    """A tiny decoder over 8×8 images (4 codes of 4×4 patches), 16 codes, random codebook."""
    torch.manual_seed(seed)
    model = MixedDecoder(config("tiny", words=WORDS, image_size=image_size, max_len=40, **kw)).eval()
    with torch.no_grad():
        model.codebook.uniform_(0, 1)
    return model


def mixed_sequence(model, seed=0):
    """<bos> <boi> c c c c <eoi> move it left <boi> c c c c <eoi>, random codes, two rows."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, model.config.codes, (2, model.n_image * 2), generator=g) + model.code_offset
    n = model.n_image
    rows = []
    for r in range(2):
        rows.append([BOS, BOI, *codes[r, :n].tolist(), EOI, *model.text_ids("move it left"), BOI, *codes[r, n:].tolist(), EOI])
    return torch.tensor(rows)


def test_image_slots_count_codes_from_the_latest_boi():
    ids = torch.tensor([[BOS, 7, 8, BOI, 20, 21, 22, 23, EOI, 9, BOI, 30, 31, 32, 33, EOI, PAD]])
    want = [0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 1, 2, 3, 4, 0, 0]
    assert image_slots(ids, 4)[0].tolist() == want
    assert image_slots(ids, 2)[0].tolist() == [min(s, 2) for s in want]  # clamped to the image length
    # An image still open at the end of a prefix: the slots of the prefix are those of the whole sequence.
    assert image_slots(ids[:, :6], 4)[0].tolist() == want[:6]


def test_changing_a_later_token_never_changes_earlier_logits():
    model = tiny()
    ids = mixed_sequence(model)
    base = model(ids)
    replacements = {1: EOI, 3: model.code_offset + 5, 6: BOI, 8: BOS, 12: model.code_offset}  # codes, specials and words
    for t, new in replacements.items():
        changed = ids.clone()
        changed[:, t] = new
        out = model(changed)
        torch.testing.assert_close(out[:, :t], base[:, :t], rtol=0, atol=1e-6)  # positions < t never see token t
        assert (out[:, t] - base[:, t]).abs().max() > 1e-4  # position t does


def test_the_slot_embedding_reaches_the_logits():
    model = tiny()
    ids = mixed_sequence(model)
    with torch.no_grad():
        before = model(ids)
        model.slots.weight[1:].add_(torch.randn_like(model.slots.weight[1:]))  # change the vectors of slots 1.. only
        after = model(ids)
    torch.testing.assert_close(after[:, :2], before[:, :2])  # <bos> <boi>: slot 0
    assert (after[:, 2] - before[:, 2]).abs().max() > 1e-3  # the first code: slot 1


def test_cached_logits_equal_uncached_token_by_token_and_in_chunks():
    model = tiny(seed=1)
    ids = mixed_sequence(model, seed=3)
    full = model(ids)
    slots = image_slots(ids, model.n_image)
    cache = model.new_cache()
    steps = [model.forward_cached(ids[:, t : t + 1], cache, slots[:, t : t + 1]) for t in range(ids.shape[1])]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)
    cache = model.new_cache()
    first = model.forward_cached(ids[:, :5], cache)  # an empty cache: the slots are computed from ids
    rest = model.forward_cached(ids[:, 5:], cache, slots[:, 5:])
    torch.testing.assert_close(torch.cat([first, rest], dim=1), full, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="slots"):
        model.forward_cached(ids[:, :1], cache)  # continuing without slots is refused


@pytest.mark.parametrize("kw", [dict(), dict(temperature=0.7, top_k=3), dict(temperature=0.0), dict(top_p=0.5)])
def test_cached_drawing_equals_uncached(kw):
    model = tiny(seed=2)
    prompt = torch.tensor([model.caption_prompt("a dark bag")] * 3)
    a = draw_images(model, prompt, generator=torch.Generator().manual_seed(7), **kw)
    b = draw_images(model, prompt, generator=torch.Generator().manual_seed(7), use_cache=False, **kw)
    assert torch.equal(a, b)
    assert a.shape == (3, model.n_image) and int(a.min()) >= 0 and int(a.max()) < model.config.codes


def test_drawing_is_constrained_to_image_codes(monkeypatch):
    model = tiny(seed=4)
    first = model.code_offset
    plain_logits = model.head.logits

    def favour_text(h):  # every non-code token overwhelmingly likely: the constraint must still hold
        out = plain_logits(h).clone()
        out[..., :first] += 100.0
        return out

    monkeypatch.setattr(model.head, "logits", favour_text)
    prompt = torch.tensor([model.caption_prompt("a bag")] * 4)
    codes = draw_images(model, prompt, temperature=2.0, generator=torch.Generator().manual_seed(0))
    assert int(codes.min()) >= 0 and int(codes.max()) < model.config.codes
    # Greedy drawing = argmax over the code logits only, step by step.
    greedy = draw_images(model, prompt[:1], temperature=0.0)
    ids = prompt[:1]
    for _ in range(model.n_image):
        logits = model(ids)[:, -1, first : first + model.config.codes]
        ids = torch.cat([ids, logits.argmax(-1, keepdim=True) + first], dim=1)
    assert torch.equal(greedy, ids[:, -model.n_image :] - first)
    with pytest.raises(ValueError, match="<boi>"):
        draw_images(model, torch.tensor([[BOS, 4]]))


def test_text_and_edit_prompts():
    model = tiny()
    w = {word: 4 + i for i, word in enumerate(WORDS)}
    assert model.text_ids("A dark bag.") == [w["a"], w["dark"], w["bag"]]
    assert model.caption_prompt("a bag") == [BOS, w["a"], w["bag"], BOI]
    with pytest.raises(ValueError, match="unknown word.*purple"):
        model.text_ids("a purple bag")
    codes = torch.tensor([[0, 1, 2, 15]])
    off = model.code_offset
    assert off == 4 + len(WORDS) and model.config.vocab_size == off + 16
    assert model.edit_prompt(codes, "mirror it")[0].tolist() == [BOS, BOI, off, off + 1, off + 2, off + 15, EOI, w["mirror"], w["it"], BOI]


def test_save_and_load_keep_the_codebook_and_the_logits(tmp_path):
    model = tiny(seed=5)
    ids = mixed_sequence(model)
    save_model(tmp_path / "m", model)
    loaded = load_model(tmp_path / "m")
    assert loaded.arch == "mixed_decoder" and loaded.config.words == WORDS
    torch.testing.assert_close(loaded.codebook, model.codebook)
    torch.testing.assert_close(loaded(ids), model(ids))


def test_config_checks_its_vocabulary():
    with pytest.raises(ValueError, match="distinct"):
        config("tiny", words=["a", "a"])
    with pytest.raises(ValueError, match="vocab_size"):
        config("tiny", words=["a"], vocab_size=7)
    with pytest.raises(ValueError, match="patch"):
        config("tiny", image_size=10)


# --------------------------------------------------------------------------------------- image tokens
def test_nearest_code_matches_float64_brute_force():
    g = torch.Generator().manual_seed(0)
    x, cb = torch.rand(500, 16, generator=g), torch.rand(32, 16, generator=g)
    want = ((x.double()[:, None] - cb.double()[None]) ** 2).sum(-1).argmin(1)
    assert torch.equal(nearest_code(x, cb, chunk=77), want)


def test_encode_decode_round_trip_and_patch_order():
    cb = torch.stack([torch.full((16,), v) for v in (0.0, 0.25, 0.5, 1.0)])  # four flat grey patches
    codes = torch.tensor([[3, 0, 1, 2]])  # 8×8 image: top-left white, top-right black, bottom greys
    img = decode_codes(codes, cb, 4, 8, 8)
    assert img.shape == (1, 1, 8, 8)
    assert float(img[0, 0, :4, :4].min()) == 1.0 and float(img[0, 0, :4, 4:].max()) == 0.0
    assert float(img[0, 0, 4:, :4].mean()) == 0.25 and float(img[0, 0, 4:, 4:].mean()) == 0.5
    assert torch.equal(encode_images(img, cb, 4), codes)
    with pytest.raises(ValueError, match="codes must be in"):
        decode_codes(torch.tensor([[0, 1, 2, 4]]), cb, 4, 8, 8)
    with pytest.raises(ValueError, match="whole number"):
        encode_images(torch.zeros(1, 1, 10, 10), cb, 4)


def test_kmeans_finds_well_separated_clusters():
    g = torch.Generator().manual_seed(1)
    centres = torch.tensor([[0.0] * 4, [1.0] * 4, [0.0, 1.0, 0.0, 1.0]])
    data = centres.repeat_interleave(200, 0) + 0.01 * torch.randn(600, 4, generator=g)
    found = fit_codebook(data, 3, iters=20, seed=0)
    err = ((found[:, None] - centres[None]) ** 2).sum(-1)  # (found, true)
    assert sorted(err.argmin(1).tolist()) == [0, 1, 2] and float(err.min(1).values.max()) < 1e-3
    with pytest.raises(ValueError, match="distinct"):
        fit_codebook(torch.zeros(10, 4), 3)


def test_image_patches_are_raster_ordered():
    img = torch.arange(64.0).reshape(1, 1, 8, 8)
    p = image_patches(img, 4)
    assert p.shape == (4, 16)
    assert p[1].tolist() == img[0, 0, :4, 4:].flatten().tolist()  # second patch: top right

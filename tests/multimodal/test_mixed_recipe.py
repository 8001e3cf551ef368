"""The ``imagine`` recipe's pieces (captions, edits, tones, sequences, image NLL), the recipe end to end and the CLI."""

import json
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from transmodal.models.mixed_decoder import BOI, BOS, EOI, PAD, MixedDecoder, config
from transmodal.recipes.mixed_decoder import (
    INSTRUCTIONS, MixedDecoderRecipe, SequenceMaker, apply_edit, caption, image_nll, last_image_mask, object_grey,
    tone_thresholds, tone_tiers, vocabulary,
)
from transmodal.recipes.mixed_decoder import run as run_imagine
from transmodal.vision.datasets import FASHION_MNIST_CLASSES, fashion_mnist_dir


def model_28(seed=0):
    torch.manual_seed(seed)
    model = MixedDecoder(config("tiny", words=vocabulary(), codes=16)).eval()
    with torch.no_grad():
        model.codebook.copy_(torch.linspace(0, 1, 16)[:, None].expand(16, 16))  # flat grey patches
    return model


def test_captions_and_vocabulary():
    assert caption(9) == "an ankle boot" and caption(9, "dark") == "a dark ankle boot" and caption(8, "light") == "a light bag"
    assert caption(0) == "a t-shirt"
    words = vocabulary()
    assert words == sorted(set(words)) and {"ankle", "boot", "mirror", "darker", "an"} <= set(words)


def test_edits_by_hand():
    r = MixedDecoderRecipe(shift=2, darker=0.5)
    x = torch.zeros(1, 1, 4, 6)
    x[0, 0, 1, :] = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert apply_edit(x, "mirror it", r)[0, 0, 1].tolist() == pytest.approx([0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert apply_edit(x, "move it left", r)[0, 0, 1].tolist() == pytest.approx([0.3, 0.4, 0.5, 0.6, 0.0, 0.0])
    assert apply_edit(x, "move it right", r)[0, 0, 1].tolist() == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3, 0.4])
    assert apply_edit(x, "make it darker", r)[0, 0, 1].tolist() == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    assert apply_edit(x, "make it lighter", r)[0, 0, 1].tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    with pytest.raises(ValueError, match="unknown instruction"):
        apply_edit(x, "paint it red", r)


def test_tones_are_measured_per_class():
    base = torch.tensor([0.2, 0.5, 0.8])
    grey_wanted = torch.cat([base + 0.01 * k for k in range(10)])  # class k: three images, darkest first
    img = torch.zeros(30, 1, 2, 2)
    img[:, 0, 0, 0] = grey_wanted  # one object pixel each
    img[:, 0, 1, 1] = 0.05  # background: below the threshold, ignored
    grey = object_grey(img)
    assert grey.tolist() == pytest.approx(grey_wanted.tolist())
    labels = torch.arange(10).repeat_interleave(3)
    th = tone_thresholds(grey, labels)
    assert th[4].tolist() == pytest.approx([0.24 + 0.3 * 2 / 3, 0.54 + 0.3 / 3])  # linear interpolation: (n − 1)·q = 2/3, 4/3
    assert tone_tiers(grey, labels, th).tolist() == [0, 1, 2] * 10  # each class's own thirds
    th_missing = tone_thresholds(grey[labels != 7], labels[labels != 7])
    assert th_missing[7].tolist() == pytest.approx(torch.quantile(grey[labels != 7], torch.tensor([1 / 3, 2 / 3])).tolist())


def test_sequences_have_the_documented_layout():
    model = model_28()
    r = MixedDecoderRecipe(edit_share=0.5, attribute_share=1.0)
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(40, 28, 28, generator=g) * 255).to(torch.uint8)
    x = images.float().div(255)[:, None]
    codes = model.encode_images(x)
    labels = torch.arange(40) % 10
    tiers = torch.arange(40) % 3
    ids, task = SequenceMaker(model, r)(images, codes, labels, tiers, g)
    off, n = model.code_offset, model.n_image
    assert (task < 0).any() and (task >= 0).any()
    for j in range(40):
        row = ids[j][ids[j] != PAD].tolist()
        if task[j] < 0:
            text = model.text_ids(caption(int(labels[j]), ("dark", "", "light")[int(tiers[j])]))
            assert row == [BOS, *text, BOI, *(codes[j] + off).tolist(), EOI]
        else:
            instruction = INSTRUCTIONS[int(task[j])]
            target = model.encode_images(apply_edit(x[j : j + 1], instruction, r))[0]
            assert row == [BOS, BOI, *(codes[j] + off).tolist(), EOI, *model.text_ids(instruction), BOI,
                           *(target + off).tolist(), EOI]
    mask = last_image_mask(ids, n)
    assert mask.sum(1).tolist() == [n] * 40  # exactly the 49 codes of the requested image
    assert bool((ids[mask] >= off).all())


def test_image_nll_is_the_mean_code_cross_entropy():
    model = model_28(seed=3)
    r = MixedDecoderRecipe(edit_share=0.5)
    g = torch.Generator().manual_seed(1)
    images = (torch.rand(8, 28, 28, generator=g) * 255).to(torch.uint8)
    codes = model.encode_images(images.float().div(255)[:, None])
    ids, task = SequenceMaker(model, r)(images, codes, torch.arange(8), torch.zeros(8, dtype=torch.long), g)
    got = image_nll(model, [(ids, task)])
    with torch.no_grad():
        logp = F.log_softmax(model(ids[:, :-1]).double(), -1)  # float64 reference, position by position
    want = {"caption": [], "edit": []}
    for j in range(8):
        boi = [t for t in range(ids.shape[1]) if ids[j, t] == BOI][-1]
        for t in range(boi + 1, boi + 1 + model.n_image):
            want["caption" if task[j] < 0 else "edit"].append(-float(logp[j, t - 1, ids[j, t]]))
    for kind, values in want.items():
        assert got[f"{kind}_image_nll"] == pytest.approx(sum(values) / len(values), rel=1e-4)
    both = want["caption"] + want["edit"]
    assert got["image_nll"] == pytest.approx(sum(both) / len(both), rel=1e-4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    try:
        fashion_mnist_dir()
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not available here")
    from transmodal.models.vit import VisionTransformer
    from transmodal.models.vit import config as vit_config
    from transmodal.train import save_model

    root = tmp_path_factory.mktemp("imagine")
    torch.manual_seed(0)
    save_model(root / "vit", VisionTransformer(vit_config("micro")),
               extra_files={"labels.json": json.dumps({"labels": list(FASHION_MNIST_CLASSES), "background": "dark"})})
    out = root / "run"
    report = run_imagine(MixedDecoderRecipe(
        out=str(out), model="tiny", codes=16, codebook_images=50, kmeans_iters=3, batch_size=16, max_steps=2, eval_every=2,
        limit=64, valid_sequences=16, test_limit=32, samples_per_class=2, tone_samples=2, edit_images=4,
        classifier=str(root / "vit"), threads=1, progress=False))
    return out, report


def test_recipe_end_to_end(trained):
    out, report = trained
    test = report["test"]
    assert test["uniform_guess_nll"] == pytest.approx(math.log(16), abs=1e-4)
    assert 0 < test["caption_image_nll"] < 2 * math.log(16) and 0 < test["edit_image_nll"] < 2 * math.log(16)
    c = test["classifier"]
    assert 0 <= c["generated_accuracy"] <= 1 and len(c["generated_per_class"]) == 10
    assert sum(c["generated_per_class"].values()) / 10 == pytest.approx(c["generated_accuracy"], abs=1e-3)
    assert set(test["edits"]) == set(INSTRUCTIONS)
    for png in ("samples_by_class.png", "tones.png", "edits.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    again = run_imagine(MixedDecoderRecipe(out=str(out), evaluate_only=True, limit=64, test_limit=32, samples_per_class=2, tone_samples=2,
                                           edit_images=4, valid_sequences=16, classifier="none", threads=1, progress=False))
    assert again["test"]["image_nll"] == test["image_nll"] and "classifier" not in again["test"]
    assert again["steps_this_run"] == report["steps_this_run"] == 2
    with pytest.raises(ValueError, match="--classifier"):
        run_imagine(MixedDecoderRecipe(out=str(out), classifier=str(out / "nothing-here"), progress=False))


def test_imagine_and_edit_commands(trained, tmp_path, capsys):
    from transmodal.cli import main
    from transmodal.commands.imagine import edit_image, imagine_images

    out, _ = trained
    model = str(out / "best")
    args = SimpleNamespace(prompt="a dark ankle boot", samples=3, model=model, temperature=1.0, top_k=0, seed=0)
    first, second = imagine_images(args), imagine_images(args)
    assert first.shape == (3, 1, 28, 28) and torch.equal(first, second)  # same seed, same pictures
    main(["imagine", "a light bag", "--model", model, "--samples", "2", "--out", str(tmp_path / "grid.png")])
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    main(["edit", str(tmp_path / "grid.png"), "mirror it", "--model", model, "--out", str(tmp_path / "x.png")])
    main(["edit", str(tmp_path / "x.png"), "move it left", "--model", model, "--out", str(tmp_path / "y.png")])
    from PIL import Image

    assert Image.open(tmp_path / "y.png").size == (28, 28)
    src, edited = edit_image(SimpleNamespace(image=str(tmp_path / "x.png"), instruction="make it darker", model=model,
                                             temperature=0.0, top_k=0, seed=0, scale=1))
    assert src.shape == edited.shape == (1, 28, 28)
    assert main(["imagine", "a purple bag", "--model", model, "--out", str(tmp_path / "no.png")]) == 2
    assert "unknown word" in capsys.readouterr().err

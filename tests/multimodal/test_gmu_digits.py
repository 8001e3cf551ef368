"""The gmu-digits recipe: splits that keep test pairs unseen, typos, text ids, per-example noise, and a tiny
end-to-end run (every artefact written, the checkpoint reloads)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from transmodal.datasets import data_root
from transmodal.recipes.gmu_digits import TEXT_VOCAB, DigitsData, load_images, split_audio, split_images, text_ids, typo
from transmodal.recipes.gmu_digits_config import GmuDigitsRecipe

FSDD = data_root() / "fsdd-dev" / "recordings"
needs_fsdd = pytest.mark.skipif(not FSDD.is_dir(), reason="FSDD not found under $TRANSMODAL_DATA")


def test_text_ids_by_hand():
    # "one": o = 15, n = 14, e = 5 → unigrams 1 + c; bigrams 28 + 27·a + b over "#one#" (# = 0)
    assert text_ids("one") == [16, 15, 6, 28 + 15, 28 + 27 * 15 + 14, 28 + 27 * 14 + 5, 28 + 27 * 5]
    assert max(text_ids("zzz")) == 28 + 27 * 26 + 26 == TEXT_VOCAB - 1
    assert text_ids("o-e")[1] == 1  # not a letter → the "other" unigram


def test_typo_counts():
    rng = np.random.default_rng(0)
    assert typo("seven", 0, rng) == "seven"
    changed = [typo("seven", 3, rng) for _ in range(200)]
    assert sum(t != "seven" for t in changed) > 150
    assert all(2 <= len(t) <= 8 and t.isalpha() for t in changed)  # each edit changes the length by at most 1
    assert all(typo("a", 5, rng) for _ in range(50))  # never empty


def test_image_split_is_disjoint_and_stratified():
    _, labels = load_images()
    splits = split_images(labels, 0.3, 0.1)
    sets = {k: set(np.concatenate(v).tolist()) for k, v in splits.items()}
    assert not (sets["train"] & sets["test"]) and not (sets["train"] & sets["valid"]) and not (sets["valid"] & sets["test"])
    assert len(sets["train"]) + len(sets["valid"]) + len(sets["test"]) == len(labels) == 1797
    for d in range(10):
        assert all((labels[splits[k][d]] == d).all() for k in splits)
        assert abs(len(splits["test"][d]) / (labels == d).sum() - 0.3) < 0.01
    again = split_images(labels, 0.3, 0.1)
    assert all(np.array_equal(a, b) for a, b in zip(again["test"], splits["test"]))


def test_audio_split_holds_out_the_speaker():
    items = [{"path": f"/x/{d}_{s}_{i}.wav", "speaker": s} for d in range(10) for s in ("george", "lucas") for i in range(50)]
    splits = split_audio(items, "lucas", 5)
    assert {items[i]["speaker"] for i in splits["test"]} == {"lucas"} and len(splits["test"]) == 500
    assert {items[i]["speaker"] for i in splits["train"] + splits["valid"]} == {"george"}
    assert len(splits["valid"]) == 50 and all(items[i]["path"].endswith(("_45.wav", "_46.wav", "_47.wav", "_48.wav", "_49.wav")) for i in splits["valid"])
    with pytest.raises(ValueError, match="not among"):
        split_audio(items, "nobody", 5)


@needs_fsdd
def test_noise_follows_each_examples_level(tmp_path):
    data = DigitsData(GmuDigitsRecipe(limit=8))
    ex = data.draw("train", np.random.default_rng(0))
    ex["levels"][:4] = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 1.0]]
    batch = data.tensors(ex, np.arange(4), np.random.default_rng(1))
    clean = data.images[ex["image"][:4]][:, None]
    assert torch.equal(batch["image"][0], clean[0]) and torch.equal(batch["image"][2], clean[2])
    assert (batch["image"][1] - clean[1]).std().item() == pytest.approx(1.5, rel=0.3)
    assert (batch["image"][3] - clean[3]).std().item() == pytest.approx(0.75, rel=0.3)
    assert batch["audio"].shape[-1] == 40 and batch["audio_lengths"].max() == batch["audio"].shape[1]
    assert (batch["label"] == torch.from_numpy(data.image_labels[ex["image"][:4]])).all()  # image of the same digit


@needs_fsdd
def test_recipe_end_to_end(tmp_path):
    from transmodal.recipes.gmu_digits import run
    from transmodal.train import load_model

    recipe = GmuDigitsRecipe(out=str(tmp_path / "run"), methods="late,gmu3", epochs=1, limit=64, test_repeats=1,
                             encoder_dim=16, hidden=16, progress=False)
    report = run(recipe)
    out = Path(recipe.out)
    assert json.loads((out / "report.json").read_text())["test"]["methods"][0]["method"] == "late"
    rows = {r["method"]: r for r in report["test"]["methods"]}
    assert report["pairs"]["test_pairs"] == 500 and report["pairs"]["train_recordings"] == 64
    for row in rows.values():
        assert 0.0 <= row["test"]["accuracy"] <= 1.0 and 0.0 <= row["test"]["macro_f1"] <= 1.0
    assert set(rows["gmu3"]["missing"]) == {"image", "audio", "text"}
    assert set(rows["gmu3"]["mean_gates"]) == {"image", "audio", "text"}
    assert (out / "gate_vs_noise.png").stat().st_size > 0 and "| gmu3 |" in (out / "report.md").read_text()
    model = load_model(out / "gmu3" / "best")
    assert model.config.modalities == ("image", "audio", "text") and model.config.fusion == "gmu"

import json
import random

import pytest

from transmodal.datasets import dataset_dir
from transmodal.recipes.translation import TranslationRecipe, load_pairs, make_batches, run, split_pairs


def test_split_is_deterministic_and_keeps_sources_apart():
    pairs = load_pairs(dataset_dir("tatoeba-en-pt", download=False))
    assert len(pairs) > 30000
    a, b = split_pairs(pairs), split_pairs(list(reversed(pairs)))
    for name in ("train", "valid", "test"):
        assert sorted(a[name]) == sorted(b[name])
    train_src = {e for e, _ in a["train"]}
    assert not train_src & {e for e, _ in a["test"]}
    assert not train_src & {e for e, _ in a["valid"]}
    assert 0.02 < len(a["test"]) / len(pairs) < 0.04


def test_batches_respect_token_budget_and_cover_every_example():
    rng = random.Random(0)
    examples = [([5] * rng.randint(1, 30), [6] * rng.randint(2, 40)) for _ in range(500)]
    batches = make_batches(examples, max_tokens=256, pad=0, rng=random.Random(1))
    assert sum(src.shape[0] for src, _ in batches) == len(examples)
    for src, tgt in batches:
        assert tgt.numel() <= 256 or tgt.shape[0] == 1
        assert src.shape[0] == tgt.shape[0]
    # deterministic for a given seed, different for another
    again = make_batches(examples, 256, 0, random.Random(1))
    assert all((a[1] == b[1]).all() for a, b in zip(batches, again))


@pytest.mark.slow
def test_tiny_recipe_trains_evaluates_and_resumes(tmp_path):
    recipe = TranslationRecipe(out=str(tmp_path / "run"), model="tiny", vocab_size=400, max_tokens=512, max_steps=12,
                               warmup=4, lr=1.0, eval_every=6, save_every=6, limit=600, beam=2, progress=False, threads=1)
    report = run(recipe)
    assert set(report["test"]) == {"beam1", "beam2"}
    assert 0.0 <= report["test"]["beam2"]["bleu"] <= 100.0
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert saved["pairs"]["train_used"] == 600
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        assert (tmp_path / "run" / "last" / name).is_file()
    assert (tmp_path / "run" / "training_curves.png").is_file()
    # Running again finds the finished checkpoint and does not train further.
    steps_before = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    run(recipe)
    steps_after = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    assert steps_after == steps_before

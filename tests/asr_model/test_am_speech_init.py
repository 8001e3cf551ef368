"""Starting a speech recipe from another saved model: ``recipes.common.check_init`` / ``init_from``."""

from __future__ import annotations

import pytest
import torch

from am_testlib import save_checkpoint, tiny_model


def test_init_copies_every_weight_even_across_sample_rates(tmp_path):
    from transmodal.recipes.common import init_from

    saved = save_checkpoint(tmp_path / "ck", seed=1)  # 16 kHz
    model = tiny_model(seed=2, sample_rate=8000)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    init_from(model, str(saved))
    source = tiny_model(seed=1).state_dict()
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed and all(torch.equal(v, source[k]) for k, v in model.state_dict().items())
    assert model.frontend.filters.shape[0] > 0 and model.config.sample_rate == 8000  # front end stays this model's


def test_init_with_another_configuration_fails_clearly(tmp_path):
    from dataclasses import asdict

    from transmodal.asr.model import SpeechRecognizer, SpeechRecognizerConfig
    from transmodal.asr.vocab import CharVocab
    from transmodal.models.conformer import config
    from transmodal.recipes.common import init_from

    saved = save_checkpoint(tmp_path / "ck")
    enc = config("tiny", d_model=48, n_layers=1, n_heads=2, kernel_size=7)
    other = SpeechRecognizer(SpeechRecognizerConfig(encoder="conformer", encoder_config=asdict(enc),
                                                    vocab_size=CharVocab().vocab_size))
    with pytest.raises(ValueError, match="its weights do not fit this model"):
        init_from(other, str(saved))


@pytest.mark.parametrize("recipe", ["en_digits", "pt_quiz"])
def test_a_missing_init_fails_before_any_work(recipe, tmp_path):
    import importlib

    mod = importlib.import_module(f"transmodal.recipes.{recipe}")
    cls = {"en_digits": "EnDigitsRecipe", "pt_quiz": "PtQuizRecipe"}[recipe]
    config = getattr(importlib.import_module(f"transmodal.recipes.{recipe}_config"), cls)
    with pytest.raises(ValueError, match="not a saved model"):
        mod.run(config(out=str(tmp_path / "run"), init=str(tmp_path / "nowhere")))
    assert not (tmp_path / "run").exists()

"""The shipped en-pt model: present, loadable, and still translating held-out sentences well."""

from transmodal.hub import resolve, shipped_models
from transmodal.recipes.translation import load_pairs, score, split_pairs
from transmodal.datasets import dataset_dir
from transmodal.translator import Translator


def test_en_pt_is_shipped_and_is_the_translate_default():
    assert "en-pt" in shipped_models()
    assert (resolve("en-pt") / "tokenizer.json").is_file()


def test_shipped_model_translates_the_held_out_validation_split():
    # The recipe kept these sentences out of training; greedy BLEU was 41 when the model was shipped.
    valid = split_pairs(load_pairs(dataset_dir("tatoeba-en-pt", download=False)))["valid"]
    hyps = Translator.load("en-pt").translate([e for e, _ in valid], beam=1)
    assert score(hyps, [p for _, p in valid])["bleu"] > 30

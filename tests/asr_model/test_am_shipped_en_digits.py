"""The shipped `en-digits` model: digit words only in free decoding, and right on FSDD recordings it never heard.

Its report (``src/transmodal/assets/models/en-digits/report.json``) names what it was trained on; the recordings
kept back from training (the highest-numbered of each speaker and digit, ``valid_per_digit`` of them) are
recordings it never heard, by voices it did hear. Accuracy on voices it never heard is estimated by the recipe's
leave-one-speaker-out runs (docs/recipes/en-digits.md), which need training and are not repeated here.
"""

import json
from pathlib import Path

import pytest

import transmodal
from transmodal.datasets import data_root, load_fsdd

SHIPPED = Path(transmodal.__file__).parent / "assets" / "models" / "en-digits"


@pytest.fixture(scope="module")
def kept_back():
    if not (data_root() / "fsdd-dev").is_dir():
        pytest.skip("FSDD (fsdd-dev) is not under $TRANSMODAL_DATA")
    from transmodal.recipes.en_digits import heard_recordings_kept_back

    recipe = json.loads((SHIPPED / "report.json").read_text())["recipe"]
    items = load_fsdd(data_root() / recipe["data"])
    speakers = set(recipe["train_speakers"].split(","))
    keep = heard_recordings_kept_back(items, speakers, recipe["valid_per_digit"])
    return [items[i] for i in sorted(keep)]


def test_free_decoding_of_unheard_recordings(kept_back):
    from transmodal.asr.model import Transcriber
    from transmodal.audio.synth.texts import EN_DIGITS

    assert len(kept_back) >= 100
    t = Transcriber.load("en-digits")
    assert t.lexicon == list(EN_DIGITS)
    results = t.transcribe([it["path"] for it in kept_back])
    assert all(r.text == "" or set(r.text.split()) <= set(EN_DIGITS) for r in results)
    right = sum(r.text == it["text"] for r, it in zip(results, kept_back)) / len(kept_back)
    assert right >= 0.9, f"{right:.1%} of {len(kept_back)} kept-back recordings transcribed exactly"
    chars = Transcriber.load("en-digits", use_lexicon=False).transcribe([it["path"] for it in kept_back[:20]])
    assert [r.path for r in chars] == [r.path for r in results[:20]]

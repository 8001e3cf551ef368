"""The en-digits recipe end to end on a sliver of FSDD (2 steps): split, report, calibration, checkpoint."""

import json
from pathlib import Path

import pytest

from transmodal.datasets import data_root


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not (data_root() / "fsdd-dev").is_dir():
        pytest.skip("FSDD (fsdd-dev) is not under $TRANSMODAL_DATA")
    from transmodal.recipes.en_digits import run
    from transmodal.recipes.en_digits_config import EnDigitsRecipe

    out = tmp_path_factory.mktemp("digits")
    r = run(EnDigitsRecipe(out=str(out), model="tiny", d_model=32, n_layers=1, n_heads=2, kernel_size=7, dropout=0.0,
                           batch_size=8, max_steps=2, warmup=1, eval_every=2, limit=24, valid_limit=40, progress=False))
    return out, r


def test_speaker_held_out_and_report(report):
    out, r = report
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(r))
    assert r["train_speakers"] == ["george", "jackson"]
    assert r["heldout_kind"] == "unheard speakers"
    assert set(r["heldout"]["per_speaker"]) == {"lucas"}  # never a training speaker
    assert r["heldout"]["n"] == r["heldout"]["per_speaker"]["lucas"]["n"] <= 40
    for key in ("free_accuracy", "free_chars_accuracy", "closed_set_accuracy"):
        assert 0.0 <= r["heldout"][key] <= 1.0
    assert r["calibration"]["temperature"] > 0
    assert (out / "reliability.png").is_file()


def test_checkpoint_transcribes_with_calibration(report):
    out, r = report
    from pathlib import Path

    from transmodal.asr.model import Transcriber
    from transmodal.audio.synth.texts import EN_DIGITS

    ckpt = Path(r["checkpoint"])
    assert (ckpt / "calibration.json").is_file() and (ckpt / "vocab.json").is_file()
    t = Transcriber.load(ckpt)
    assert t.calibrator is not None and t.calibrator.temperature == pytest.approx(r["calibration"]["temperature"])
    wav = sorted((data_root() / "fsdd-dev" / "recordings").glob("3_lucas_*.wav"))[0]
    res = t.transcribe([wav], choices=list(EN_DIGITS))[0]
    assert res.text in EN_DIGITS and 0 < res.confidence <= 1
    assert t.lexicon == list(EN_DIGITS)  # free decoding spells digit words only
    free = t.transcribe([wav])[0].text
    assert free == "" or set(free.split()) <= set(EN_DIGITS)


def test_kept_back_recordings_are_the_highest_numbered_of_each_speaker_and_digit():
    from transmodal.recipes.en_digits import heard_recordings_kept_back

    items = [{"speaker": s, "text": d, "index": i} for s in ("george", "lucas") for d in ("zero", "one") for i in (3, 0, 2, 1)]
    kept = heard_recordings_kept_back(items, {"george"}, 2)
    assert sorted((items[i]["speaker"], items[i]["text"], items[i]["index"]) for i in kept) == [
        ("george", "one", 2), ("george", "one", 3), ("george", "zero", 2), ("george", "zero", 3)]
    assert heard_recordings_kept_back(items, {"george"}, 0) == set()
    assert len(heard_recordings_kept_back(items, {"george", "lucas"}, 1)) == 4
    assert len(heard_recordings_kept_back(items, {"george"}, 9)) == 8  # more than there are: all of them


def test_every_speaker_training_needs_recordings_kept_back(tmp_path):
    if not (data_root() / "fsdd-dev").is_dir():
        pytest.skip("FSDD (fsdd-dev) is not under $TRANSMODAL_DATA")
    from transmodal.recipes.en_digits import run
    from transmodal.recipes.en_digits_config import EnDigitsRecipe

    with pytest.raises(ValueError, match="--valid-per-digit"):
        run(EnDigitsRecipe(out=str(tmp_path / "a"), train_speakers="george,jackson,lucas", progress=False))
    r = run(EnDigitsRecipe(out=str(tmp_path / "b"), train_speakers="george,jackson,lucas", valid_per_digit=1, model="tiny",
                           d_model=32, n_layers=1, n_heads=2, kernel_size=7, dropout=0.0, batch_size=8, max_steps=1, warmup=1,
                           eval_every=1, limit=16, progress=False))
    assert r["train_speakers"] == ["george", "jackson", "lucas"]
    assert r["heldout_kind"].startswith("unheard recordings of the training speakers")
    assert {sp: v["n"] for sp, v in r["heldout"]["per_speaker"].items()} == {"george": 10, "jackson": 10, "lucas": 10}


def test_read_speech_loader_reads_every_transcript_format(tmp_path):
    import numpy as np
    import soundfile

    from transmodal.datasets import load_read_speech

    def wav(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), np.zeros(1600, dtype=np.float32), 16000)

    lj, cards, jfk = tmp_path / "lj", tmp_path / "cards", tmp_path / "jfk"
    wav(lj / "LJ1.wav")
    (lj / "metadata.csv").write_text("LJ1|Printing, in 1840.|Printing, in eighteen forty.\nLJ2|no audio|no audio\n")
    wav(cards / "001.wav")
    (cards / "cards.transcription").write_text("<s> ten of clubs  </s> (001)\n")
    wav(jfk / "jfk.wav")
    (jfk / "transcription.tsv").write_text("jfk.wav\tAnd so, my fellow Americans!\nspeech.raw\tnot audio we read\n")
    items = load_read_speech(tmp_path)
    assert [(i["speaker"], Path(i["path"]).name, i["text"]) for i in items] == [
        ("cards", "001.wav", "ten of clubs"), ("jfk", "jfk.wav", "and so my fellow americans"),
        ("lj", "LJ1.wav", "printing in eighteen forty")]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError):
        load_read_speech(empty)


def test_negative_repeat_counts_are_refused(tmp_path):
    from transmodal.recipes.en_digits import run
    from transmodal.recipes.en_digits_config import EnDigitsRecipe

    with pytest.raises(ValueError, match="read_speech_repeat"):
        run(EnDigitsRecipe(out=str(tmp_path), read_speech_repeat=-1))


def test_bad_speed_factors_fail_before_any_work(tmp_path):
    from transmodal.recipes.en_digits import run
    from transmodal.recipes.en_digits_config import EnDigitsRecipe
    from transmodal.recipes.pt_quiz import run as run_pt_quiz
    from transmodal.recipes.pt_quiz_config import PtQuizRecipe

    with pytest.raises(ValueError, match="speed_factors='0.9,fast'"):
        run(EnDigitsRecipe(out=str(tmp_path / "en"), speed_factors="0.9,fast"))
    with pytest.raises(ValueError, match="speed_factors='3'"):
        run_pt_quiz(PtQuizRecipe(out=str(tmp_path / "pt"), speed_factors="3"))
    assert not (tmp_path / "pt").exists()  # refused before the corpus or the run folder

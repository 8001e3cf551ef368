"""AnswerRecognizer plumbing with a tiny stand-in model: candidates scored, the best mapped back through the
normaliser, confidence summed per meaning, silence, free text, model versions and clear errors."""

import threading

import pytest
import soundfile
import torch
from quiz_testlib import save_tiny_checkpoint, spell, tiny_speech_model, tone

from transmodal.asr.closed_set import Calibrator
from transmodal.asr.model import Transcriber
from transmodal.asr.vocab import CharVocab
from transmodal.audio.errors import AudioError
from transmodal.quiz.demo import demo_form
from transmodal.quiz.normalize import candidates
from transmodal.quiz.speech import AnswerRecognizer, ModelNotAvailable, version_of

FORM = demo_form()
YN, AGE, RATING, TEXT = (FORM.question(n) for n in ("consultou", "idade", "satisfacao", "comentario"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("m") / "pt-quiz-tiny")


def scripted(text: str, calibrator=None, calls=None, frames_per_char: int = 3):
    """A recogniser whose model 'hears' ``text`` (its log-probs spell it), counting model calls."""
    t = Transcriber(tiny_speech_model(), CharVocab(), calibrator)

    def log_probs(waves):
        if calls is not None:
            calls.append(len(waves))
        return [spell(t.vocab, text, frames_per_char)]

    t.log_probs = log_probs
    return AnswerRecognizer(t, model_version="scripted@0")


@pytest.mark.parametrize("said, question, value", [
    ("com certeza", YN, "sim"), ("claro que não", YN, "nao"), ("nunca", YN, "nao"), ("isso mesmo", YN, "sim"),
    ("vinte e três", AGE, 23), ("cem", AGE, 100), ("cento e vinte", AGE, 120),
    ("péssimo", RATING, "muito_ruim"), ("regular", RATING, "regular"), ("mais ou menos", RATING, "regular"),
])
def test_best_candidate_is_mapped_back(said, question, value):
    calls = []
    r = scripted(said, calls=calls).recognise(question, tone(), 16000)
    assert calls == [1]  # log-probs computed once for all candidates
    assert r.transcript == said and not r.silent and r.model_version == "scripted@0"
    assert (r.interpretation.status, r.interpretation.value) == ("value", value)
    assert 0.5 < r.confidence <= 1.0


def test_from_meaning_covers_every_candidate():
    from transmodal.quiz.normalize import interpret, meaning
    from transmodal.quiz.speech import from_meaning

    for q in (YN, AGE, RATING, FORM.question("espera"), FORM.question("mes_consulta")):
        for phrase, meant in candidates(q):
            built = from_meaning(q, phrase, meant)
            assert meaning(built) == meant
            said = interpret(q, phrase)
            assert (built.value, built.code, built.label) == (said.value, said.code, said.label)


@pytest.mark.parametrize("said, code", [("não sei", "dont_know"), ("prefiro não responder", "refused")])
def test_codes_from_speech(said, code):
    r = scripted(said).recognise(RATING, tone(), 16000)
    assert (r.interpretation.status, r.interpretation.code) == ("code", code)


def test_confidence_sums_the_phrases_of_one_meaning_and_uses_the_calibrator():
    # long enough for every phrase to fit, and so hot that the posterior is nearly uniform
    hot = scripted("sim", Calibrator(temperature=1e4), frames_per_char=12).recognise(YN, tone(), 16000)
    yes_phrases = [p for p, m in candidates(YN) if m == "sim"]
    n = len(candidates(YN)) + 1  # + the no-answer path
    assert hot.interpretation.value == "sim"
    assert hot.confidence == pytest.approx(len(yes_phrases) / n, abs=0.02)
    cold = scripted("sim", Calibrator(temperature=0.05)).recognise(YN, tone(), 16000)
    assert cold.confidence > 0.99


def test_no_speech_path_is_no_answer():
    r = scripted("").recognise(YN, tone(), 16000)  # every frame blank: noise without words
    assert r.interpretation.status == "none" and r.transcript == "" and not r.silent


def test_silence_skips_the_model():
    calls = []
    rec = scripted("sim", calls=calls)
    for wave in (torch.zeros(8000), tone(amplitude=1e-5)):
        r = rec.recognise(YN, wave, 16000)
        assert r.silent and r.interpretation.status == "none" and r.confidence == 0.0
    assert calls == []


def test_free_text_is_greedy_and_flagged_for_review():
    r = scripted("demorou muito").recognise(TEXT, tone(), 16000)
    assert r.transcript == "demorou muito"
    assert (r.interpretation.status, r.interpretation.value, r.interpretation.review) == ("value", "demorou muito", True)
    assert 0.0 < r.confidence <= 1.0


def test_real_tiny_model_end_to_end(checkpoint, tmp_path):
    rec = AnswerRecognizer(str(checkpoint))
    assert rec.model_version == version_of(checkpoint)
    assert rec.model_version.startswith("pt-quiz-tiny@") and len(rec.model_version.split("@")[1]) == 12
    r = rec.recognise(RATING, tone(0.6, 8000), 8000)  # resampled to the model's 16 kHz
    assert r.transcript in [p for p, _ in candidates(RATING)] + [""]
    assert 0.0 <= r.confidence <= 1.0
    wav = tmp_path / "a.wav"
    soundfile.write(str(wav), tone(0.4, 22050).numpy(), 22050)
    f = rec.recognise_file(YN, wav)
    assert f.model_version == rec.model_version and 0.0 <= f.confidence <= 1.0
    short = rec.recognise(YN, tone(0.01), 16000)  # shorter than the model's window: padded, not an error
    assert 0.0 <= short.confidence <= 1.0


def test_version_changes_with_the_weights(checkpoint, tmp_path):
    other = save_tiny_checkpoint(tmp_path / "pt-quiz-tiny", seed=1)
    assert version_of(other) != version_of(checkpoint)
    assert version_of(other).split("@")[0] == version_of(checkpoint).split("@")[0]


def test_loads_once_across_threads(checkpoint, monkeypatch):
    loads = []
    real = Transcriber.load

    def counting(path, *a, **kw):
        loads.append(path)
        return real(path, *a, **kw)

    monkeypatch.setattr(Transcriber, "load", staticmethod(counting))
    rec = AnswerRecognizer(str(checkpoint))
    threads = [threading.Thread(target=lambda: rec.model_version) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(loads) == 1


def test_missing_model_is_a_clear_error():
    rec = AnswerRecognizer("pt-quiz-that-does-not-exist")
    with pytest.raises(ModelNotAvailable, match="model pt-quiz-that-does-not-exist not available"):
        rec.recognise(YN, tone(), 16000)
    with pytest.raises(FileNotFoundError):  # what a server turns into "503, answer by tapping"
        rec.model_version


@pytest.mark.parametrize("wave, rate, fragment", [
    (torch.tensor([0.1, float("nan"), 0.2]), 16000, "NaN"),
    (torch.zeros(2, 1000), 16000, "mono"),
    (torch.zeros(1000, dtype=torch.int16), 16000, "float"),
    (torch.zeros(0), 16000, "no samples"),
    (tone(), 0, "positive"),
    (torch.zeros(16000 * 61), 16000, "more than"),
    ([0.1, 0.2], 16000, "torch.Tensor"),
])
def test_bad_audio_is_a_clear_error(wave, rate, fragment):
    with pytest.raises(AudioError, match=fragment):
        scripted("sim").recognise(YN, wave, rate)


def test_bad_file_names_the_file(checkpoint, tmp_path):
    bad = tmp_path / "resposta.wav"
    bad.write_bytes(b"this is not audio at all")
    with pytest.raises(AudioError, match="resposta.wav"):
        AnswerRecognizer(str(checkpoint)).recognise_file(YN, bad)


def test_note_takes_no_answer():
    with pytest.raises(ValueError, match="note"):
        scripted("sim").recognise(FORM.question("encerramento"), tone(), 16000)

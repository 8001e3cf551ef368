"""The shipped `pt-quiz` model on voices it never heard: MBROLA br4 (a recorded human voice, evaluation only) and the
espeak-ng holdout variant pt-br+f4, through the closed-set scorer the questionnaire uses.

Its full held-out evaluation (every answer set × clean / telephone / noisy) is in its ``report.json`` and in
docs/recipes/pt-quiz.md; here a fixed sample of answers is synthesised afresh (other speeds and pitches than the
report's) and must be scored right.
"""

import json
import shutil
from pathlib import Path

import pytest

import transmodal
from transmodal.audio.synth.texts import PT_FREQUENCY, PT_LIKERT, PT_YES_NO, pt_number_texts

SHIPPED = Path(transmodal.__file__).parent / "assets" / "models" / "pt-quiz"
NUMBERS = pt_number_texts()
SAMPLE = [(t, PT_YES_NO) for t in PT_YES_NO] + [(t, PT_LIKERT) for t in PT_LIKERT] + [(t, PT_FREQUENCY) for t in PT_FREQUENCY] \
    + [(t, NUMBERS) for t in ("zero", "sete", "doze", "dezessete", "vinte e três", "trinta", "quarenta e quatro",
                              "sessenta e seis", "setenta e dois", "noventa e nove", "cem", "cento e um", "cento e vinte")]


def synthesise(voice: str, tmp_path: Path) -> list[str]:
    from transmodal.audio.synth import EspeakNG

    engine = EspeakNG()
    if not engine.available() or voice not in engine.voices():
        pytest.skip(f"{voice} is not installed (scripts/setup.sh installs it)")
    paths = []
    for i, (text, _) in enumerate(SAMPLE):
        path = tmp_path / f"{i}.wav"
        engine.synthesize(text, voice, path, speed=0.9 + 0.2 * (i % 3) / 2, pitch=1.0 + 0.05 * (i % 2))
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("voice", ["mb-br4", "pt-br+f4"])
def test_closed_set_answers_of_an_unheard_voice(voice, tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from transmodal.asr.model import Transcriber

    report = json.loads((SHIPPED / "report.json").read_text())
    assert f"espeak-ng:{voice}" in report["holdout_voices"]  # the shipped model never trained on it
    paths = synthesise(voice, tmp_path)
    t = Transcriber.load("pt-quiz")
    wrong = []
    for path, (text, answers) in zip(paths, SAMPLE):
        got = t.transcribe([path], choices=list(answers))[0].text
        if got != text:
            wrong.append(f"{text} → {got}")
    assert len(wrong) <= 1, f"{voice}: {len(wrong)} of {len(SAMPLE)} answers wrong: {wrong}"

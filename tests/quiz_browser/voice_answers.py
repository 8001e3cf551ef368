"""Spoken answers for a questionnaire, synthesised offline: what a simulated respondent says to each
question (by its type and choices, as the API describes it) and the WAV that says it.

Used by the browser end-to-end test (fed to chromium's fake microphone) and by
``benchmarks/bench_quiz_load.py`` (uploaded by simulated respondents).

``spoken_answer(question)`` → ``SpokenAnswer(text, expected)``: ``text`` is said as people say it
(numbers in words), ``expected`` the value the server should store, or None where the recogniser may
fairly fall back to a code (answers the ``pt-quiz`` model never heard in training: free text, dates,
choice labels outside its answer sets).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

LEAD_S = 0.3    # silence before the words
TRAIL_S = 2.0   # silence after them: the page stops recording after 1.2 s of quiet
RATE = 16000

# Answer phrases the speech model was trained on (transmodal.audio.synth.texts), in order of preference:
# "ruim" also opens the demo's follow-up question ("o que mais precisa melhorar?").
PREFERRED = ("ruim", "raramente", "sim", "muito bom", "bom", "regular", "muito ruim", "sempre", "quase sempre",
             "às vezes", "nunca", "não")
INTEGER_ANSWER = 32
DATE_ANSWER = ("março de dois mil e vinte e seis", "2026-03")
TEXT_ANSWER = "o atendimento foi bom"


@dataclass(frozen=True)
class SpokenAnswer:
    text: str
    expected: object | None   # value to find stored (choice name, int, "YYYY-MM"), None = any value or code


def say_digits(label: str) -> str:
    """Lower-case label with every number written in words ("De 15 a 30 minutos" → "de quinze a trinta minutos")."""
    from transmodal.quiz.numbers import number_words

    return re.sub(r"\d+", lambda m: number_words(int(m.group())), label.lower())


def spoken_answer(question: dict) -> SpokenAnswer:
    """What to say to `question` (a dict with type, choices [{name, label}], as GET /next returns it)."""
    kind = question["type"]
    if kind == "integer":
        from transmodal.quiz.numbers import number_words
        return SpokenAnswer(number_words(INTEGER_ANSWER), INTEGER_ANSWER)
    if kind == "date":
        return SpokenAnswer(DATE_ANSWER[0], None)
    if kind == "text":
        return SpokenAnswer(TEXT_ANSWER, None)
    choices = question.get("choices") or []
    if not choices:
        raise ValueError(f"question {question.get('name')!r} of type {kind!r} has no choices to say")
    by_label = {c["label"].strip().lower(): c for c in choices}
    for phrase in PREFERRED:
        if phrase in by_label:
            return SpokenAnswer(phrase, by_label[phrase]["name"])
    return SpokenAnswer(say_digits(choices[0]["label"]), None)


def synthesise(text: str, out_dir: Path, voice: str = "pt-br") -> Path:
    """`text` spoken by espeak-ng as a 16 kHz mono 16-bit WAV with silence around it (cached by text+voice)."""
    import torch

    from transmodal.audio.io import Audio, load_audio, save_audio
    from transmodal.audio.synth.engines import EspeakNG

    out_dir = Path(out_dir)
    name = hashlib.sha1(f"{voice}|{text}".encode()).hexdigest()[:16]
    out = out_dir / f"{name}.wav"
    if out.exists():
        return out
    raw = EspeakNG().synthesize(text, voice, out_dir / f"{name}.raw.wav")
    speech = load_audio(raw, sample_rate=RATE).samples
    pad = lambda seconds: torch.zeros(1, int(seconds * RATE))  # noqa: E731
    save_audio(out, Audio(torch.cat([pad(LEAD_S), speech, pad(TRAIL_S)], dim=1), RATE), subtype="PCM_16")
    Path(raw).unlink(missing_ok=True)
    return out

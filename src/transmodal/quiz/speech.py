r"""Spoken answers → :class:`Recognition`: the speech model's closed-set scoring plus the normaliser.

For one recording and one question :class:`AnswerRecognizer`:

1. checks the audio (1-D, finite, a sane rate, at most :data:`MAX_ANSWER_SECONDS`) and resamples it to
   the model's rate; a level below ``silence_dbfs`` (RMS, default −60 dBFS) is *silence*: no model
   call, ``Recognition(silent=True)`` with interpretation status "none";
2. computes the CTC log-probabilities once;
3. closed questions (those for which :func:`~transmodal.quiz.normalize.candidates` lists phrases):
   scores every phrase with :class:`~transmodal.asr.closed_set.ClosedSetScorer`, temperature from the
   model's calibrator, plus the *no answer* path (all blanks: noise, silence); the confidence of an
   answer is the summed posterior of all phrases meaning it ("sim", "claro", "com certeza" …), and
   the best phrase goes through :func:`~transmodal.quiz.normalize.interpret` so the answer is exactly
   what the text path would give;
4. other questions (free text, full dates, very wide number ranges): greedy CTC transcript,
   interpreted; free text comes back ``review=True``, its confidence the (uncalibrated) mean best-frame
   probability.

``model_version`` is the model directory's name and the first 12 hex digits of the SHA-256 of its
``model.safetensors``, stored with every answer.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from transmodal.audio.errors import AudioError, check_sample_rate
from transmodal.audio.io import level_dbfs
from transmodal.quiz.form import Question
from transmodal.quiz.normalize import Interpretation, candidates, date_label, interpret, meaning

DEFAULT_MODEL = "pt-quiz"
MAX_ANSWER_SECONDS = 60.0
SILENCE_DBFS = -60.0


class ModelNotAvailable(FileNotFoundError, ValueError):
    """The speech model is not installed (e.g. ``pt-quiz`` before it has been trained and shipped).

    Both a FileNotFoundError (a missing file: a server answers 503 and falls back to buttons) and a
    ValueError (the ``transmodal`` command prints its message instead of a traceback)."""


@dataclass
class Recognition:
    """What was heard: the transcript (the winning phrase for closed questions), its meaning, the
    confidence (0..1), the model that heard it, and whether the audio was silent."""

    transcript: str
    interpretation: Interpretation
    confidence: float
    model_version: str
    silent: bool = False


class AnswerRecognizer:
    """Recognises spoken answers with a CTC speech model (a shipped name, a checkpoint directory, or a
    ready :class:`~transmodal.asr.model.Transcriber`). The model is loaded on first use, once, under a lock."""

    def __init__(self, model="pt-quiz", silence_dbfs: float = SILENCE_DBFS, model_version: str | None = None):
        self._source = model
        self._silence_dbfs = float(silence_dbfs)
        self._version = model_version
        self._transcriber = None
        self._lock = threading.Lock()

    # --- the model ---------------------------------------------------------------------------------------
    @property
    def transcriber(self):
        """The loaded :class:`~transmodal.asr.model.Transcriber` (loads it on first use)."""
        if self._transcriber is None:
            with self._lock:
                if self._transcriber is None:
                    self._transcriber, self._version = self._load()
        return self._transcriber

    @property
    def model_version(self) -> str:
        self.transcriber
        return self._version  # type: ignore[return-value]

    def _load(self):
        from transmodal.asr.model import Transcriber
        from transmodal.hub import resolve

        if isinstance(self._source, Transcriber):
            return self._source, self._version or "in-memory-" + _weights_hash(self._source.model)
        try:
            path = resolve(str(self._source))
        except ValueError as e:
            raise ModelNotAvailable(
                f"model {str(self._source)} not available: {e}. Train it with `transmodal train pt-quiz` and ship the "
                f"result under src/transmodal/assets/models/pt-quiz, or pass the path of a speech checkpoint") from None
        transcriber = Transcriber.load(path)
        return transcriber, self._version or version_of(path)

    # --- recognition ---------------------------------------------------------------------------------------
    def recognise_file(self, question: Question, path: str | Path) -> Recognition:
        """:meth:`recognise` on an audio file (WAV, FLAC, OGG …); unreadable files raise AudioError naming them."""
        from transmodal.audio.io import load_audio

        rate = self.transcriber.model.sample_rate
        audio = load_audio(path, sample_rate=rate, max_seconds=MAX_ANSWER_SECONDS)
        return self.recognise(question, audio.samples[0], rate)

    @torch.no_grad()
    def recognise(self, question: Question, wave: Tensor, sample_rate: int) -> Recognition:
        """The answer in ``wave`` (N,) float samples in [−1, 1] at ``sample_rate`` Hz to ``question``."""
        if question.type == "note":
            raise ValueError(f"question {question.name!r} is a note: it takes no answer")
        wave = self._check(wave, sample_rate)
        t = self.transcriber
        version = self._version or ""
        if level_dbfs(wave) < self._silence_dbfs:
            return Recognition("", Interpretation("none"), 0.0, version, silent=True)
        rate = t.model.sample_rate
        if sample_rate != rate:
            from transmodal.audio.resample import resample

            wave = resample(wave, sample_rate, rate).clamp(-1.0, 1.0)
        if wave.shape[-1] < t.model.min_samples():
            wave = torch.nn.functional.pad(wave, (0, t.model.min_samples() - wave.shape[-1]))
        lp = t.log_probs([wave])[0]  # (T', V)
        pairs = self._speakable(candidates(question), t.vocab)
        if pairs:
            return self._closed(question, lp, pairs, version)
        return self._free(question, lp, version)

    def _check(self, wave, sample_rate) -> Tensor:
        check_sample_rate(sample_rate, "answer sample rate")
        if not isinstance(wave, Tensor):
            raise AudioError(f"the answer audio must be a torch.Tensor of samples, got {type(wave).__name__}")
        if wave.dim() == 2 and wave.shape[0] == 1:
            wave = wave[0]
        if wave.dim() != 1:
            raise AudioError(f"the answer audio must be mono, shape (N,); got shape {tuple(wave.shape)}")
        if not wave.is_floating_point():
            raise AudioError(f"the answer audio must hold float samples in [-1, 1], got {wave.dtype}")
        if wave.numel() == 0:
            raise AudioError("the answer audio contains no samples; nothing was recorded")
        if not bool(torch.isfinite(wave).all()):
            raise AudioError("the answer audio has NaN or Inf samples; the recording is corrupt, record it again")
        if wave.numel() / sample_rate > MAX_ANSWER_SECONDS:
            raise AudioError(f"the answer is {wave.numel() / sample_rate:.1f} s long, more than the "
                             f"{MAX_ANSWER_SECONDS:g} s an answer may take")
        return wave.detach().to(torch.float32).cpu().clamp(-1.0, 1.0)

    @staticmethod
    def _speakable(pairs: list[tuple[str, str]], vocab) -> list[tuple[str, str]]:
        """The candidate phrases the model's vocabulary can spell, first of each spelling kept."""
        out, seen = [], set()
        for phrase, meant in pairs:
            try:
                spelled = vocab.normalize(phrase)
            except ValueError:
                continue
            if spelled and spelled not in seen:
                seen.add(spelled)
                out.append((phrase, meant))
        return out

    def _closed(self, question: Question, lp: Tensor, pairs: list[tuple[str, str]], version: str) -> Recognition:
        from transmodal.asr.closed_set import ClosedSetScorer

        t = self.transcriber
        scorer = ClosedSetScorer([p for p, _ in pairs], t.vocab, temperature=t.calibrator or 1.0, allow_none=True)
        r = scorer(lp[None], torch.tensor([lp.shape[0]]))[0]
        if r.best >= len(pairs) or not math.isfinite(r.scores[r.best]):  # the all-blank path: noise, no speech
            return Recognition("", Interpretation("none"), float(r.confidence), version)
        phrase, meant = pairs[r.best]
        confidence = sum(p for p, (_, m) in zip(r.posterior, pairs) if m == meant)
        interpretation = interpret(question, phrase)
        if meaning(interpretation) != meant:  # odd labels can defeat the normaliser: trust the candidate's meaning
            interpretation = from_meaning(question, phrase, meant)
        return Recognition(phrase, interpretation, min(1.0, float(confidence)), version)

    def _free(self, question: Question, lp: Tensor, version: str) -> Recognition:
        from transmodal.asr.decode import greedy_decode

        t = self.transcriber
        if lp.shape[0] == 0:
            return Recognition("", Interpretation("none"), 0.0, version)
        ids = greedy_decode(lp[None], torch.tensor([lp.shape[0]]))[0]
        text = t.vocab.decode(ids).strip()
        confidence = float(lp.max(dim=-1).values.exp().mean())
        interpretation = interpret(question, text)
        if question.type == "text":
            interpretation.review = True
        return Recognition(text, interpretation, confidence if math.isfinite(confidence) else 0.0, version)


def from_meaning(question: Question, phrase: str, meant: str) -> Interpretation:
    """The interpretation a candidate stands for (its meaning string from :func:`candidates`), exact match."""
    if meant.startswith("code:"):
        return Interpretation("code", code=meant[5:], score=1.0, matched=phrase, label=phrase)
    if question.type == "integer":
        return Interpretation("value", value=int(meant), score=1.0, matched=phrase, label=meant)
    if question.has_choices:
        return Interpretation("value", value=meant, score=1.0, matched=phrase, label=question.choice(meant).label)
    if question.type == "date":
        return Interpretation("value", value=meant, score=1.0, matched=phrase, label=date_label(meant))
    return Interpretation("value", value=meant, score=1.0, matched=phrase, label=phrase)


def version_of(path: str | Path) -> str:
    """``NAME@HASH``: the checkpoint directory's name and the first 12 hex digits of its weights' SHA-256."""
    from transmodal.train.checkpoint import WEIGHTS

    path = Path(path)
    weights = path / WEIGHTS
    if not weights.is_file():
        raise ModelNotAvailable(f"{path}: no {WEIGHTS}; not a saved model")
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{path.name}@{digest.hexdigest()[:12]}"


def _weights_hash(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]

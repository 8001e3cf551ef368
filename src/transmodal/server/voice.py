"""Spoken answers: run the recogniser, apply the confidence policy, and store, confirm or re-ask.

The recogniser is whatever :func:`transmodal.server.app.create_app` was given (an object with
``recognise(question, wave, sample_rate) -> Recognition``), by default
``transmodal.quiz.speech.AnswerRecognizer("pt-quiz")``, built on first use. When the speech model is not
installed the answer endpoints say so with 503 and the page falls back to buttons.
"""

from __future__ import annotations

import threading

from fastapi import HTTPException
from sqlalchemy.orm import Session

from transmodal.quiz.expressions import check_constraint
from transmodal.quiz.form import Question
from transmodal.server import flow
from transmodal.server.models import QuizSession

OUT_OF_RANGE = "Esse valor não é possível para esta pergunta. Vamos tentar de novo."


class SpeechService:
    """Holds the recogniser; builds the default one lazily (once, thread-safe).

    At most ``max_concurrent`` recognitions run at once: the web server's thread pool would otherwise start one
    per request, and forty at a time on a few cores make every answer slow. A request that finds no free slot
    within ``wait_s`` seconds gets 503 with ``Retry-After``.
    """

    def __init__(self, recognizer=None, model: str = "pt-quiz", max_concurrent: int = 2, wait_s: float = 20.0):
        self._recognizer = recognizer
        self._model = model
        self._lock = threading.Lock()
        self._error: str | None = None
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._wait_s = wait_s

    def recognizer(self):
        if self._recognizer is None:
            with self._lock:
                if self._recognizer is None and self._error is None:
                    try:
                        from transmodal.quiz.speech import AnswerRecognizer
                        self._recognizer = AnswerRecognizer(model=self._model)
                    except (ImportError, FileNotFoundError, RuntimeError, ValueError) as e:
                        self._error = str(e)
        if self._recognizer is None:
            raise HTTPException(503, f"speech recognition is not available on this server ({self._error}); "
                                     "answer by tapping an option")
        return self._recognizer

    def recognise(self, question: Question, wave, sample_rate: int):
        """Recognition of one answer; 503 when the model cannot be loaded, 422 when it refuses the audio."""
        from transmodal.audio.errors import AudioError
        recognizer = self.recognizer()
        if not self._slots.acquire(timeout=self._wait_s):
            raise HTTPException(503, "the server is busy recognising other answers; send the recording again in a "
                                     "few seconds", headers={"Retry-After": "5"})
        try:
            return recognizer.recognise(question, wave, sample_rate)
        except (FileNotFoundError, ImportError) as e:
            raise HTTPException(503, f"speech recognition is not available on this server ({e}); "
                                     "answer by tapping an option") from None
        except AudioError as e:
            raise HTTPException(422, f"the recording could not be used: {e}") from None
        finally:
            self._slots.release()


def none_interpretation(error: str = ""):
    """What "nothing understood" looks like to the policy (silence, noise, a rejected read-back, a value
    out of range — ``error`` then says why, in Portuguese)."""
    from transmodal.quiz.normalize import Interpretation
    return Interpretation(status="none", error=error)


def normaliser_version() -> str:
    from transmodal.quiz.normalize import NORMALISER_VERSION
    return NORMALISER_VERSION


def apply_recognition(db: Session, sess: QuizSession, q: Question, state: dict, rec, voice: str) -> dict:
    """Decide accept / confirm / re-ask / give up for one recognised attempt, update the state, store if final."""
    from transmodal.quiz.policy import decide

    interp = rec.interpretation
    attempt = int(state["attempt"])
    silent = bool(getattr(rec, "silent", False))
    confidence = min(max(float(rec.confidence or 0.0), 0.0), 1.0)
    understood = interp.status != "none" and not silent
    answers = flow.stored_answers(db, sess.id)
    if understood and interp.status == "value" and q.constraint and \
            not check_constraint(q, interp.value, flow.relevance_values(answers)):
        # the normaliser checks constraints alone; this catches those that depend on other answers
        interp, understood = none_interpretation(q.constraint_message or OUT_OF_RANGE), False
    if silent:
        interp = none_interpretation()
    d = decide(q, confidence, attempt, interp, silent=silent)
    prompt = d.prompt
    result = {"decision": d.action, "understood": understood, "transcript": rec.transcript,
              "value": interp.value if understood else None, "code": interp.code if understood else None,
              "label": interp.label if understood else None, "confidence": confidence, "attempt": attempt,
              "level": d.level if d.action == "reask" else None, "prompt": prompt,
              "audio_url": flow.prompt_url(db, prompt, voice, sess.id), "stored": False}
    common = dict(transcript=rec.transcript, confidence=confidence, mode="voice",
                  model_version=rec.model_version, normaliser_version=normaliser_version())
    if d.action == "accept":
        if interp.status == "code":
            flow.store_answer(db, sess, q, state, code=interp.code, label=interp.label, **common)
        else:
            flow.store_answer(db, sess, q, state, value=interp.value, label=interp.label, **common)
        result["stored"] = True
    elif d.action == "give_up":
        flow.store_answer(db, sess, q, state, code="dont_know", label="Não sei", **common)
        result.update(stored=True, value=None, code="dont_know", label="Não sei")
    elif d.action == "confirm":
        state["pending"] = {"value": interp.value, "code": interp.code, "label": interp.label,
                            "transcript": rec.transcript, "confidence": confidence,
                            "model_version": rec.model_version, "prompt": prompt, "audio_url": result["audio_url"]}
        flow.save_state(sess, state)
    else:
        state.update(attempt=attempt + 1, pending=None,
                     reask={"level": d.level, "prompt": prompt, "audio_url": result["audio_url"]})
        flow.save_state(sess, state)
    return result


def apply_confirmation(db: Session, sess: QuizSession, q: Question, state: dict, accept: bool, voice: str) -> dict:
    """The respondent's answer to a read-back: store the pending value, or count a failed attempt."""
    from transmodal.quiz.policy import decide

    pending = state.get("pending")
    if not pending:
        raise HTTPException(409, f"nothing is waiting for confirmation on {q.name!r}")
    attempt = int(state["attempt"])
    if accept:
        kwargs = dict(label=pending["label"], transcript=pending["transcript"], confidence=pending["confidence"],
                      mode="voice", model_version=pending["model_version"], normaliser_version=normaliser_version())
        if pending.get("code"):
            flow.store_answer(db, sess, q, state, code=pending["code"], **kwargs)
        else:
            flow.store_answer(db, sess, q, state, value=pending["value"], **kwargs)
        return {"decision": "accept", "stored": True, "value": pending["value"], "code": pending.get("code"),
                "label": pending["label"], "attempt": attempt}
    d = decide(q, 0.0, attempt, none_interpretation())
    result = {"decision": d.action, "understood": False, "transcript": pending["transcript"], "value": None,
              "code": None, "label": None, "confidence": pending["confidence"], "attempt": attempt,
              "level": d.level if d.action == "reask" else None, "prompt": d.prompt,
              "audio_url": flow.prompt_url(db, d.prompt, voice, sess.id), "stored": False}
    if d.action == "give_up":
        flow.store_answer(db, sess, q, state, code="dont_know", label="Não sei", transcript=pending["transcript"],
                          confidence=pending["confidence"], mode="voice", model_version=pending["model_version"],
                          normaliser_version=normaliser_version())
        result.update(stored=True, code="dont_know", label="Não sei")
    else:
        state.update(attempt=attempt + 1, pending=None,
                     reask={"level": d.level, "prompt": d.prompt, "audio_url": result["audio_url"]})
        flow.save_state(sess, state)
    return result

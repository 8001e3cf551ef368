"""What to do with an answer: accept it, read it back and confirm, ask again, or give up.

:func:`decide` looks at how sure we are — ``min(confidence, interpretation.score)``, the recogniser's
posterior and the normaliser's match quality — and at how many times the question was asked:

====================  ===========================================================================
sure ≥ ``accept``     ``accept`` (default 0.85)
sure ≥ ``confirm``    ``confirm``: read the answer back ("Entendi: Muito bom. Está certo?"), default 0.5
otherwise             ``reask``, escalating with each failed attempt:
                      after attempt 1 → ``rephrase`` (say it again, with a hint of the expected answer),
                      after attempts 2 … max_attempts − 1 → ``list`` (read out the options),
                      after attempt ``max_attempts`` → ``buttons`` (last chance: tap or type the answer)
after that            ``give_up``: stored as the code ``dont_know`` (the question was asked, no answer came)
====================  ===========================================================================

Silence, noise, a value the constraint rejects and a "no" to a read-back are all *no answer*
(``interpretation.status == "none"``), never a wrong answer: they lead to a re-ask, whatever the
confidence. With the default ``max_attempts = 3`` a person is heard up to three times and then offered
buttons once before the questionnaire moves on.

The thresholds and ``max_attempts`` can be set per question in the XLSForm ``survey`` sheet with the
columns ``accept_confidence``, ``confirm_confidence`` and ``max_attempts`` (see :class:`Question`).
All prompts are Brazilian Portuguese.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from transmodal.quiz.expressions import integer_bounds
from transmodal.quiz.form import Choice, Question
from transmodal.quiz.normalize import Interpretation

ACTIONS = ("accept", "confirm", "reask", "give_up")
LEVELS = ("rephrase", "list", "buttons")
GIVE_UP_CODE = "dont_know"

# The yes/no question asked after a read-back ("Está certo?"), interpreted like any other yes/no answer.
CONFIRMATION = Question(name="_confirmacao", type="yes_no", label="Está certo?",
                        choices=[Choice("sim", "Sim"), Choice("nao", "Não")])


@dataclass(frozen=True)
class Policy:
    """Confidence thresholds (0..1) and the number of spoken attempts before the buttons and giving up."""

    accept: float = 0.85
    confirm: float = 0.5
    max_attempts: int = 3

    def __post_init__(self):
        if not 0.0 <= self.confirm <= self.accept <= 1.0:
            raise ValueError(f"need 0 <= confirm <= accept <= 1; got confirm={self.confirm}, accept={self.accept}")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be a whole number >= 1; got {self.max_attempts!r}")

    def for_question(self, question: Question) -> "Policy":
        """This policy with the question's own overrides (XLSForm columns) applied."""
        accept = question.accept_confidence if question.accept_confidence is not None else \
            max(self.accept, question.confirm_confidence or 0.0)
        confirm = question.confirm_confidence if question.confirm_confidence is not None else min(self.confirm, accept)
        attempts = question.max_attempts if question.max_attempts is not None else self.max_attempts
        return replace(self, accept=accept, confirm=confirm, max_attempts=attempts)


@dataclass
class Decision:
    """``action`` (accept | confirm | reask | give_up), ``level`` for a re-ask (rephrase | list | buttons,
    else None), ``prompt`` — the Portuguese text to say and show — and ``code`` ("dont_know" on give_up)."""

    action: str
    level: str | None
    prompt: str
    code: str | None = None


def decide(question: Question, confidence: float, attempt: int, interpretation: Interpretation,
           policy: Policy = Policy(), *, silent: bool = False) -> Decision:
    """The next step after attempt number ``attempt`` (1 = the first answer) at ``question``.

    ``confidence``: the recogniser's posterior (1.0 for a tap or typed text); ``silent``: the audio held
    no speech (only changes the wording of the re-ask).
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt must be a whole number >= 1 (1 = the first answer); got {attempt!r}")
    if not 0.0 <= float(confidence) <= 1.0:
        raise ValueError(f"confidence must lie in [0, 1]; got {confidence!r}")
    p = policy.for_question(question)
    if interpretation.status in ("value", "code"):
        sure = min(float(confidence), float(interpretation.score))
        if sure >= p.accept:
            return Decision("accept", None, f"Entendi: {_said(interpretation)}.")
        if sure >= p.confirm:
            return Decision("confirm", None, f"Entendi: {_said(interpretation)}. Está certo?")
    elif interpretation.status != "none":
        raise ValueError(f"unknown interpretation status {interpretation.status!r}")
    if attempt > p.max_attempts:
        return Decision("give_up", None, "Tudo bem, vamos para a próxima pergunta.", code=GIVE_UP_CODE)
    level = "rephrase" if attempt == 1 and p.max_attempts > 1 else "buttons" if attempt >= p.max_attempts else "list"
    return Decision("reask", level, _reask_prompt(question, level, interpretation, silent))


def _said(i: Interpretation) -> str:
    if i.status == "code":
        return "você prefere não responder" if i.code == "refused" else "você não sabe"
    return i.label or str(i.value)


def _reask_prompt(q: Question, level: str, i: Interpretation, silent: bool) -> str:
    opening = "Não ouvi a sua resposta." if silent else (i.error or "Desculpe, não entendi.")
    if level == "rephrase":
        return f"{opening} {q.label} {expected(q)}".strip()
    if level == "list":
        return f"{opening} {q.label} {options(q)}".strip()
    if q.has_choices:
        return f"{opening} Toque na sua resposta na tela: {options(q, spoken=False)}"
    return f"{opening} Se preferir, escreva a sua resposta na tela. {expected(q)}".strip()


def expected(q: Question) -> str:
    """A short hint of the answer expected, in Portuguese."""
    if q.type == "yes_no":
        return "Responda sim ou não."
    if q.type == "integer":
        return "Diga só o número."
    if q.type == "date":
        return "Diga o mês e o ano, por exemplo: março de 2026." if q.partial_date else \
            "Diga o dia, o mês e o ano, por exemplo: 14 de março de 2026."
    if q.has_choices:
        return "Escolha uma das opções."
    return ""


def options(q: Question, spoken: bool = True) -> str:
    """The options read out ("As opções são: Sim ou Não.") or, for buttons, listed."""
    if q.has_choices:
        labels = [c.label for c in q.choices]
        joined = ", ".join(labels[:-1]) + f" ou {labels[-1]}" if len(labels) > 1 else labels[0]
        return f"As opções são: {joined}." if spoken else f"{', '.join(labels)}."
    if q.type == "integer":
        lo, hi = integer_bounds(q)
        return f"Diga um número de {lo} a {hi}."
    return expected(q)

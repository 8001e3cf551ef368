"""The three consent purposes, the words used to ask for each, and reading a spoken yes/no.

A prompt's wording is versioned (``prompt_version``): change the text → bump the version, so each stored
consent proves exactly what the person heard. Purposes are asked in the order of :data:`PURPOSES`;
``store_answers`` is required — refusing it ends the session and erases it.
"""

from __future__ import annotations

from dataclasses import dataclass

from transmodal.quiz.form import Choice, Question


@dataclass(frozen=True)
class Purpose:
    name: str
    prompt: str
    version: str
    required: bool


PURPOSES = (
    Purpose("store_answers",
            "Podemos guardar as suas respostas para melhorar o atendimento? Elas são usadas só em resultados "
            "por unidade de saúde, sem o seu nome. Responda sim ou não.", "store_answers-v1", True),
    Purpose("keep_audio",
            "Podemos guardar a gravação da sua voz por até trinta dias, para conferir as respostas? "
            "Responda sim ou não.", "keep_audio-v1", False),
    Purpose("contact_again",
            "A equipe de saúde pode entrar em contato com você de novo sobre esta pesquisa? Responda sim ou não.",
            "contact_again-v1", False),
)
BY_NAME = {p.name: p for p in PURPOSES}
NOT_UNDERSTOOD = "Não entendi. Responda sim ou não, ou toque num botão."


def purpose(name: str) -> Purpose:
    """The purpose called ``name``; ValueError listing the valid ones otherwise."""
    if name not in BY_NAME:
        raise ValueError(f"purpose must be one of {', '.join(BY_NAME)}, got {name!r}")
    return BY_NAME[name]


def yes_no_question(p: Purpose) -> Question:
    """The consent prompt as a yes/no question, so speech and normalisation treat it like any other."""
    return Question(name=f"consent_{p.name}", type="yes_no", label=p.prompt, required=True,
                    choices=[Choice("sim", "Sim"), Choice("nao", "Não")])


MIN_SCORE = 0.9           # consent is a legal act: only a clear "sim"/"não" counts, never a fuzzy guess
MIN_CONFIDENCE = 0.7      # nor a recording the speech model is unsure about


def granted_from(interpretation, confidence: float = 1.0) -> bool | None:
    """True/False for a clearly recognised "sim"/"não"; None when unclear (the page asks again or shows buttons).

    Also used for a spoken reply to a read-back ("Está certo?")."""
    if getattr(interpretation, "status", "none") != "value":
        return None
    if interpretation.score < MIN_SCORE or confidence < MIN_CONFIDENCE:
        return None
    return {"sim": True, "nao": False}.get(str(interpretation.value))


def next_purpose(answered: set[str]) -> str | None:
    """The first purpose without a decision yet, None when all have one."""
    return next((p.name for p in PURPOSES if p.name not in answered), None)

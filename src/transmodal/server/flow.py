"""A respondent's way through a form: which question is next, and storing an answer.

Everything here runs inside one database transaction opened by the caller (see ``routes/respondent.py``),
so an answer row, the session's progress and a kept recording are committed together or not at all.

The session's ``state`` JSON holds the progress on the current question::

    {"question": name, "attempt": 1, "reask": None | {level, prompt, audio_url},
     "pending": None | {value, code, label, transcript, confidence, model_version, prompt, audio_url},
     "seen": [names of notes already shown]}
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

from fastapi import HTTPException
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from transmodal.quiz.expressions import check_constraint, is_relevant
from transmodal.quiz.form import Form, Question
from transmodal.server.models import Answer, Consent, FormRow, Link, PromptText, QuizSession, utcnow

CODES = ("dont_know", "refused")
DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def load_session(db: Session, session_id: str, secret: str | None) -> QuizSession:
    """The session, checked against its secret: 404 unknown, 403 wrong or missing ``X-Session-Secret``."""
    sess = db.get(QuizSession, session_id)
    if sess is None:
        raise HTTPException(404, "no such session (it may have ended or been deleted); open the link again")
    if not secret or not hmac.compare_digest(sess.secret_hash, secret_hash(secret)):
        raise HTTPException(403, "wrong or missing X-Session-Secret header for this session")
    return sess


def session_form(db: Session, sess: QuizSession) -> Form:
    """The session's form, as stored now (rebuilt per request: cheap, and never stale after a re-import)."""
    row = db.get(FormRow, db.get(Link, sess.link_id).form_pk)
    return Form.from_dict(row.definition)


def consents(db: Session, session_id: str) -> dict[str, bool]:
    rows = db.scalars(select(Consent).where(Consent.session_id == session_id))
    return {c.purpose: c.granted for c in rows}


def stored_answers(db: Session, session_id: str) -> dict[str, Answer]:
    return {a.question: a for a in db.scalars(select(Answer).where(Answer.session_id == session_id))}


def relevance_values(answers: dict[str, Answer]) -> dict[str, object]:
    """Answers as ``relevant`` expressions see them: the value, or "" for a code (não sei, refused)."""
    return {name: ("" if a.code else a.value) for name, a in answers.items()}


def current_question(form: Form, answers: dict[str, Answer], seen: list[str]) -> Question | None:
    """The first question not answered (or, for a note, not shown) whose ``relevant`` holds; None at the end."""
    values = relevance_values(answers)
    for q in form.questions:
        if q.name in answers or q.name in seen:
            continue
        if q.relevant and not is_relevant(q, values):
            continue
        return q
    return None


def progress_state(sess: QuizSession, question: Question | None) -> dict:
    """The session's state, reset when the current question has changed since it was written."""
    state = dict(sess.state or {})
    state.setdefault("seen", [])
    name = question.name if question else None
    if state.get("question") != name:
        state.update(question=name, attempt=1, reask=None, pending=None)
    return state


def save_state(sess: QuizSession, state: dict) -> None:
    sess.state = dict(state)          # a new object, so SQLAlchemy sees the JSON column changed


def require_current(db: Session, sess: QuizSession, name: str) -> tuple[Form, Question, dict]:
    """(form, question, state) when ``name`` is the question the respondent should be answering; 409 otherwise."""
    if sess.status == "consenting":
        raise HTTPException(409, "consent is not complete yet; answer the consent prompts first")
    form = session_form(db, sess)
    try:
        form.question(name)
    except KeyError:
        raise HTTPException(404, f"this form has no question {name!r}") from None
    answers = stored_answers(db, sess.id)
    if name in answers:
        raise HTTPException(409, f"question {name!r} is already answered")
    q = current_question(form, answers, (sess.state or {}).get("seen", []))
    if q is None or q.name != name:
        now = q.name if q else "none (the questionnaire is finished)"
        raise HTTPException(409, f"question {name!r} is not the current question; the current one is {now}")
    return form, q, progress_state(sess, q)


def insert_ignore(db: Session, model, **values) -> None:
    """INSERT that does nothing when a row with the same unique key exists (also under concurrent inserts)."""
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(db.get_bind().dialect.name)
    if insert is None:
        raise RuntimeError(f"unsupported database {db.get_bind().dialect.name!r}; use SQLite or PostgreSQL")
    db.execute(insert(model).values(**values).on_conflict_do_nothing())


def prompt_url(db: Session, text: str, voice: str, session_id: str | None = None) -> str | None:
    """A URL for the spoken version of ``text``; the text is remembered so the WAV is made on first request."""
    if not text:
        return None
    sha = hashlib.sha256(f"{session_id or ''}\0{voice}\0{text}".encode()).hexdigest()
    insert_ignore(db, PromptText, sha=sha, text=text, session_id=session_id)
    return f"/api/prompts/{sha}.wav"


def clean_value(q: Question, value, answers: dict[str, Answer]) -> tuple[object, str]:
    """A clicked/typed answer checked against the question: (stored value, label); 400 with the reason otherwise."""
    if q.has_choices:
        names = {c.name: c.label for c in q.choices}
        if str(value) not in names:
            raise HTTPException(400, f"{value!r} is not a choice of {q.name!r}; choices: {', '.join(names)}")
        value, label = str(value), names[str(value)]
    elif q.type == "integer":
        whole = isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit())
        if isinstance(value, bool) or not whole:
            raise HTTPException(400, f"question {q.name!r} takes a whole number, got {value!r}")
        value = int(value)
        label = str(value)
    elif q.type == "date":
        m = DATE.match(str(value))
        try:
            if not m:
                raise ValueError
            date(int(m[1]), int(m[2]), int(m[3] or 1))
        except ValueError:
            raise HTTPException(400, f"question {q.name!r} takes a date as YYYY-MM or YYYY-MM-DD, "
                                     f"got {value!r}") from None
        value = f"{m[1]}-{m[2]}" if (q.partial_date or not m[3]) else f"{m[1]}-{m[2]}-{m[3]}"
        label = value
    elif q.type == "text":
        value = str(value).strip()
        if not value or len(value) > 2000:
            raise HTTPException(400, "a text answer must have 1 to 2000 characters")
        label = value
    else:
        raise HTTPException(400, f"question {q.name!r} ({q.type}) takes no answer")
    if q.constraint and not check_constraint(q, value, relevance_values(answers)):
        raise HTTPException(400, q.constraint_message or f"{value!r} is not allowed for {q.name!r} ({q.constraint})")
    return value, label


def store_answer(db: Session, sess: QuizSession, q: Question, state: dict, *, value=None, code=None, label=None,
                 transcript=None, confidence=None, mode: str, model_version=None, normaliser_version=None) -> Answer:
    """Add the answer row and move the session past the question (same transaction)."""
    if (value is None) == (code is None):
        raise ValueError("an answer has exactly one of value and code")
    if code is not None and code not in CODES:
        raise ValueError(f"answer code must be one of {CODES}, got {code!r}")
    row = Answer(session_id=sess.id, question=q.name, value=value, code=code, label=label, transcript=transcript,
                 confidence=confidence, attempts=int(state.get("attempt", 1)), input_mode=mode,
                 model_version=model_version, normaliser_version=normaliser_version,
                 needs_review=(q.type == "text" and mode == "voice"), at=utcnow())
    db.add(row)
    state.update(question=None, attempt=1, reask=None, pending=None)
    save_state(sess, state)
    return row


def answer_json(a: Answer) -> dict:
    return {"question": a.question, "value": a.value, "code": a.code, "label": a.label, "transcript": a.transcript,
            "confidence": a.confidence, "attempts": a.attempts, "input_mode": a.input_mode,
            "model_version": a.model_version, "normaliser_version": a.normaliser_version,
            "needs_review": a.needs_review, "at": a.at.isoformat() + "Z"}


def count_answers(db: Session, session_id: str) -> int:
    return db.scalar(select(func.count()).select_from(Answer).where(Answer.session_id == session_id))

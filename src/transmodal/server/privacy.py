"""Personal data: keeping audio (with consent), erasing sessions, export and deletion per person, retention.

Files live under ``data_dir``: ``audio/<session>/<question>-<attempt>.<ext>`` (kept recordings) and
``prompts/sessions/<session>/`` (spoken read-backs of that person's answers). Erasing a session deletes its
rows in one transaction (cascades do the consents, answers, audio rows and prompts), then its folders.
A crash between the two leaves only files without rows, which :func:`purge_audio` removes later.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from transmodal.server import flow
from transmodal.server.models import (Answer, AudioBlob, Consent, Link, PromptText, QuizSession, Respondent,
                                      utcnow, iso)
from transmodal.server.pseudonym import pseudonym


def save_audio(db: Session, settings, session_id: str, question: str, attempt: int, data: bytes, ext: str) -> Path:
    """Write a kept recording and add its row (the caller's transaction commits both)."""
    rel = Path(session_id) / f"{question}-{attempt}.{ext}"
    path = settings.audio_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    db.add(AudioBlob(session_id=session_id, question=question, attempt=attempt, path=str(rel), bytes=len(data)))
    return path


def session_folders(settings, session_id: str) -> list[Path]:
    return [settings.audio_dir / session_id, settings.prompt_cache_dir / "sessions" / session_id]


def erase_rows(db: Session, session_ids: list[str]) -> dict[str, int]:
    """Delete the sessions and every row hanging off them; counts of what went."""
    counts = {}
    for name, model in (("answers", Answer), ("consents", Consent), ("audio_files", AudioBlob)):
        counts[name] = db.execute(delete(model).where(model.session_id.in_(session_ids))).rowcount
    db.execute(delete(PromptText).where(PromptText.session_id.in_(session_ids)))
    counts["sessions"] = db.execute(delete(QuizSession).where(QuizSession.id.in_(session_ids))).rowcount
    return counts


def erase_files(settings, session_ids: list[str]) -> None:
    """Remove the sessions' folders (call after the row deletion has committed)."""
    for sid in session_ids:
        for folder in session_folders(settings, sid):
            shutil.rmtree(folder, ignore_errors=True)


def find_sessions(db: Session, key: bytes, body: dict) -> tuple[str | None, list[QuizSession]]:
    """(pseudonym or None, sessions) for ``{"session_id"}`` or ``{"identifier_kind", "identifier"}``."""
    if body.get("session_id"):
        sess = db.get(QuizSession, str(body["session_id"]))
        return None, [sess] if sess else []
    if not body.get("identifier_kind") or not body.get("identifier"):
        raise ValueError("give either session_id, or identifier_kind (phone|cns) and identifier")
    pseud = pseudonym(key, str(body["identifier_kind"]), str(body["identifier"]))
    person = db.scalar(select(Respondent).where(Respondent.pseudonym == pseud))
    if person is None:
        return pseud, []
    return pseud, list(db.scalars(select(QuizSession).where(QuizSession.respondent_id == person.id)))


def export_sessions(db: Session, sessions: list[QuizSession]) -> list[dict]:
    """Everything stored about these sessions, as JSON-ready dicts."""
    out = []
    for s in sessions:
        link = db.get(Link, s.link_id)
        cons = db.scalars(select(Consent).where(Consent.session_id == s.id).order_by(Consent.id))
        blobs = db.scalars(select(AudioBlob).where(AudioBlob.session_id == s.id).order_by(AudioBlob.id))
        answers = db.scalars(select(Answer).where(Answer.session_id == s.id).order_by(Answer.id))
        out.append({
            "session_id": s.id, "form_id": link.form.form_id, "municipality": link.municipality_ibge,
            "clinic": link.clinic_cnes, "team": link.team_ine, "status": s.status,
            "started_at": iso(s.started_at), "completed_at": iso(s.completed_at),
            "consents": [{"purpose": c.purpose, "granted": c.granted, "prompt_version": c.prompt_version,
                          "mode": c.mode, "transcript": c.transcript, "at": iso(c.at)} for c in cons],
            "answers": [flow.answer_json(a) for a in answers],
            "audio": [{"question": b.question, "attempt": b.attempt, "bytes": b.bytes, "created_at": iso(b.created_at)}
                      for b in blobs]})
    return out


def delete_person(db: Session, pseud: str | None, sessions: list[QuizSession]) -> dict[str, int]:
    """Delete the sessions' rows and, when found by identifier, the person's pseudonym row."""
    counts = erase_rows(db, [s.id for s in sessions])
    if pseud:
        db.execute(delete(Respondent).where(Respondent.pseudonym == pseud))
    return counts


def purge_audio(factory, settings, now=None) -> int:
    """Delete kept recordings older than the retention period, and folders whose session no longer exists.

    Returns the number of recordings deleted (rows and files).
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.audio_retention_days)
    with factory() as db, db.begin():
        old = list(db.scalars(select(AudioBlob).where(AudioBlob.created_at <= cutoff)))
        for blob in old:
            db.delete(blob)
        paths = [settings.audio_dir / b.path for b in old]
    for p in paths:                 # rows are gone (committed): now the files
        p.unlink(missing_ok=True)
    _remove_orphans(factory, settings)
    return len(old)


ABANDONED_AFTER = timedelta(days=1)


def purge_abandoned(factory, settings, now=None) -> int:
    """Erase sessions still at the consent step a day after they started (the person left before saying
    yes to storing answers: nothing of theirs may stay). Returns how many were erased."""
    cutoff = (now or utcnow()) - ABANDONED_AFTER
    with factory() as db, db.begin():
        ids = list(db.scalars(select(QuizSession.id).where(QuizSession.status == "consenting",
                                                            QuizSession.started_at <= cutoff)))
        if ids:
            erase_rows(db, ids)
    erase_files(settings, ids)
    return len(ids)


def _remove_orphans(factory, settings) -> None:
    folders = [d for base in (settings.audio_dir, settings.prompt_cache_dir / "sessions") if base.is_dir()
               for d in base.iterdir() if d.is_dir()]
    if not folders:
        return
    with factory() as db:
        live = set(db.scalars(select(QuizSession.id).where(QuizSession.id.in_([d.name for d in folders]))))
    for d in folders:
        if d.name not in live:
            shutil.rmtree(d, ignore_errors=True)

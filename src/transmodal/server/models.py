"""The tables, as SQLAlchemy 2 declarative models. ``migrations/`` creates exactly this schema.

Times are naive UTC datetimes (SQLite has no time zones; :func:`utcnow` is the one clock). Rows about a
respondent hang off :class:`QuizSession` with ``ON DELETE CASCADE``, so deleting a session deletes its
consents, answers and audio rows; the audio *files* are removed by :mod:`transmodal.server.privacy`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, MetaData, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo (how every time is stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def iso(t: datetime | None) -> str | None:
    """A stored time as ISO 8601 with a Z."""
    return None if t is None else t.replace(microsecond=0).isoformat() + "Z"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class FormRow(Base):
    """An imported questionnaire: ``definition`` is ``Form.to_dict()``."""

    __tablename__ = "forms"
    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(100), unique=True)
    version: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    definition: Mapped[dict] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Link(Base):
    """A respondent link: unguessable token → form + where the care happened (IBGE, CNES, INE)."""

    __tablename__ = "links"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(100), unique=True)
    form_pk: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    municipality_ibge: Mapped[str] = mapped_column(String(7))
    clinic_cnes: Mapped[str] = mapped_column(String(7))
    team_ine: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    form: Mapped[FormRow] = relationship()


class Respondent(Base):
    """A person, known only by the keyed hash of an identifier (phone or health-card number)."""

    __tablename__ = "respondents"
    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class QuizSession(Base):
    """One person answering one form through one link.

    status: ``consenting`` → ``active`` → ``completed``. ``state`` is the current question's progress:
    ``{"question", "attempt", "reask", "pending", "seen"}`` (see :mod:`transmodal.server.flow`).
    """

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"), index=True)
    respondent_id: Mapped[int | None] = mapped_column(ForeignKey("respondents.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="consenting")
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    link: Mapped[Link] = relationship()


class Consent(Base):
    """Proof of one consent decision: which purpose, what was asked (prompt version), when and how."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("session_id", "purpose"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    granted: Mapped[bool] = mapped_column(Boolean)
    prompt_version: Mapped[str] = mapped_column(String(50))
    mode: Mapped[str] = mapped_column(String(10))
    transcript: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Answer(Base):
    """One stored answer: exactly one of ``value`` (JSON: str, int) and ``code`` (dont_know / refused)."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("session_id", "question"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(100))
    value: Mapped[object | None] = mapped_column(JSON(none_as_null=True))
    code: Mapped[str | None] = mapped_column(String(20))
    label: Mapped[str | None] = mapped_column(Text)
    transcript: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    input_mode: Mapped[str] = mapped_column(String(10))
    model_version: Mapped[str | None] = mapped_column(String(100))
    normaliser_version: Mapped[str | None] = mapped_column(String(100))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class AudioBlob(Base):
    """An audio file kept on disk (only with consent to purpose ``keep_audio``); ``path`` is relative to the audio folder."""

    __tablename__ = "audio_blobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(300), unique=True)
    bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class StaffUser(Base):
    """A staff account: argon2 password hash and role ``admin`` or ``analyst``."""

    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class StaffToken(Base):
    """A login: the SHA-256 of the bearer token (never the token itself) and its expiry."""

    __tablename__ = "staff_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    user: Mapped[StaffUser] = relationship()


class LoginFailure(Base):
    """A failed staff login, kept while it counts for :class:`~transmodal.server.auth.LoginThrottle`: one row per
    key (``user:<name>`` or ``addr:<client address>``) and failure; ``at`` in seconds since the epoch. In the
    database, so every server process sharing it counts the same failures."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[float] = mapped_column(Float, index=True)


class AuditEntry(Base):
    """Who on the staff did what to which target, and when (kept after the target is deleted)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    staff: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(Text)


class PromptText(Base):
    """Text behind a ``/api/prompts/{sha}.wav`` URL, so the audio is synthesised only when first asked for.

    Prompts that may repeat what a respondent said (read-backs, re-asks) belong to their session
    (``session_id``) and are deleted with it; questions and consent prompts have none.
    """

    __tablename__ = "prompts"
    sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)

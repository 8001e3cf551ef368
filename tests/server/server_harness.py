"""Fixtures for the server tests: a small form, a scripted speech recogniser, a fake synthesiser, an app.

The recogniser is a stand-in for ``transmodal.quiz.speech.AnswerRecognizer``: each call pops the next
``(transcript, confidence)`` from ``script`` and interprets it with the real normaliser, so the server's
policy and storage code run as they would with the real model.
"""

from __future__ import annotations

import io
import math
import os
import struct
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from transmodal.quiz.form import Choice, Form, Question
from transmodal.server.app import create_app
from transmodal.server.db import transaction
from transmodal.server.forms_store import save_form
from transmodal.server.routes.staff import create_link
from transmodal.server.settings import Settings

ADMIN_PASSWORD = "admin-password-1"
ANALYST_PASSWORD = "analyst-password-1"
PURPOSES = ("store_answers", "keep_audio", "contact_again")


def small_form() -> Form:
    sn = [Choice("sim", "Sim"), Choice("nao", "Não")]
    return Form("teste", "1", "Formulário de teste", questions=[
        Question("intro", "note", "Bem-vindo."),
        Question("consultou", "yes_no", "Você foi atendido?", required=True, list_name="sn", choices=sn),
        Question("idade", "integer", "Qual é a sua idade?", constraint=". >= 0 and . <= 120",
                 constraint_message="A idade deve ser entre 0 e 120 anos."),
        Question("espera", "select_one", "Quanto esperou?", relevant="${consultou} = 'sim'", list_name="espera",
                 choices=[Choice("curta", "Pouco tempo"), Choice("longa", "Muito tempo")]),
        Question("nota", "likert", "Como avalia?", list_name="nota",
                 choices=[Choice("bom", "Bom"), Choice("regular", "Regular"), Choice("ruim", "Ruim")]),
        Question("mes", "date", "Em que mês?", appearance="month-year"),
        Question("comentario", "text", "Algum comentário?"),
    ])


@dataclass
class FakeRecognition:
    transcript: str
    interpretation: object
    confidence: float
    model_version: str
    silent: bool


class ScriptedRecognizer:
    """Returns the scripted transcripts in order, interpreted by the real normaliser."""

    def __init__(self):
        self.script: list[tuple[str, float]] = []
        self.calls: list[tuple[str, int, int]] = []

    def recognise(self, question, wave_tensor, sample_rate):
        from transmodal.quiz.normalize import interpret
        transcript, confidence = self.script.pop(0)
        self.calls.append((question.name, int(wave_tensor.shape[0]), sample_rate))
        return FakeRecognition(transcript, interpret(question, transcript), confidence, "fake-asr-1",
                               silent=not transcript)


class FakeTTS:
    """Writes a short WAV per text (no espeak needed) and counts the calls."""

    def __init__(self):
        self.calls: list[str] = []

    def __call__(self, text, cache_dir, voice):
        self.calls.append(text)
        path = Path(cache_dir) / f"{abs(hash((text, voice)))}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wav_bytes(0.1))
        return path


def wav_bytes(seconds: float = 0.5, rate: int = 16000, freq: float = 220.0) -> bytes:
    """A mono 16-bit WAV of a sine tone."""
    n = int(seconds * rate)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


POSTGRES = os.environ.get("TRANSMODAL_TEST_POSTGRES")   # e.g. postgresql+psycopg://postgres@/postgres?host=/tmp/pg


def fresh_database_url() -> str | None:
    """With $TRANSMODAL_TEST_POSTGRES set: a new empty PostgreSQL database for one test; else None (SQLite)."""
    if not POSTGRES:
        return None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    name = "transmodal_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str | None) -> None:
    """Remove a database made by :func:`fresh_database_url` (nothing for SQLite)."""
    if not url or not POSTGRES:
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def make_settings(tmp_path: Path, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", db_url=fresh_database_url(), argon2_time_cost=1,
                    argon2_memory_kib=64, **kw)


class Harness:
    """An app on a temporary SQLite database with an admin, an analyst, the small form and one link."""

    def __init__(self, tmp_path: Path, **settings_kw):
        from transmodal.server import auth
        self.settings = make_settings(tmp_path, **settings_kw)
        self.asr = ScriptedRecognizer()
        self.tts = FakeTTS()
        self.app = create_app(self.settings, recognizer=self.asr, tts=self.tts)
        self.client = TestClient(self.app)
        with transaction(self.app.state.sessions) as db:
            auth.create_user(db, self.app.state.hasher, "admin", ADMIN_PASSWORD, "admin")
            auth.create_user(db, self.app.state.hasher, "ana", ANALYST_PASSWORD, "analyst")
            save_form(db, small_form())
            self.token = create_link(db, "teste", "3550308", "2077485", "0000000001").token

    def staff_headers(self, username="admin", password=ADMIN_PASSWORD) -> dict:
        r = self.client.post("/api/staff/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": "Bearer " + r.json()["token"]}

    def add_link(self, municipality="3550308", clinic="2077485", team="0000000001") -> str:
        with transaction(self.app.state.sessions) as db:
            return create_link(db, "teste", municipality, clinic, team).token

    def start(self, token: str | None = None, consents=(True, True, True)) -> tuple[str, dict]:
        """A session with the given consent decisions (click); returns (session_id, headers)."""
        r = self.client.post(f"/api/r/{token or self.token}/sessions")
        assert r.status_code == 201, r.text
        sid, headers = r.json()["session_id"], {"X-Session-Secret": r.json()["session_secret"]}
        for purpose, granted in zip(PURPOSES, consents):
            r = self.client.post(f"/api/sessions/{sid}/consent", headers=headers,
                                 json={"purpose": purpose, "granted": granted, "mode": "click"})
            assert r.status_code == 200, r.text
        return sid, headers

    def next(self, sid, headers) -> dict:
        r = self.client.get(f"/api/sessions/{sid}/next", headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    def choose(self, sid, headers, question, **body):
        return self.client.post(f"/api/sessions/{sid}/answers/{question}/choose", headers=headers, json=body)

    def speak(self, sid, headers, question, transcript, confidence=0.95, data: bytes | None = None):
        self.asr.script.append((transcript, confidence))
        files = {"audio": ("answer.wav", data if data is not None else wav_bytes(), "audio/wav")}
        return self.client.post(f"/api/sessions/{sid}/answers/{question}", headers=headers, files=files)

    def table_counts(self) -> dict[str, int]:
        from sqlalchemy import text
        from transmodal.server.models import Base
        with self.app.state.engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in Base.metadata.tables}


@pytest.fixture
def h(tmp_path) -> Harness:
    harness = Harness(tmp_path)
    yield harness
    harness.client.close()
    harness.app.state.engine.dispose()
    drop_database(harness.settings.db_url)

"""Consent and privacy: refusal leaves nothing, deletion and export per person, audio retention, the key file."""

import os
import stat
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from transmodal.server.db import transaction
from transmodal.server.models import AudioBlob, utcnow
from transmodal.server.privacy import purge_audio
from transmodal.server.pseudonym import load_or_create_key, normalise_identifier, pseudonym

from server_harness import POSTGRES


def _files(root):
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_refusing_to_store_answers_leaves_nothing(h):
    before = h.table_counts()
    r = h.client.post(f"/api/r/{h.token}/sessions").json()
    sid, hd = r["session_id"], {"X-Session-Secret": r["session_secret"]}
    assert h.table_counts()["sessions"] == 1
    j = h.client.post(f"/api/sessions/{sid}/consent", headers=hd,
                      json={"purpose": "store_answers", "granted": False, "mode": "click"}).json()
    assert j["ended"] is True and j["granted"] is False
    assert h.table_counts() == before                 # every table exactly as before the session
    assert not _files(h.settings.audio_dir) and not (h.settings.prompt_cache_dir / "sessions" / sid).exists()
    assert h.client.get(f"/api/sessions/{sid}/next", headers=hd).status_code == 404


def test_refusal_by_voice_also_erases(h):
    from server_harness import wav_bytes
    before = h.table_counts()
    r = h.client.post(f"/api/r/{h.token}/sessions").json()
    sid, hd = r["session_id"], {"X-Session-Secret": r["session_secret"]}
    h.asr.script.append(("não, obrigado", 0.95))
    j = h.client.post(f"/api/sessions/{sid}/consent", headers=hd, data={"purpose": "store_answers"},
                      files={"audio": ("a.wav", wav_bytes(), "audio/wav")}).json()
    assert j["ended"] is True and h.table_counts() == before


def _answered_session(h, identifier=None, token=None):
    sid, hd = h.start(token)
    if identifier:
        r = h.client.post(f"/api/sessions/{sid}/identifier", headers=hd,
                          json={"identifier_kind": "phone", "identifier": identifier})
        assert r.status_code == 200, r.text
    h.choose(sid, hd, "intro")
    assert h.speak(sid, hd, "consultou", "sim", confidence=0.99).json()["stored"]
    j = h.speak(sid, hd, "idade", "trinta", confidence=0.5).json()    # may leave a session read-back prompt
    if j["prompt"]:
        h.client.get(j["audio_url"])                                  # synthesised into the session's cache
    return sid, hd


def test_delete_everything_about_a_person(h):
    admin = h.staff_headers()
    baseline = h.table_counts()
    mine = [_answered_session(h, "+55 (11) 91234-5678")[0], _answered_session(h, "11912345678")[0]]
    other, _ = _answered_session(h, "21 99876-5432")
    assert len({*mine, other}) == 3 and _files(h.settings.audio_dir / mine[0])
    exported = h.client.post("/api/privacy/export", headers=admin,
                             json={"identifier_kind": "phone", "identifier": "5511912345678"}).json()
    assert sorted(s["session_id"] for s in exported["sessions"]) == sorted(mine)
    s0 = exported["sessions"][0]
    assert {c["purpose"] for c in s0["consents"]} == {"store_answers", "keep_audio", "contact_again"}
    assert s0["answers"][0]["question"] == "consultou" and s0["audio"]
    r = h.client.post("/api/privacy/delete", headers=admin, json={"identifier_kind": "phone", "identifier": "11 91234 5678"})
    assert r.status_code == 200 and r.json()["deleted"]["sessions"] == 2
    for sid in mine:
        assert not (h.settings.audio_dir / sid).exists()
        assert not (h.settings.prompt_cache_dir / "sessions" / sid).exists()
    with transaction(h.app.state.sessions) as db:
        from transmodal.server.models import Answer, Consent, PromptText, QuizSession, Respondent
        for model in (QuizSession, Answer, Consent, AudioBlob):
            col = model.id if model is QuizSession else model.session_id
            assert not list(db.scalars(select(model).where(col.in_(mine)))), model.__tablename__
        assert not list(db.scalars(select(PromptText).where(PromptText.session_id.in_(mine))))
        assert len(list(db.scalars(select(Respondent)))) == 1                  # only the other person
        assert db.get(QuizSession, other) is not None
    counts = h.table_counts()
    assert counts["sessions"] == baseline["sessions"] + 1
    again = h.client.post("/api/privacy/export", headers=admin, json={"identifier_kind": "phone", "identifier": "11912345678"})
    assert again.status_code == 404
    audit = h.client.get("/api/audit", headers=admin).json()["entries"]
    assert audit[0]["action"] == "privacy_delete" and "91234" not in audit[0]["target"]


def test_respondent_withdraws(h):
    sid, hd = _answered_session(h)
    assert h.client.delete(f"/api/sessions/{sid}", headers=hd).json() == {"deleted": True}
    c = h.table_counts()
    assert (c["sessions"], c["answers"], c["consents"], c["audio_blobs"]) == (0, 0, 0, 0)
    assert not _files(h.settings.audio_dir)


@pytest.mark.skipif(bool(POSTGRES), reason="reads the SQLite file")
def test_identifier_is_stored_only_as_keyed_hash(h):
    sid, hd = h.start()
    h.client.post(f"/api/sessions/{sid}/identifier", headers=hd,
                  json={"identifier_kind": "cns", "identifier": "898 0012 3456 7890"})
    bad = h.client.post(f"/api/sessions/{sid}/identifier", headers=hd, json={"identifier_kind": "cns", "identifier": "12"})
    assert bad.status_code == 400 and "15 digits" in bad.json()["detail"]
    raw = (h.settings.data_dir / "transmodal.db").read_bytes()
    wal = h.settings.data_dir / "transmodal.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert b"898001234567890" not in raw
    key = load_or_create_key(h.settings.key_path)
    assert pseudonym(key, "cns", "898001234567890").encode() in raw
    assert pseudonym(b"another key 123456", "cns", "898001234567890").encode() not in raw


def test_key_file_created_private_and_reused(tmp_path):
    path = tmp_path / "k" / "pseudonym.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(key) == 32
    assert load_or_create_key(path) == key
    assert normalise_identifier("phone", "+55 11 3333-4444") == "1133334444"
    path.write_text("not hex")
    try:
        load_or_create_key(path)
    except ValueError as e:
        assert "damaged" in str(e)
    else:
        raise AssertionError("a damaged key file must be refused")


def test_audio_purged_after_retention(h):
    sid, hd = _answered_session(h)
    with transaction(h.app.state.sessions) as db:
        blobs = list(db.scalars(select(AudioBlob)))
    assert blobs
    paths = [h.settings.audio_dir / b.path for b in blobs]
    assert purge_audio(h.app.state.sessions, h.settings) == 0 and all(p.exists() for p in paths)
    with transaction(h.app.state.sessions) as db:    # age one recording past the retention period
        db.execute(update(AudioBlob).where(AudioBlob.id == blobs[0].id)
                   .values(created_at=utcnow() - timedelta(days=h.settings.audio_retention_days + 1)))
    assert purge_audio(h.app.state.sessions, h.settings) == 1
    assert not paths[0].exists() and all(p.exists() for p in paths[1:])
    assert h.table_counts()["audio_blobs"] == len(blobs) - 1 and h.table_counts()["answers"] >= 1
    # a folder left by a crash between row deletion and file deletion is removed too
    orphan = h.settings.audio_dir / ("e" * 32)
    orphan.mkdir(parents=True)
    (orphan / "x.wav").write_bytes(b"RIFF")
    purge_audio(h.app.state.sessions, h.settings)
    assert not orphan.exists()
    r = h.client.post("/api/admin/purge-audio", headers=h.staff_headers())
    assert r.json() == {"deleted": 0}


def test_sessions_abandoned_before_consent_are_erased_after_a_day(h):
    from transmodal.server.models import QuizSession
    from transmodal.server.privacy import purge_abandoned

    r = h.client.post(f"/api/r/{h.token}/sessions").json()
    h.client.post(f"/api/sessions/{r['session_id']}/consent", headers={"X-Session-Secret": r["session_secret"]},
                  json={"purpose": "store_answers", "granted": True})      # consented only in part: still consenting
    done, _ = h.start()
    assert purge_abandoned(h.app.state.sessions, h.settings) == 0
    later = utcnow() + timedelta(days=1, minutes=1)
    assert purge_abandoned(h.app.state.sessions, h.settings, now=later) == 1
    with transaction(h.app.state.sessions) as db:
        assert [s.id for s in db.scalars(select(QuizSession))] == [done]
    assert h.table_counts()["consents"] == 3

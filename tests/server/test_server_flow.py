"""The respondent's way through a form over HTTP: consent, next question, answers by click and by voice."""

from sqlalchemy import select

from transmodal.server.db import transaction
from transmodal.server.models import Answer, AudioBlob, Consent

from server_harness import wav_bytes


def _answers(h) -> dict[str, Answer]:
    with transaction(h.app.state.sessions) as db:
        return {a.question: a for a in db.scalars(select(Answer))}


def test_link_and_session_start(h):
    r = h.client.get(f"/api/r/{h.token}")
    assert r.json() == {"form_id": "teste", "title": "Formulário de teste", "questions": 7}
    assert h.client.get("/api/r/not-a-token").status_code == 404
    r = h.client.post(f"/api/r/{h.token}/sessions").json()
    assert [p["purpose"] for p in r["consent_prompts"]] == ["store_answers", "keep_audio", "contact_again"]
    assert all(p["prompt_version"].endswith("-v1") and p["audio_url"].startswith("/api/prompts/")
               for p in r["consent_prompts"])
    audio = h.client.get(r["consent_prompts"][0]["audio_url"])
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert h.tts.calls == [r["consent_prompts"][0]["prompt"]]
    assert h.client.get("/api/prompts/" + "0" * 64 + ".wav").status_code == 404


def test_whole_flow_by_click(h):
    sid, hd = h.start()
    n = h.next(sid, hd)
    assert n["question"]["name"] == "intro" and n["question"]["type"] == "note"
    assert h.choose(sid, hd, "intro").json() == {"stored": False}
    n = h.next(sid, hd)
    assert n["question"]["name"] == "consultou"
    assert n["question"]["choices"] == [{"name": "sim", "label": "Sim"}, {"name": "nao", "label": "Não"}]
    assert h.choose(sid, hd, "consultou", value="nao").json()["label"] == "Não"
    r = h.choose(sid, hd, "idade", value=130)
    assert r.status_code == 400 and r.json()["detail"] == "A idade deve ser entre 0 e 120 anos."
    assert h.choose(sid, hd, "idade", value="abc").status_code == 400
    assert h.choose(sid, hd, "idade", value=42).json()["value"] == 42
    # 'espera' is relevant only after "sim": skipped
    assert h.next(sid, hd)["question"]["name"] == "nota"
    assert h.choose(sid, hd, "nota", value="otimo").status_code == 400
    assert h.choose(sid, hd, "nota", code="dont_know").json()["code"] == "dont_know"
    assert h.choose(sid, hd, "mes", value="2026-13").status_code == 400
    assert h.choose(sid, hd, "mes", value="2026-03-14").json()["value"] == "2026-03"   # month-year question
    assert h.choose(sid, hd, "comentario", value="  muito bom  ").json()["value"] == "muito bom"
    n = h.next(sid, hd)
    assert n["done"] is True and n["progress"] == {"answered": 5, "total": 6}
    stored = _answers(h)
    assert {k: (a.value, a.code, a.input_mode) for k, a in stored.items()} == {
        "consultou": ("nao", None, "click"), "idade": (42, None, "click"), "nota": (None, "dont_know", "click"),
        "mes": ("2026-03", None, "click"), "comentario": ("muito bom", None, "click")}
    assert h.client.get(f"/api/r/{h.token}").status_code == 200


def test_only_the_current_question_and_once(h):
    sid, hd = h.start()
    h.choose(sid, hd, "intro")
    r = h.choose(sid, hd, "idade", value=30)
    assert r.status_code == 409 and "current one is consultou" in r.json()["detail"]
    assert h.choose(sid, hd, "consultou", value="sim").status_code == 200
    r = h.choose(sid, hd, "consultou", value="nao")
    assert r.status_code == 409 and "already answered" in r.json()["detail"]
    assert h.choose(sid, hd, "nope", value="x").status_code == 404


def test_session_secret_and_consent_order(h):
    r = h.client.post(f"/api/r/{h.token}/sessions").json()
    sid = r["session_id"]
    good, bad = {"X-Session-Secret": r["session_secret"]}, {"X-Session-Secret": "guess"}
    assert h.client.get(f"/api/sessions/{sid}/next", headers=bad).status_code == 403
    assert h.client.get(f"/api/sessions/{sid}/next").status_code == 403
    assert h.client.get(f"/api/sessions/{sid}/next", headers=good).status_code == 409   # consent first
    r = h.client.post(f"/api/sessions/{sid}/consent", headers=good, json={"purpose": "keep_audio", "granted": True})
    assert r.status_code == 409 and "store_answers" in r.json()["detail"]
    r = h.client.post(f"/api/sessions/{sid}/consent", headers=good, json={"purpose": "marketing", "granted": True})
    assert r.status_code == 400
    ok = h.client.post(f"/api/sessions/{sid}/consent", headers=good, json={"purpose": "store_answers", "granted": True})
    assert ok.json()["next_purpose"] == "keep_audio"
    again = h.client.post(f"/api/sessions/{sid}/consent", headers=good, json={"purpose": "store_answers", "granted": True})
    assert again.status_code == 409
    assert h.client.get(f"/api/sessions/{'f' * 32}/next", headers=good).status_code == 404


def test_consent_by_voice_transcript_and_audio(h):
    r = h.client.post(f"/api/r/{h.token}/sessions").json()
    sid, hd = r["session_id"], {"X-Session-Secret": r["session_secret"]}
    j = h.client.post(f"/api/sessions/{sid}/consent", headers=hd,
                      json={"purpose": "store_answers", "mode": "voice", "transcript": "sim, pode"}).json()
    assert j["granted"] is True and j["next_purpose"] == "keep_audio"
    h.asr.script.append(("hum", 0.4))
    files = {"audio": ("c.wav", wav_bytes(), "audio/wav")}
    j = h.client.post(f"/api/sessions/{sid}/consent", headers=hd, data={"purpose": "keep_audio"}, files=files).json()
    assert j["understood"] is False and j["granted"] is None and j["next_purpose"] == "keep_audio"
    h.asr.script.append(("não", 0.9))
    j = h.client.post(f"/api/sessions/{sid}/consent", headers=hd, data={"purpose": "keep_audio"}, files=files).json()
    assert j["granted"] is False
    with transaction(h.app.state.sessions) as db:
        rows = {c.purpose: (c.granted, c.mode, c.transcript, c.prompt_version) for c in db.scalars(select(Consent))}
    assert rows == {"store_answers": (True, "voice", "sim, pode", "store_answers-v1"),
                    "keep_audio": (False, "voice", "não", "keep_audio-v1")}


def test_voice_answer_accepted_with_metadata_and_audio_kept(h):
    sid, hd = h.start()
    h.choose(sid, hd, "intro")
    r = h.speak(sid, hd, "consultou", "sim, fui sim", confidence=0.99)
    j = r.json()
    assert r.status_code == 200 and j["decision"] == "accept" and j["stored"] is True and j["value"] == "sim"
    a = _answers(h)["consultou"]
    assert (a.value, a.transcript, a.confidence, a.attempts, a.input_mode, a.model_version) == \
        ("sim", "sim, fui sim", 0.99, 1, "voice", "fake-asr-1")
    assert a.normaliser_version
    assert h.asr.calls == [("consultou", 8000, 16000)]                 # 0.5 s decoded at 16 kHz
    with transaction(h.app.state.sessions) as db:
        blobs = list(db.scalars(select(AudioBlob)))
    assert len(blobs) == 1 and (h.settings.audio_dir / blobs[0].path).read_bytes() == wav_bytes()


def test_no_audio_kept_without_consent(h):
    sid, hd = h.start(consents=(True, False, False))
    h.choose(sid, hd, "intro")
    assert h.speak(sid, hd, "consultou", "sim", confidence=0.99).json()["stored"] is True
    assert h.table_counts()["audio_blobs"] == 0
    assert not h.settings.audio_dir.exists() or not any(h.settings.audio_dir.rglob("*.wav"))


def test_silence_reasks_with_escalation_then_gives_up(h):
    sid, hd = h.start()
    h.choose(sid, hd, "intro")
    levels = []
    for attempt in range(1, 10):
        j = h.speak(sid, hd, "consultou", "").json()
        assert j["understood"] is False and j["attempt"] == attempt
        if j["decision"] == "give_up":
            break
        assert j["decision"] == "reask" and j["stored"] is False and j["prompt"]
        levels.append(j["level"])
        n = h.next(sid, hd)
        assert n["attempt"] == attempt + 1 and n["reask"]["level"] == j["level"]
    assert j["stored"] is True and j["code"] == "dont_know"
    assert levels and levels == sorted(levels, key=["rephrase", "list", "buttons"].index)
    a = _answers(h)["consultou"]
    assert (a.value, a.code, a.attempts) == (None, "dont_know", len(levels) + 1)


def test_low_confidence_confirm_then_accept_or_reject(h):
    sid, hd = h.start()
    h.choose(sid, hd, "intro")
    h.choose(sid, hd, "consultou", value="sim")
    # find a confidence the policy wants confirmed (between re-ask and accept)
    j = None
    for conf in (0.7, 0.6, 0.8, 0.5, 0.85, 0.4):
        j = h.speak(sid, hd, "idade", "trinta e dois", confidence=conf).json()
        if j["decision"] == "confirm":
            break
        assert j["decision"] in ("reask", "accept")
        if j["decision"] == "accept":
            break
    assert j["decision"] == "confirm", f"no confidence led to a read-back: {j}"
    assert j["stored"] is False and j["value"] == 32 and j["prompt"]
    pend = h.next(sid, hd)["pending_confirmation"]
    assert pend["value"] == 32 and pend["prompt"] == j["prompt"]
    r = h.client.post(f"/api/sessions/{sid}/answers/idade/confirm", headers=hd, json={"accept": True}).json()
    assert r["stored"] is True and _answers(h)["idade"].value == 32
    # a rejected read-back is a failed attempt
    h.client.post(f"/api/sessions/{sid}/answers/espera/choose", headers=hd, json={"value": "curta"})
    j = h.speak(sid, hd, "nota", "bom", confidence=conf).json()
    assert j["decision"] == "confirm"
    r = h.client.post(f"/api/sessions/{sid}/answers/nota/confirm", headers=hd, json={"accept": False}).json()
    assert r["decision"] in ("reask", "give_up") and r["stored"] is (r["decision"] == "give_up")
    if r["decision"] == "reask":
        assert h.next(sid, hd)["attempt"] == 2 and "nota" not in _answers(h)
        again = h.client.post(f"/api/sessions/{sid}/answers/nota/confirm", headers=hd, json={"accept": True})
        assert again.status_code == 409


def test_out_of_range_number_is_reasked_with_the_form_message(h):
    sid, hd = h.start()
    h.choose(sid, hd, "intro")
    h.choose(sid, hd, "consultou", value="sim")
    j = h.speak(sid, hd, "idade", "duzentos", confidence=0.99).json()
    assert j["decision"] == "reask" and j["prompt"].startswith("A idade deve ser entre 0 e 120 anos.")
    assert j["understood"] is False and j["level"] == "rephrase"
    assert "idade" not in _answers(h)


def test_click_after_failed_voice_counts_attempts(h):
    sid, hd = h.start()
    h.choose(sid, hd, "intro")
    assert h.speak(sid, hd, "consultou", "").json()["decision"] == "reask"
    j = h.choose(sid, hd, "consultou", value="sim").json()
    assert j["attempt"] == 2
    a = _answers(h)["consultou"]
    assert (a.attempts, a.input_mode) == (2, "click")


def test_voice_unavailable_gives_503_and_click_still_works(tmp_path):
    from server_harness import Harness

    class Broken:
        def recognise(self, *a):
            raise FileNotFoundError("model pt-quiz not available")

    hb = Harness(tmp_path)
    hb.app.state.speech._recognizer = Broken()
    sid, hd = hb.start()
    hb.choose(sid, hd, "intro")
    r = hb.client.post(f"/api/sessions/{sid}/answers/consultou", headers=hd,
                       files={"audio": ("a.wav", wav_bytes(), "audio/wav")})
    assert r.status_code == 503 and "pt-quiz" in r.json()["detail"]
    assert hb.choose(sid, hd, "consultou", value="sim").status_code == 200
    hb.client.close()


def _to_confirmation(h, sid, hd):
    """Answer up to 'idade' and leave a read-back pending there; returns the confidence that caused it."""
    h.choose(sid, hd, "intro")
    h.choose(sid, hd, "consultou", value="sim")
    for conf in (0.7, 0.6, 0.8):
        j = h.speak(sid, hd, "idade", "trinta e dois", confidence=conf).json()
        if j["decision"] == "confirm":
            return conf
        assert j["decision"] == "reask"
    raise AssertionError("the policy never asked for a read-back")


def test_read_back_confirmed_by_voice(h):
    sid, hd = h.start()
    _to_confirmation(h, sid, hd)
    url = f"/api/sessions/{sid}/answers/idade/confirm"
    files = {"audio": ("c.wav", wav_bytes(), "audio/wav")}
    h.asr.script.append(("hã", 0.9))                                     # unclear: still pending
    j = h.client.post(url, headers=hd, files=files).json()
    assert (j["decision"], j["understood"], j["stored"]) == ("confirm", False, False)
    assert h.next(sid, hd)["pending_confirmation"]["value"] == 32
    h.asr.script.append(("isso mesmo", 0.95))
    j = h.client.post(url, headers=hd, files=files).json()
    assert j["decision"] == "accept" and j["stored"] is True
    a = _answers(h)["idade"]
    assert (a.value, a.input_mode, a.transcript) == (32, "voice", "trinta e dois")
    assert h.asr.calls[-1][0] == "_confirmacao"


def test_read_back_refused_by_voice(h):
    sid, hd = h.start()
    _to_confirmation(h, sid, hd)
    h.asr.script.append(("não", 0.95))
    j = h.client.post(f"/api/sessions/{sid}/answers/idade/confirm", headers=hd,
                      files={"audio": ("c.wav", wav_bytes(), "audio/wav")}).json()
    assert j["decision"] == "reask" and j["stored"] is False and "idade" not in _answers(h)
    bad = h.client.post(f"/api/sessions/{sid}/answers/idade/confirm", headers=hd, json={"accept": "maybe"})
    assert bad.status_code == 400


def test_real_recognizer_without_its_model_answers_503(tmp_path):
    from server_harness import Harness
    from transmodal.server.voice import SpeechService

    hb = Harness(tmp_path)
    hb.app.state.speech = SpeechService(model="no-such-model-here")
    sid, hd = hb.start()
    hb.choose(sid, hd, "intro")
    r = hb.client.post(f"/api/sessions/{sid}/answers/consultou", headers=hd,
                       files={"audio": ("a.wav", wav_bytes(), "audio/wav")})
    assert r.status_code == 503 and "no-such-model-here" in r.json()["detail"] and "not available" in r.json()["detail"]
    assert hb.client.get("/healthz").status_code == 200
    hb.client.close()


def test_real_speech_synthesis_of_a_question(tmp_path):
    import shutil
    import pytest
    from server_harness import Harness
    from transmodal.server.app import default_tts

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    hb = Harness(tmp_path)
    hb.app.state.tts = default_tts
    sid, hd = hb.start()
    url = hb.next(sid, hd)["question"]["audio_url"]
    r = hb.client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
    assert len(r.content) > 8000                                   # some speech, not an empty file
    assert any(hb.settings.prompt_cache_dir.rglob("*.wav"))       # cached for the next request
    hb.client.close()


def test_api_docs_page_works_offline(h):
    r = h.client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for path in ("/api/sessions/{session_id}/next", "/api/staff/login", "/api/reports/questions"):
        assert f"<code>{path}</code>" in r.text
    assert "http://" not in r.text and "https://" not in r.text and "<script" not in r.text   # nothing fetched
    assert "/api/sessions/{session_id}/answers/{question}" in h.client.get("/openapi.json").json()["paths"]


def test_database_conflicts_and_outages_are_clear_errors(h, monkeypatch):
    from sqlalchemy.exc import IntegrityError, OperationalError
    from transmodal.server import flow

    sid, hd = h.start()
    h.choose(sid, hd, "intro")

    def racing(*a, **k):
        raise IntegrityError("INSERT INTO answers", {}, Exception("UNIQUE constraint failed"))
    monkeypatch.setattr(flow, "store_answer", racing)
    r = h.choose(sid, hd, "consultou", value="sim")
    assert r.status_code == 409 and "already answered" in r.json()["detail"]

    def down(*a, **k):
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
    monkeypatch.setattr(flow, "store_answer", down)
    r = h.choose(sid, hd, "consultou", value="sim")
    assert r.status_code == 503 and r.headers["retry-after"] == "2" and "nothing was stored" in r.json()["detail"]
    monkeypatch.undo()
    assert h.choose(sid, hd, "consultou", value="sim").status_code == 200

"""Respondent endpoints: open a link, consent per purpose, get the next question, answer by voice or click.

Every call under ``/api/sessions/{id}`` carries ``X-Session-Secret``. Each answer is stored in one
transaction, and the response is sent only after it has committed.
"""

from __future__ import annotations

import secrets
import uuid

from fastapi import APIRouter, File, Header, HTTPException, Request, UploadFile
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from transmodal.server import consent as consent_mod
from transmodal.server import flow, privacy, uploads, voice
from transmodal.server.db import transaction
from transmodal.server.models import Consent, Link, QuizSession, Respondent, utcnow
from transmodal.server.pseudonym import pseudonym

router = APIRouter(tags=["respondent"])
Secret = Header(default=None, alias="X-Session-Secret")


class ConsentBody(BaseModel):
    purpose: str
    granted: bool | None = None
    mode: str = "click"
    transcript: str | None = None


class IdentifierBody(BaseModel):
    identifier_kind: str
    identifier: str


class ConfirmBody(BaseModel):
    accept: bool


class ChooseBody(BaseModel):
    value: str | int | None = None
    code: str | None = None


def _link(db, token: str) -> Link:
    link = db.scalar(select(Link).where(Link.token == token))
    if link is None:
        raise HTTPException(404, "this link does not exist or has been withdrawn; ask the health team for a new one")
    return link


@router.get("/api/r/{token}")
def check_link(token: str, request: Request):
    with transaction(request.app.state.sessions) as db:
        link = _link(db, token)
        form = link.form
        return {"form_id": form.form_id, "title": form.title, "questions": len(form.definition.get("questions", []))}


@router.post("/api/r/{token}/sessions", status_code=201)
def start_session(token: str, request: Request):
    voice_name = request.app.state.settings.tts_voice
    secret = secrets.token_urlsafe(32)
    with transaction(request.app.state.sessions) as db:
        link = _link(db, token)
        sess = QuizSession(id=uuid.uuid4().hex, secret_hash=flow.secret_hash(secret), link_id=link.id,
                           status="consenting", state={}, started_at=utcnow())
        db.add(sess)
        prompts = [{"purpose": p.name, "prompt": p.prompt, "prompt_version": p.version, "required": p.required,
                    "audio_url": flow.prompt_url(db, p.prompt, voice_name)} for p in consent_mod.PURPOSES]
        return {"session_id": sess.id, "session_secret": secret, "title": link.form.title, "consent_prompts": prompts}


def _record_consent(request: Request, session_id: str, secret: str | None, purpose: str, granted: bool | None,
                    mode: str, transcript: str | None) -> dict:
    """Store one consent decision (or erase the session when purpose 1 is refused)."""
    settings = request.app.state.settings
    if mode not in ("voice", "click"):
        raise HTTPException(400, f"mode must be 'voice' or 'click', got {mode!r}")
    try:
        p = consent_mod.purpose(purpose)
    except ValueError as e:
        raise HTTPException(400, str(e)) from None
    with transaction(request.app.state.sessions) as db:
        sess = flow.load_session(db, session_id, secret)
        done = flow.consents(db, sess.id)
        if p.name in done:
            raise HTTPException(409, f"consent for {p.name!r} was already given or refused in this session")
        expected = consent_mod.next_purpose(set(done))
        if p.name != expected:
            raise HTTPException(409, f"answer the consent prompts in order: {expected!r} comes next")
        if granted is None:
            return {"purpose": p.name, "understood": False, "granted": None, "transcript": transcript,
                    "ended": False, "next_purpose": p.name, "prompt": consent_mod.NOT_UNDERSTOOD}
        if p.required and not granted:
            privacy.erase_rows(db, [sess.id])
            ended = True
        else:
            db.add(Consent(session_id=sess.id, purpose=p.name, granted=granted, prompt_version=p.version, mode=mode,
                           transcript=transcript, at=utcnow()))
            done[p.name] = granted
            ended = False
            if consent_mod.next_purpose(set(done)) is None:
                sess.status = "active"
    if ended:
        privacy.erase_files(settings, [session_id])
        return {"purpose": p.name, "understood": True, "granted": False, "transcript": transcript, "ended": True,
                "next_purpose": None, "prompt": "Tudo bem. Nada foi guardado. Obrigado."}
    return {"purpose": p.name, "understood": True, "granted": granted, "transcript": transcript, "ended": False,
            "next_purpose": consent_mod.next_purpose(set(done)), "prompt": None}


@router.post("/api/sessions/{session_id}/consent")
async def give_consent(session_id: str, request: Request, secret: str | None = Secret):
    """JSON ``{purpose, granted, mode}`` (or ``transcript`` to interpret), or multipart ``purpose`` + ``audio``."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        purpose, upload = form.get("purpose"), form.get("audio")
        if not isinstance(purpose, str) or not hasattr(upload, "read"):
            raise HTTPException(400, "a spoken consent needs the form fields 'purpose' and 'audio' (a file)")
        p = _purpose_or_400(purpose)
        rec, _ = await _recognise_upload(request, session_id, secret, consent_mod.yes_no_question(p), upload)
        granted = None if getattr(rec, "silent", False) else consent_mod.granted_from(rec.interpretation, rec.confidence)
        return await run_in_threadpool(_record_consent, request, session_id, secret, p.name, granted, "voice",
                                       rec.transcript)
    try:
        body = ConsentBody.model_validate(await request.json())
    except ValueError as e:
        raise HTTPException(400, f"expected JSON {{purpose, granted, mode}} or multipart purpose + audio ({e})") from None
    granted = body.granted
    if granted is None and body.transcript is not None:
        from transmodal.quiz.normalize import interpret
        p = _purpose_or_400(body.purpose)
        granted = consent_mod.granted_from(interpret(consent_mod.yes_no_question(p), body.transcript))
    elif granted is None:
        raise HTTPException(400, "give 'granted' (true/false), or 'transcript' with mode 'voice'")
    return await run_in_threadpool(_record_consent, request, session_id, secret, body.purpose, granted, body.mode,
                                   body.transcript)


def _purpose_or_400(name: str):
    try:
        return consent_mod.purpose(name)
    except ValueError as e:
        raise HTTPException(400, str(e)) from None


async def _recognise_upload(request: Request, session_id: str, secret: str | None, question, upload):
    """Check the session, read + decode the upload (413/415/422) and recognise it (outside any transaction)."""
    settings = request.app.state.settings

    def check():
        with request.app.state.sessions() as db:
            flow.load_session(db, session_id, secret)
    await run_in_threadpool(check)
    data = await uploads.read_limited(upload, settings.max_upload_bytes)
    recording = await run_in_threadpool(uploads.decode, data, settings.max_audio_seconds)
    rec = await run_in_threadpool(request.app.state.speech.recognise, question, recording.wave, recording.sample_rate)
    return rec, recording


@router.post("/api/sessions/{session_id}/identifier")
def set_identifier(session_id: str, body: IdentifierBody, request: Request, secret: str | None = Secret):
    try:
        pseud = pseudonym(request.app.state.key, body.identifier_kind, body.identifier)
    except ValueError as e:
        raise HTTPException(400, str(e)) from None
    with transaction(request.app.state.sessions) as db:
        sess = flow.load_session(db, session_id, secret)
        if not flow.consents(db, sess.id).get("store_answers"):
            raise HTTPException(409, "an identifier can be given only after consenting to store answers")
        flow.insert_ignore(db, Respondent, pseudonym=pseud, created_at=utcnow())
        sess.respondent_id = db.scalar(select(Respondent.id).where(Respondent.pseudonym == pseud))
    return {"ok": True}


@router.get("/api/sessions/{session_id}/next")
def next_question(session_id: str, request: Request, secret: str | None = Secret):
    voice_name = request.app.state.settings.tts_voice
    with transaction(request.app.state.sessions) as db:
        sess = flow.load_session(db, session_id, secret)
        if sess.status == "consenting":
            raise HTTPException(409, "consent is not complete yet; answer the consent prompts first")
        form = flow.session_form(db, sess)
        answers = flow.stored_answers(db, sess.id)
        progress = {"answered": len(answers), "total": sum(q.type != "note" for q in form.questions)}
        q = flow.current_question(form, answers, (sess.state or {}).get("seen", []))
        if q is None:
            if sess.status != "completed":
                sess.status, sess.completed_at = "completed", utcnow()
            return {"done": True, "progress": progress}
        state = flow.progress_state(sess, q)
        pending = state.get("pending")
        return {"done": False, "attempt": state["attempt"], "reask": state.get("reask"), "progress": progress,
                "pending_confirmation": None if not pending else {
                    k: pending[k] for k in ("value", "code", "label", "prompt", "audio_url")},
                "question": {"name": q.name, "type": q.type, "label": q.label, "hint": q.hint, "required": q.required,
                             "appearance": q.appearance,
                             "choices": [{"name": c.name, "label": c.label} for c in q.choices],
                             "audio_url": flow.prompt_url(db, q.label, voice_name)}}


@router.post("/api/sessions/{session_id}/answers/{question}")
async def answer_by_voice(session_id: str, question: str, request: Request, audio: UploadFile = File(...),
                          secret: str | None = Secret):
    settings = request.app.state.settings

    def current():
        with request.app.state.sessions() as db:
            sess = flow.load_session(db, session_id, secret)
            _, q, state = flow.require_current(db, sess, question)
            if q.type == "note":
                raise HTTPException(400, f"{question!r} is a note; nothing to answer (POST …/choose with {{}})")
            return q, state["attempt"]
    q, attempt = await run_in_threadpool(current)
    rec, recording = await _recognise_upload(request, session_id, secret, q, audio)

    def store():
        kept = None
        try:
            with transaction(request.app.state.sessions) as db:
                sess = flow.load_session(db, session_id, secret)
                _, q2, state = flow.require_current(db, sess, question)
                if state["attempt"] != attempt or state.get("pending"):
                    raise HTTPException(409, "another answer to this question arrived meanwhile; GET /next and try again")
                if flow.consents(db, sess.id).get("keep_audio"):
                    kept = privacy.save_audio(db, settings, sess.id, q2.name, attempt, recording.data,
                                              recording.extension)
                return voice.apply_recognition(db, sess, q2, state, rec, settings.tts_voice)
        except BaseException:
            if kept is not None:            # the row was not committed: the file must not outlive it
                kept.unlink(missing_ok=True)
            raise
    return await run_in_threadpool(store)


NOT_UNDERSTOOD_CONFIRM = "Não entendi. Diga sim ou não, ou toque num botão."


@router.post("/api/sessions/{session_id}/answers/{question}/confirm")
async def confirm_answer(session_id: str, question: str, request: Request, secret: str | None = Secret):
    """JSON ``{"accept": bool}``, or multipart ``audio`` with a spoken "sim"/"não" to the read-back."""
    settings = request.app.state.settings
    transcript = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        upload = (await request.form()).get("audio")
        if not hasattr(upload, "read"):
            raise HTTPException(400, "a spoken confirmation needs the form field 'audio' (a file)")
        from transmodal.quiz.policy import CONFIRMATION
        rec, _ = await _recognise_upload(request, session_id, secret, CONFIRMATION, upload)
        transcript = rec.transcript
        accept = None if getattr(rec, "silent", False) else consent_mod.granted_from(rec.interpretation, rec.confidence)
    else:
        try:
            accept = ConfirmBody.model_validate(await request.json()).accept
        except ValueError as e:
            raise HTTPException(400, f"expected JSON {{\"accept\": true|false}} or multipart audio ({e})") from None

    def run():
        with transaction(request.app.state.sessions) as db:
            sess = flow.load_session(db, session_id, secret)
            _, q, state = flow.require_current(db, sess, question)
            if accept is None:
                if not state.get("pending"):
                    raise HTTPException(409, f"nothing is waiting for confirmation on {q.name!r}")
                return {"decision": "confirm", "understood": False, "transcript": transcript, "stored": False,
                        "attempt": state["attempt"], "prompt": NOT_UNDERSTOOD_CONFIRM,
                        "audio_url": flow.prompt_url(db, NOT_UNDERSTOOD_CONFIRM, settings.tts_voice)}
            return voice.apply_confirmation(db, sess, q, state, accept, settings.tts_voice)
    return await run_in_threadpool(run)


@router.post("/api/sessions/{session_id}/answers/{question}/choose")
def choose_answer(session_id: str, question: str, body: ChooseBody, request: Request, secret: str | None = Secret):
    with transaction(request.app.state.sessions) as db:
        sess = flow.load_session(db, session_id, secret)
        _, q, state = flow.require_current(db, sess, question)
        attempt = state["attempt"]
        if q.type == "note":
            state["seen"] = [*state.get("seen", []), q.name]
            flow.save_state(sess, state)
            return {"stored": False}
        if body.code is not None:
            if body.code not in flow.CODES:
                raise HTTPException(400, f"code must be one of {', '.join(flow.CODES)}, got {body.code!r}")
            label = {"dont_know": "Não sei", "refused": "Prefiro não responder"}[body.code]
            flow.store_answer(db, sess, q, state, code=body.code, label=label, mode="click")
            value = None
        elif body.value is None:
            raise HTTPException(400, "give 'value' (the answer) or 'code' (dont_know | refused)")
        else:
            value, label = flow.clean_value(q, body.value, flow.stored_answers(db, sess.id))
            flow.store_answer(db, sess, q, state, value=value, label=label, mode="click")
        return {"decision": "accept", "stored": True, "value": value, "code": body.code, "label": label,
                "attempt": attempt}


@router.delete("/api/sessions/{session_id}")
def withdraw(session_id: str, request: Request, secret: str | None = Secret):
    with transaction(request.app.state.sessions) as db:
        sess = flow.load_session(db, session_id, secret)
        privacy.erase_rows(db, [sess.id])
    privacy.erase_files(request.app.state.settings, [session_id])
    return {"deleted": True}

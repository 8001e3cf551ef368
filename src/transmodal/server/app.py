"""``create_app(settings)``: the FastAPI application, wired to its database, key, recogniser and synthesiser.

Dependencies that tests replace are parameters: ``recognizer`` (an object with
``recognise(question, wave, sample_rate) -> Recognition``; default: the ``pt-quiz`` model, loaded on first
use) and ``tts`` (``tts(text, cache_dir, voice) -> Path`` of a WAV; default
:func:`transmodal.quiz.tts.prompt_audio`). Every error leaves as ``{"detail": "..."}`` (see docs/quiz-api.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from transmodal.server import db as dbmod
from transmodal.server.auth import LoginThrottle, hasher
from transmodal.server.privacy import purge_abandoned, purge_audio
from transmodal.server.pseudonym import load_or_create_key
from transmodal.server.settings import Settings
from transmodal.server.voice import SpeechService

log = logging.getLogger("transmodal.server")
PURGE_EVERY_S = 3600
MULTIPART_OVERHEAD = 64 * 1024


def default_tts(text: str, cache_dir, voice: str):
    from transmodal.quiz.tts import prompt_audio
    return prompt_audio(text, cache_dir, voice=voice)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "invalid request: " + "; ".join(parts)


def create_app(settings: Settings | None = None, recognizer=None, tts=None) -> FastAPI:
    """Build the app: open (and migrate) the database, load the pseudonym key, mount the routes."""
    from transmodal.server.routes import apidoc, pages, respondent, staff

    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = dbmod.make_engine(settings.database_url, settings.sqlite_synchronous)
    dbmod.migrate(engine)
    factory = dbmod.session_factory(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(_purge_loop(factory, settings))
        try:
            yield
        finally:
            task.cancel()

    app = FastAPI(title="transmodal voice questionnaire", version="1", lifespan=lifespan, docs_url=None,
                  redoc_url=None,
                  description="Answer a health-service questionnaire by voice; consented, structured data. "
                              "Contract: docs/quiz-api.md")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = factory
    app.state.key = load_or_create_key(settings.key_path)
    app.state.hasher = hasher(settings)
    app.state.login_throttle = LoginThrottle(settings.login_max_failures, settings.login_window_s)
    app.state.speech = SpeechService(recognizer, max_concurrent=settings.max_recognitions,
                                     wait_s=settings.recognition_wait_s)
    app.state.tts = tts or default_tts

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": _validation_message(exc)}, status_code=400)

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError):
        # two requests raced for the same row (e.g. a double-submitted answer on PostgreSQL): the first won
        return JSONResponse({"detail": "this conflicts with a request that was stored just before it "
                                       "(already answered?); GET /next and continue"}, status_code=409)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError):
        log.warning("database error: %s", str(getattr(exc, "orig", exc)).splitlines()[0])
        return JSONResponse({"detail": "the database is busy or unreachable; nothing was stored, try again"},
                            status_code=503, headers={"Retry-After": "2"})

    @app.middleware("http")
    async def _limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_upload_bytes + MULTIPART_OVERHEAD:
            return JSONResponse({"detail": f"the request is larger than the limit of {settings.max_upload_mb:g} MB"},
                                status_code=413)
        return await call_next(request)

    _register_consent_prompts(factory, settings)
    app.include_router(staff.router)
    app.include_router(respondent.router)
    app.include_router(pages.router)
    app.include_router(apidoc.router)
    return app


def _register_consent_prompts(factory, settings) -> None:
    """Store the consent prompts' texts now, so starting (and refusing) a session writes no prompt rows."""
    from transmodal.server.consent import PURPOSES
    from transmodal.server.db import transaction
    from transmodal.server.flow import prompt_url

    with transaction(factory) as db:
        for p in PURPOSES:
            prompt_url(db, p.prompt, settings.tts_voice)


async def _purge_loop(factory, settings) -> None:
    """Delete expired audio and abandoned unconsented sessions now and every hour while the server runs."""
    while True:
        try:
            n = await asyncio.to_thread(purge_audio, factory, settings)
            if n:
                log.info("purged %d recordings older than %g days", n, settings.audio_retention_days)
            n = await asyncio.to_thread(purge_abandoned, factory, settings)
            if n:
                log.info("erased %d sessions abandoned before consent", n)
        except Exception:                      # keep serving; the next round tries again
            log.exception("audio purge failed")
        await asyncio.sleep(PURGE_EVERY_S)

"""The pages (owned by the front end, in ``server/static/``), the spoken prompts, and a health check."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from transmodal.server.models import PromptText

STATIC = Path(__file__).resolve().parent.parent / "static"
router = APIRouter()


def _page(name: str) -> FileResponse:
    path = STATIC / name
    if not path.is_file():
        raise HTTPException(404, f"page {name} is missing from this installation ({path})")
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


@router.get("/r/{token}", include_in_schema=False)
def respond_page(token: str):
    return _page("respond.html")


@router.get("/dashboard", include_in_schema=False)
def dashboard_page():
    return _page("dashboard.html")


@router.get("/static/{path:path}", include_in_schema=False)
def static_file(path: str):
    full = (STATIC / path).resolve()
    if not full.is_relative_to(STATIC) or not full.is_file():
        raise HTTPException(404, f"no static file {path!r}")
    return FileResponse(full, headers={"Cache-Control": "no-cache"})


@router.get("/healthz")
def health():
    return {"ok": True}


@router.get("/api/prompts/{sha}.wav", tags=["respondent"])
async def prompt_audio(sha: str, request: Request):
    """The synthesised WAV of a prompt (made on first request, then cached on disk)."""
    st = request.app.state

    def lookup():
        with st.sessions() as db:
            row = db.get(PromptText, sha)
            return None if row is None else (row.text, row.session_id)
    found = await run_in_threadpool(lookup)
    if found is None:
        raise HTTPException(404, "no such prompt")
    text, session_id = found
    cache = st.settings.prompt_cache_dir
    if session_id:
        cache = cache / "sessions" / session_id
    try:
        path = await run_in_threadpool(st.tts, text, cache, st.settings.tts_voice)
    except (FileNotFoundError, RuntimeError, OSError, ValueError) as e:   # no espeak-ng, or a prompt it refuses
        raise HTTPException(503, f"speech synthesis is not available on this server ({e}); read the text instead") from None
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "public, max-age=86400"})

"""The questionnaire's voice: prompts spoken offline by espeak-ng (Brazilian Portuguese) and cached as WAV.

:func:`prompt_audio` returns ``cache_dir/<hash>.wav`` where the hash covers the text, the voice, the
speed and the engine's version (``espeak-ng --version``), so a changed prompt or an upgraded engine
gives a new file and an unchanged one is synthesised once. The file is written under a temporary name
and renamed into place, so a reader never sees half a WAV, even with several server processes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import uuid
from functools import lru_cache
from pathlib import Path

MAX_PROMPT_CHARS = 2000


@lru_cache(maxsize=1)
def engine_version() -> str:
    """The first line of ``espeak-ng --version`` (raises EngineNotFoundError when it is not installed)."""
    from transmodal.audio.synth.engines import EspeakNG

    program = EspeakNG().require()
    done = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "espeak-ng"


def prompt_key(text: str, voice: str = "pt-br", speed: float = 1.0) -> str:
    """The cache key (hex SHA-256, 24 digits) of a prompt: text, voice, speed and engine version."""
    h = hashlib.sha256("\x1f".join((" ".join(text.split()), voice, f"{speed:g}", engine_version())).encode("utf-8"))
    return h.hexdigest()[:24]


def prompt_audio(text: str, cache_dir: str | Path, voice: str = "pt-br", speed: float = 1.0) -> Path:
    """The WAV file of ``text`` spoken by espeak-ng ``voice``, synthesised on first request and cached."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"nothing to say: the prompt must be a non-empty string, got {text!r}")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt has {len(text)} characters, more than {MAX_PROMPT_CHARS}; shorten it")
    from transmodal.audio.synth.engines import EspeakNG

    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"{prompt_key(text, voice, speed)}.wav"
    if out.is_file() and out.stat().st_size > 44:
        return out
    tmp = cache / f".{out.stem}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}.tmp.wav"
    try:
        EspeakNG().synthesize(" ".join(text.split()), voice, tmp, speed=speed)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out

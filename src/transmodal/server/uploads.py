"""Checking an uploaded answer recording before anything else looks at it.

Order of checks, each with its own status code: size (413), format by its first bytes (415: WAV, FLAC
and OGG only — not WebM/MP4, which libsndfile cannot read), decodable and not too long (422). The bytes
are read at most once past the limit, so a huge upload never sits in memory.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, UploadFile

SAMPLE_RATE = 16000
CHUNK = 1 << 16


@dataclass
class Recording:
    """A checked upload: the raw bytes, their format's file extension, and the mono wave at 16 kHz."""

    data: bytes
    extension: str
    wave: object            # torch.Tensor (N,)
    sample_rate: int = SAMPLE_RATE


def sniff(head: bytes) -> str | None:
    """File extension for a WAV/FLAC/OGG header, None for anything else."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    return None


async def read_limited(upload: UploadFile, limit: int) -> bytes:
    """All the bytes of ``upload``; 413 as soon as there are more than ``limit``."""
    chunks, size = [], 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the recording is larger than the limit of {limit / 1048576:.1f} MB; "
                                     "record a shorter answer")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(data: bytes, max_seconds: float) -> Recording:
    """Check the format (415) and decode to a mono 16 kHz wave (422 for broken or too long audio)."""
    from transmodal.audio.errors import AudioError
    from transmodal.audio.io import load_audio

    if not data:
        raise HTTPException(422, "the recording is empty (0 bytes); record the answer again")
    ext = sniff(data[:12])
    if ext is None:
        raise HTTPException(415, "the upload is not audio the server can read: send WAV, FLAC or OGG "
                                 "(a browser's WebM/MP4 recording must be converted to WAV first)")
    fd, name = tempfile.mkstemp(suffix="." + ext)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            audio = load_audio(name, sample_rate=SAMPLE_RATE, mono=True, max_seconds=max_seconds)
        except AudioError as e:
            raise HTTPException(422, "the recording could not be decoded: " + str(e).replace(name, "upload")) from None
    finally:
        Path(name).unlink(missing_ok=True)
    return Recording(data=data, extension=ext, wave=audio.samples[0], sample_rate=SAMPLE_RATE)

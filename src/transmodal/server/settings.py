"""Server options: one dataclass, filled by ``transmodal serve`` from its flags (or by tests directly)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """``$TRANSMODAL_QUIZ_HOME``, else ``$XDG_DATA_HOME/transmodal/quiz`` (``~/.local/share/transmodal/quiz``)."""
    if os.environ.get("TRANSMODAL_QUIZ_HOME"):
        return Path(os.environ["TRANSMODAL_QUIZ_HOME"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "transmodal" / "quiz"


@dataclass
class Settings:
    """Everything the server needs to know; paths default to places under ``data_dir``.

    db_url: SQLAlchemy URL; None = SQLite file ``data_dir/transmodal.db``. PostgreSQL:
      ``postgresql+psycopg://user:pass@host/dbname``.
    key_file: the secret key of the identifier pseudonyms (created 0600 on first start). Keep it out of
      the database's backups: whoever holds both can test guesses of phone numbers.
    audio_retention_days: kept audio (with consent) older than this is deleted by :func:`privacy.purge_audio`.
    max_upload_mb / max_audio_seconds: limits on one uploaded answer.
    sqlite_synchronous: ``FULL`` (default) fsyncs the WAL at every commit, so an acknowledged answer survives
      a power cut too; ``NORMAL`` survives a process crash only but commits faster.
    argon2_time_cost / argon2_memory_kib: password hashing cost (RFC 9106 second recommendation by default).
    max_recognitions: spoken answers recognised at the same time (each uses the CPU fully for a moment); a
      request that finds them all busy waits up to ``recognition_wait_s`` and is then told 503, try again.
    login_max_failures / login_window_s: after this many failed logins within the window for one username or
      from one address, logins there get 429 until the oldest failure leaves the window.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str | None = None
    key_file: Path | None = None
    audio_retention_days: float = 30.0
    max_upload_mb: float = 5.0
    max_audio_seconds: float = 60.0
    token_hours: float = 12.0
    min_group_size: int = 10
    sqlite_synchronous: str = "FULL"
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    tts_voice: str = "pt-br"
    max_recognitions: int = 2
    login_max_failures: int = 5
    login_window_s: float = 900.0
    recognition_wait_s: float = 20.0

    def __post_init__(self):
        self.data_dir = Path(self.data_dir).expanduser()
        if self.key_file is not None:
            self.key_file = Path(self.key_file).expanduser()
        if self.sqlite_synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"sqlite_synchronous must be FULL, NORMAL or EXTRA, got {self.sqlite_synchronous!r}")
        if self.max_recognitions < 1 or self.recognition_wait_s < 0:
            raise ValueError(f"max_recognitions must be >= 1 and recognition_wait_s >= 0, got {self.max_recognitions} "
                             f"and {self.recognition_wait_s}")
        if self.max_upload_mb <= 0 or self.audio_retention_days < 0:
            raise ValueError("max_upload_mb must be > 0 and audio_retention_days >= 0")

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'transmodal.db'}"

    @property
    def key_path(self) -> Path:
        return self.key_file or self.data_dir / "pseudonym.key"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"

    @property
    def prompt_cache_dir(self) -> Path:
        return self.data_dir / "prompts"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

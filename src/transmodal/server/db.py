"""The database: engine set-up (SQLite pragmas or PostgreSQL), sessions, and migrations at start-up.

SQLite (the default) is opened in WAL mode, so readers never block the one writer; ``synchronous`` as in
:class:`~transmodal.server.settings.Settings` (FULL: a commit is on disk before it returns);
``busy_timeout`` 10 s, so concurrent writers wait for each other instead of failing; foreign keys on (the
cascades that delete a session's rows). Every transaction starts with ``BEGIN IMMEDIATE``: it takes the
write lock at once, so two transactions that read then write never deadlock (with a plain ``BEGIN`` SQLite
would fail one of them with "database is locked" without waiting). The price is that transactions run one
at a time, so they are kept short: audio decoding and speech recognition happen outside them.
PostgreSQL (``postgresql+psycopg://``) needs none of this; several server processes may share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine for ``url``; for SQLite creates the file's folder and sets the pragmas described above."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None          # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={sqlite_synchronous.upper()}")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration in ``migrations/`` not yet applied (``upgrade head``).

    A database that cannot be reached or opened raises RuntimeError naming it (password hidden).
    """
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.exc import OperationalError

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as e:
        reason = str(getattr(e, "orig", e)).strip().splitlines()[0]
        raise RuntimeError(f"cannot open the database {describe(engine.url)}: {reason}") from None


def describe(url) -> str:
    """A database URL fit for printing: the password replaced by ***."""
    from sqlalchemy.engine import make_url
    return make_url(str(url) if not isinstance(url, str) else url).render_as_string(hide_password=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits when the block ends normally (before the caller answers), rolls back otherwise."""
    with factory() as s, s.begin():
        yield s

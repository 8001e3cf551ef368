"""The database: the Alembic migrations build exactly the models' schema; SQLite runs in WAL mode."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import pytest

from transmodal.server import db as dbmod
from transmodal.server.models import Base

from server_harness import POSTGRES, drop_database, fresh_database_url

BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrated_schema_equals_models(tmp_path, backend):
    url = fresh_database_url() if backend == "postgresql" else f"sqlite:///{tmp_path / 'm.db'}"
    engine = dbmod.make_engine(url)
    dbmod.migrate(engine)
    dbmod.migrate(engine)                     # a second start changes nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    if backend == "postgresql":
        drop_database(url)
    assert diff == [], f"migrations and models differ: {diff}"
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert version == "0002"


def test_a_database_of_the_first_release_is_upgraded_in_place(tmp_path):
    """A database made by revision 0001 (before login_failures) gets the new table at the next start, data kept."""
    from alembic import command
    from alembic.config import Config

    engine = dbmod.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(dbmod.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO audit_log (at, staff, action, target) VALUES ('2026-01-01', 'a', 'b', 'c')"))
    assert "login_failures" not in inspect(engine).get_table_names()
    dbmod.migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        assert conn.execute(text("SELECT COUNT(*) FROM audit_log")).scalar() == 1
        assert conn.execute(text("SELECT COUNT(*) FROM login_failures")).scalar() == 0
    engine.dispose()


def test_sqlite_pragmas(tmp_path):
    engine = dbmod.make_engine(f"sqlite:///{tmp_path / 'p.db'}", sqlite_synchronous="NORMAL")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1        # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000

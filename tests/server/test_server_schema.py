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
    assert version == "0001"


def test_sqlite_pragmas(tmp_path):
    engine = dbmod.make_engine(f"sqlite:///{tmp_path / 'p.db'}", sqlite_synchronous="NORMAL")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1        # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000

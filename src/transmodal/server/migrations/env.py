"""Alembic environment: runs on the connection given by :func:`transmodal.server.db.migrate`.

Autogenerate (for a developer adding a migration)::

    alembic -x url=sqlite:///dev.db -c /dev/null revision --autogenerate -m "..."  # with script_location set
"""

from alembic import context

from transmodal.server.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through transmodal.server.db.migrate(engine), which passes a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()

"""The voice questionnaire's web server: FastAPI API, storage (SQLAlchemy + Alembic), consent and privacy.

``create_app(settings)`` in :mod:`transmodal.server.app` builds the application; ``transmodal serve`` runs it.
The HTTP contract is written down in ``docs/quiz-api.md``. Layout:

- ``settings.py``  the options (database URL, data folder, limits, retention)
- ``db.py``        engine (SQLite WAL pragmas / PostgreSQL), sessions, migrations at start-up
- ``models.py``    the tables; ``migrations/`` the Alembic history that creates them
- ``auth.py``      staff passwords (argon2), bearer tokens, roles; ``pseudonym.py`` keyed hashes of identifiers
- ``consent.py``   the three purposes and their prompts; ``flow.py`` which question comes next, storing answers
- ``uploads.py``   checking uploaded audio; ``privacy.py`` export, delete, audio retention
- ``reports.py``   aggregates with small-group suppression, CSV export
- ``routes/``      the HTTP endpoints, one module per audience; ``bootstrap.py`` first start (admin, demo form, link)
"""

"""``transmodal forms import FILE.xlsx [--db URL] [--data-dir DIR]``: store an XLSForm questionnaire.

Errors in the workbook are printed with their sheet, row and column (exit status 2).
"""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("forms", help="manage questionnaires (XLSForm)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser("import", help="import (or replace) a questionnaire from an XLSForm .xlsx file")
    imp.add_argument("file", metavar="FILE.xlsx", help="XLSForm workbook: survey, choices and settings sheets")
    imp.add_argument("--db", metavar="URL", default=None, help="database URL (default: SQLite in the data folder)")
    imp.add_argument("--data-dir", metavar="DIR", default=None,
                     help="data folder, as for `transmodal serve` (default: $TRANSMODAL_QUIZ_HOME or "
                          "~/.local/share/transmodal/quiz)")
    imp.set_defaults(func=run_import)


def run_import(args) -> None:
    from transmodal.server import db as dbmod
    from transmodal.server.forms_store import import_form
    from transmodal.server.settings import Settings

    path = Path(args.file)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; give the path of an XLSForm .xlsx workbook")
    settings = Settings(db_url=args.db, **({"data_dir": args.data_dir} if args.data_dir else {}))
    engine = dbmod.make_engine(settings.database_url, settings.sqlite_synchronous)
    dbmod.migrate(engine)
    row = import_form(dbmod.session_factory(engine), path)   # FormError is a ValueError: cli.py prints it, exit 2
    n = len(row.definition.get("questions", []))
    print(f"imported form {row.form_id!r} version {row.version} ({n} questions): {row.title}")

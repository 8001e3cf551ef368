"""``transmodal serve [--host 127.0.0.1] [--port 8000] [--db URL] [--data-dir DIR]``: run the voice questionnaire.

Migrates the database, and on first start creates the admin account, imports the demo questionnaire and a
demo link; then prints the respondent URL and the dashboard URL and serves until Ctrl-C.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the voice questionnaire web app (SQLite by default)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    p.add_argument("--db", metavar="URL", default=None,
                   help="database URL (default: SQLite in the data folder; e.g. postgresql+psycopg://user:pw@host/db)")
    p.add_argument("--data-dir", metavar="DIR", default=None,
                   help="folder for the SQLite file, the pseudonym key, kept audio and prompt audio "
                        "(default: $TRANSMODAL_QUIZ_HOME or ~/.local/share/transmodal/quiz)")
    p.add_argument("--key-file", metavar="FILE", default=None,
                   help="pseudonym key file (default: DATA_DIR/pseudonym.key; created 0600 on first start)")
    p.add_argument("--audio-retention-days", type=float, default=30.0,
                   help="delete kept recordings after this many days (default: 30)")
    p.add_argument("--max-upload-mb", type=float, default=5.0, help="largest accepted recording (default: 5 MB)")
    p.add_argument("--max-recognitions", type=int, default=2,
                   help="spoken answers recognised at the same time; more wait, then get 503 (default: 2)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes (PostgreSQL only; SQLite runs one process) (default: 1)")
    p.set_defaults(func=run)


def build_settings(args):
    from transmodal.server.settings import Settings

    kwargs = dict(db_url=args.db, key_file=args.key_file, audio_retention_days=args.audio_retention_days,
                  max_upload_mb=args.max_upload_mb, max_recognitions=args.max_recognitions)
    if args.data_dir:
        kwargs["data_dir"] = args.data_dir
    return Settings(**kwargs)


def run(args) -> None:
    import uvicorn

    from transmodal.server.app import create_app
    from transmodal.server.bootstrap import first_start

    if args.workers != 1:
        raise ValueError("--workers > 1 is not supported by this command yet; run several `transmodal serve` "
                         "processes on different ports against one PostgreSQL database instead")
    settings = build_settings(args)
    app = create_app(settings)
    first = first_start(app)
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    from transmodal.server.db import describe

    print(f"transmodal serve: database {describe(settings.database_url)}, data in {settings.data_dir}", flush=True)
    if first.admin_password:
        print(f"  admin account created: user 'admin', password {first.admin_password}  (shown only this once)",
              flush=True)
    if first.demo_token:
        print(f"  respondent page: {base}/r/{first.demo_token}", flush=True)
    print(f"  dashboard:       {base}/dashboard", flush=True)
    print(f"  API document:    {base}/docs", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")

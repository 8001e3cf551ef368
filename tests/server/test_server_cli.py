"""``transmodal forms import`` and the first start of ``transmodal serve`` (without starting a web server)."""

import argparse

from openpyxl import Workbook

from transmodal.cli import main


def _xlsform(path, survey_rows, choices_rows=()):
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label::Portuguese (pt)", "constraint"])
    for r in survey_rows:
        ws.append(r)
    wc = wb.create_sheet("choices")
    wc.append(["list_name", "name", "label::Portuguese (pt)"])
    for r in choices_rows:
        wc.append(r)
    st = wb.create_sheet("settings")
    st.append(["form_id", "version", "form_title", "default_language"])
    st.append(["cli_form", "7", "Formulário CLI", "pt"])
    wb.save(path)
    return path


def test_forms_import_ok_and_replace(tmp_path, capsys):
    path = _xlsform(tmp_path / "f.xlsx", [["integer", "idade", "Idade?", ". >= 0 and . <= 120"],
                                          ["select_one sn", "ok", "Tudo bem?", ""]],
                    [["sn", "sim", "Sim"], ["sn", "nao", "Não"]])
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["forms", "import", str(path), "--db", db, "--data-dir", str(tmp_path)]) == 0
    assert "imported form 'cli_form' version 7 (2 questions)" in capsys.readouterr().out
    assert main(["forms", "import", str(path), "--db", db, "--data-dir", str(tmp_path)]) == 0   # replaces
    import sqlite3
    con = sqlite3.connect(tmp_path / "x.db")
    assert con.execute("SELECT form_id, version FROM forms").fetchall() == [("cli_form", "7")]
    con.close()


def test_forms_import_error_names_sheet_row_column(tmp_path, capsys):
    path = _xlsform(tmp_path / "bad.xlsx", [["integer", "idade", "Idade?", ""], ["geopoint", "onde", "Onde?", ""]])
    code = main(["forms", "import", str(path), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    err = capsys.readouterr().err
    assert code == 2 and "survey" in err and "3" in err and "geopoint" in err and "Traceback" not in err
    assert main(["forms", "import", str(tmp_path / "missing.xlsx"), "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_first_start_creates_admin_demo_form_and_link_once(tmp_path, monkeypatch):
    from transmodal.commands.serve import build_settings
    from transmodal.server.app import create_app
    from transmodal.server.bootstrap import first_start

    monkeypatch.delenv("TRANSMODAL_ADMIN_PASSWORD", raising=False)
    args = argparse.Namespace(db=None, key_file=None, audio_retention_days=30.0, max_upload_mb=5.0, max_recognitions=2,
                              data_dir=str(tmp_path / "d"))
    settings = build_settings(args)
    settings.argon2_time_cost, settings.argon2_memory_kib = 1, 64
    app = create_app(settings)
    first = first_start(app)
    assert first.admin_password and len(first.admin_password) >= 12 and first.demo_token
    again = first_start(create_app(settings))
    assert again.admin_password is None and again.demo_token == first.demo_token
    from fastapi.testclient import TestClient
    with TestClient(app) as c:
        r = c.post("/api/staff/login", json={"username": "admin", "password": first.admin_password})
        assert r.json()["role"] == "admin"
        forms = c.get("/api/forms", headers={"Authorization": "Bearer " + r.json()["token"]}).json()["forms"]
        assert len(forms) == 1 and forms[0]["questions"] >= 8
        assert c.get(f"/api/r/{first.demo_token}").json()["form_id"] == forms[0]["form_id"]
        assert c.get(f"/r/{first.demo_token}").status_code == 200
        assert c.get("/dashboard").headers["content-type"].startswith("text/html")
        assert c.get("/static/%2e%2e/settings.py").status_code == 404
        assert c.get("/static/style.css").status_code == 200
    assert (tmp_path / "d" / "pseudonym.key").exists() and (tmp_path / "d" / "transmodal.db").exists()


def test_unreachable_database_is_a_clear_error(tmp_path, capsys):
    path = _xlsform(tmp_path / "f.xlsx", [["integer", "idade", "Idade?", ""]])
    code = main(["forms", "import", str(path), "--db", "postgresql+psycopg://quiz:hunter2@127.0.0.1:1/quiz"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot open the database" in err and "quiz:***@127.0.0.1:1" in err
    assert "hunter2" not in err and "Traceback" not in err


def test_form_upload_over_http(h, tmp_path):
    admin = h.staff_headers()
    good = _xlsform(tmp_path / "g.xlsx", [["integer", "idade", "Idade?", ". >= 0"]])
    bad = _xlsform(tmp_path / "b.xlsx", [["select_one nada", "x", "X?", ""]])
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    r = h.client.post("/api/forms", headers=admin, files={"file": ("g.xlsx", good.read_bytes(), xlsx)})
    assert r.status_code == 201 and r.json()["form_id"] == "cli_form" and r.json()["questions"] == 1
    r = h.client.post("/api/forms", headers=admin, files={"file": ("b.xlsx", bad.read_bytes(), xlsx)})
    assert r.status_code == 400 and "survey" in r.json()["detail"] and "nada" in r.json()["detail"]
    r = h.client.post("/api/forms", headers=admin, files={"file": ("n.xlsx", b"not a workbook", xlsx)})
    assert r.status_code == 400
    assert [f["form_id"] for f in h.client.get("/api/forms", headers=admin).json()["forms"]] == ["cli_form", "teste"]

"""Durability: kill -9 the real server (``transmodal serve``) while answers stream in, restart it, and
find every acknowledged answer stored — whole — and every session able to go on."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

PASSWORD = "durability-admin-1"
ACKS_BEFORE_KILL = 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data_dir, port) -> tuple[subprocess.Popen, str]:
    """Start the server; return (process, respondent token) once it answers /healthz."""
    env = dict(os.environ, TRANSMODAL_ADMIN_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "transmodal", "serve", "--port", str(port), "--data-dir",
                             str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    token, deadline = None, time.monotonic() + 30
    for line in proc.stdout:                      # the URLs are printed before the server listens
        if "respondent page:" in line:
            token = line.rsplit("/r/", 1)[1].strip()
        if "API document" in line:
            break
    assert token, "transmodal serve did not print the respondent URL"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, token
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the server did not start within 30 s")


def _answer_for(q: dict):
    if q["type"] == "note":
        return {}
    if q["choices"]:
        return {"value": q["choices"][-1]["name"]}
    return {"integer": {"value": 33}, "date": {"value": "2026-05"}, "text": {"value": "atendimento bom"}}.get(q["type"], {})


def _respond_forever(base, token, acked: list, sessions: dict, stop: threading.Event) -> None:
    """Answer questionnaires by click until the server goes away; record (session, question, body) per 200."""
    with httpx.Client(base_url=base, timeout=10) as c:
        try:
            while not stop.is_set():
                s = c.post(f"/api/r/{token}/sessions").json()
                sid, hd = s["session_id"], {"X-Session-Secret": s["session_secret"]}
                sessions[sid] = hd
                for p in ("store_answers", "keep_audio", "contact_again"):
                    c.post(f"/api/sessions/{sid}/consent", headers=hd, json={"purpose": p, "granted": True})
                while True:
                    n = c.get(f"/api/sessions/{sid}/next", headers=hd).json()
                    if n["done"]:
                        break
                    q = n["question"]
                    body = _answer_for(q)
                    r = c.post(f"/api/sessions/{sid}/answers/{q['name']}/choose", headers=hd, json=body)
                    assert r.status_code == 200, r.text
                    if q["type"] != "note":
                        acked.append((sid, q["name"], r.json()["value"]))
        except (httpx.TransportError, ValueError):
            return                                  # the server was killed


@pytest.mark.slow
def test_acknowledged_answers_survive_kill_9(tmp_path):
    data = tmp_path / "data"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc, token = _start(data, port)
    acked, sessions, stop = [], {}, threading.Event()
    worker = threading.Thread(target=_respond_forever, args=(base, token, acked, sessions, stop), daemon=True)
    try:
        worker.start()
        deadline = time.monotonic() + 40
        while len(acked) < ACKS_BEFORE_KILL and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)          # mid-way: requests are in flight
        proc.wait(timeout=10)
        stop.set()
        worker.join(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(acked) >= ACKS_BEFORE_KILL, f"only {len(acked)} answers acknowledged before the kill"
    snapshot = list(acked)

    # the database file itself is sound and every stored row is whole
    con = sqlite3.connect(data / "transmodal.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT session_id, question, value, code, attempts, input_mode, at FROM answers").fetchall()
    finally:
        con.close()
    for sid, question, value, code, attempts, mode, at in rows:
        assert (value is None or value == "null") != (code is None), (sid, question, value, code)
        assert attempts >= 1 and mode == "click" and at

    proc2, token2 = _start(data, port)
    try:
        assert token2 == token                     # same database: the demo link was not recreated
        c = httpx.Client(base_url=base, timeout=10)
        login = c.post("/api/staff/login", json={"username": "admin", "password": PASSWORD}).json()
        staff = {"Authorization": "Bearer " + login["token"]}
        form_id = c.get("/api/forms", headers=staff).json()["forms"][0]["form_id"]
        csv_text = c.get(f"/api/export/answers.csv?form_id={form_id}", headers=staff).text
        stored = {(r["session_id"], r["question"]): r["value"] for r in csv.DictReader(io.StringIO(csv_text))}
        missing = [(s, q) for s, q, v in snapshot if stored.get((s, q)) != str(v)]
        assert not missing, f"{len(missing)} acknowledged answers lost, e.g. {missing[:3]}"
        assert len(stored) >= len(snapshot) and len(stored) <= len(snapshot) + 1   # at most the one in flight
        # every session can carry on after the restart
        for sid, hd in list(sessions.items())[-3:]:
            r = c.get(f"/api/sessions/{sid}/next", headers=hd)
            assert r.status_code == 200, r.text
        c.close()
    finally:
        proc2.send_signal(signal.SIGTERM)
        try:
            proc2.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc2.kill()

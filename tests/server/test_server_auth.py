"""Staff access: nothing without login (401), admin-only endpoints refuse analysts (403), tokens expire."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from transmodal.server.db import transaction
from transmodal.server.models import StaffToken, utcnow

from server_harness import ADMIN_PASSWORD, ANALYST_PASSWORD

STAFF_GETS = ["/api/forms", "/api/forms/teste", "/api/links", "/api/reports/overview?form_id=teste",
              "/api/reports/questions?form_id=teste&by=team", "/api/export/answers.csv?form_id=teste",
              "/api/staff/me"]
ADMIN_POSTS = [("/api/links", {"form_id": "teste", "municipality": "3550308", "clinic": "2077485", "team": "0000000002"}),
               ("/api/staff/users", {"username": "bob", "password": "bob-password-1", "role": "analyst"}),
               ("/api/privacy/export", {"session_id": "x"}), ("/api/privacy/delete", {"session_id": "x"}),
               ("/api/admin/purge-audio", None)]


@pytest.mark.parametrize("path", STAFF_GETS)
def test_anonymous_gets_401(h, path):
    r = h.client.get(path)
    assert r.status_code == 401 and "log in" in r.json()["detail"]
    r = h.client.get(path, headers={"Authorization": "Bearer made-up"})
    assert r.status_code == 401


def test_anonymous_posts_401(h):
    for path, body in ADMIN_POSTS:
        assert h.client.post(path, json=body).status_code == 401, path
    assert h.client.get("/api/audit").status_code == 401


def test_analyst_reads_reports_but_not_admin_things(h):
    analyst = h.staff_headers("ana", ANALYST_PASSWORD)
    for path in STAFF_GETS:
        assert h.client.get(path, headers=analyst).status_code == 200, path
    for path, body in ADMIN_POSTS:
        r = h.client.post(path, headers=analyst, json=body)
        assert r.status_code == 403 and "admin" in r.json()["detail"], path
    assert h.client.get("/api/audit", headers=analyst).status_code == 403


def test_login_errors_and_logout(h):
    assert h.client.post("/api/staff/login", json={"username": "admin", "password": "wrong"}).status_code == 401
    assert h.client.post("/api/staff/login", json={"username": "nobody", "password": "x"}).status_code == 401
    r = h.client.post("/api/staff/login", json={"username": "admin"})
    assert r.status_code == 400 and "password" in r.json()["detail"]
    admin = h.staff_headers()
    assert h.client.get("/api/staff/me", headers=admin).json() == {"username": "admin", "role": "admin"}
    assert h.client.post("/api/staff/logout", headers=admin).json() == {"ok": True}
    assert h.client.get("/api/staff/me", headers=admin).status_code == 401


def test_expired_token_is_refused(h):
    admin = h.staff_headers()
    with transaction(h.app.state.sessions) as db:
        db.execute(update(StaffToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert h.client.get("/api/forms", headers=admin).status_code == 401


def test_admin_creates_users_and_links(h):
    admin = h.staff_headers()
    r = h.client.post("/api/staff/users", headers=admin, json={"username": "bob", "password": "short", "role": "analyst"})
    assert r.status_code == 400
    r = h.client.post("/api/staff/users", headers=admin, json={"username": "bob", "password": "long-enough-1", "role": "boss"})
    assert r.status_code == 400
    assert h.client.post("/api/staff/users", headers=admin,
                         json={"username": "bob", "password": "long-enough-1", "role": "analyst"}).status_code == 201
    assert h.client.post("/api/staff/users", headers=admin,
                         json={"username": "bob", "password": "long-enough-1", "role": "analyst"}).status_code == 409
    assert h.staff_headers("bob", "long-enough-1")
    r = h.client.post("/api/links", headers=admin, json={"form_id": "teste", "municipality": "355030",
                                                          "clinic": "2077485", "team": "0000000001"})
    assert r.status_code == 400 and "7-digit" in r.json()["detail"]
    r = h.client.post("/api/links", headers=admin, json={"form_id": "nope", "municipality": "3550308",
                                                          "clinic": "2077485", "team": "0000000001"})
    assert r.status_code == 404
    r = h.client.post("/api/links", headers=admin, json={"form_id": "teste", "municipality": "3304557",
                                                          "clinic": "1234567", "team": "0000000009"}).json()
    assert r["url"] == f"/r/{r['token']}" and len(r["token"]) >= 40
    assert h.client.get(f"/api/r/{r['token']}").status_code == 200
    links = h.client.get("/api/links", headers=admin).json()["links"]
    assert [l["municipality"] for l in links] == ["3550308", "3304557"]
    actions = [e["action"] for e in h.client.get("/api/audit", headers=admin).json()["entries"]]
    assert actions[:2] == ["create_link", "login"] and "create_user" in actions


def test_report_access_is_audited(h):
    analyst = h.staff_headers("ana", ANALYST_PASSWORD)
    h.client.get("/api/export/answers.csv?form_id=teste", headers=analyst)
    entries = h.client.get("/api/audit", headers=h.staff_headers()).json()["entries"]
    assert any(e["staff"] == "ana" and e["action"] == "export_csv" and e["target"] == "teste" for e in entries)


def test_repeated_failed_logins_are_throttled_then_allowed_again(h):
    from transmodal.server.auth import LoginThrottle

    now = [1000.0]
    h.app.state.login_throttle = LoginThrottle(max_failures=3, window_s=60, clock=lambda: now[0])
    wrong = {"username": "admin", "password": "wrong"}
    for _ in range(3):
        assert h.client.post("/api/staff/login", json=wrong).status_code == 401
    r = h.client.post("/api/staff/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 60  # even the right password waits
    now[0] += 30
    assert h.client.post("/api/staff/login", json=wrong).status_code == 429  # a refused try adds no failure
    now[0] += 31
    assert h.client.get("/api/staff/me", headers=h.staff_headers()).json()["username"] == "admin"


def test_login_throttle_counts_per_key_within_the_window_and_forgets_on_success(h):
    from transmodal.server.auth import LoginThrottle
    from transmodal.server.db import transaction

    now = [0.0]
    t = LoginThrottle(max_failures=2, window_s=10, clock=lambda: now[0])

    def run(method, *keys):
        with transaction(h.app.state.sessions) as db:
            return getattr(t, method)(db, *keys)

    run("failed", "user:a", "addr:x")
    now[0] = 4.0
    run("failed", "user:a", "addr:y")
    assert run("retry_after", "user:a") == 6.0 and run("retry_after", "addr:x") == 0
    assert run("retry_after", "user:b", "addr:x") == 0 and run("retry_after", "user:b", "user:a") == 6.0
    now[0] = 10.5  # the first failure has left the window
    assert run("retry_after", "user:a") == 0
    run("failed", "user:a")  # also deletes the rows that left the window
    assert run("retry_after", "user:a") > 0
    assert h.table_counts()["login_failures"] == 3  # user:a at 4.0 and 10.5, addr:y at 4.0
    run("succeeded", "user:a")
    assert run("retry_after", "user:a") == 0 and h.table_counts()["login_failures"] == 1
    with pytest.raises(ValueError):
        LoginThrottle(max_failures=0)


def test_failed_logins_count_across_server_processes_sharing_the_database(h, tmp_path):
    """Two apps on one database stand for two server processes: failures on one are refused on the other,
    and a restarted server remembers them."""
    from fastapi.testclient import TestClient

    from transmodal.server.app import create_app

    wrong = {"username": "admin", "password": "wrong"}
    other = create_app(h.settings, recognizer=h.asr, tts=h.tts)
    with TestClient(other) as second:
        for client in (h.client, second, h.client, second):
            assert client.post("/api/staff/login", json=wrong).status_code == 401
        assert second.post("/api/staff/login", json=wrong).status_code == 401  # the 5th failure (default: 5)
        assert h.client.post("/api/staff/login", json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 429
    other.state.engine.dispose()
    restarted = create_app(h.settings, recognizer=h.asr, tts=h.tts)
    with TestClient(restarted) as third:
        r = third.post("/api/staff/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 900
    restarted.state.engine.dispose()


def test_login_fields_are_bounded(h):
    """An overlong username or password is refused before any hashing or database work (400, naming the field)."""
    r = h.client.post("/api/staff/login", json={"username": "a" * 101, "password": "x" * 12})
    assert r.status_code == 400 and "username" in r.json()["detail"]
    r = h.client.post("/api/staff/login", json={"username": "admin", "password": "x" * 1025})
    assert r.status_code == 400 and "password" in r.json()["detail"]
    assert h.table_counts()["login_failures"] == 0
    assert h.client.post("/api/staff/login", json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 200
    r = h.client.post("/api/staff/users", headers=h.staff_headers(),
                      json={"username": "long", "password": "y" * 1025, "role": "analyst"})
    assert r.status_code == 400 and "10 to 1024 characters" in r.json()["detail"]  # no account that could never log in

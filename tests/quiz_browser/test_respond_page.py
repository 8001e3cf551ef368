"""The respondent page and the dashboard in headless chromium against the real server app, with a
stand-in recogniser that hears tones (tone_server.py), so these run without the `pt-quiz` model:
consent by voice and by tap, a silent answer re-asked, a read-back confirmed, options tapped (buttons,
month/year pickers), a reload that resumes the session, refusal that ends it with nothing kept, and the
dashboard's login, charts with suppressed groups and CSV export."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tone_server import start_app, tone_for, write_tone
from voice_driver import (CHROMIUM, FakeMicrophone, chromium_args, current_question, screen_kind, speak,
                          then_next_screen, write_silence)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    running, stop = start_app(tmp_path_factory.mktemp("quiz-data"))
    yield running
    stop()


@pytest.fixture(scope="module")
def mic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mic")
    return FakeMicrophone(folder / "mic.wav", write_silence(folder / "silence.wav"))


@pytest.fixture(scope="module")
def browser(playwright_driver, mic):
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                args=chromium_args(mic.path))
    yield browser
    browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tones")
    return lambda text: write_tone(folder / f"{tone_for(text)}.wav", tone_for(text))


def staff(app) -> httpx.Client:
    client = httpx.Client(base_url=app.url, timeout=30)
    token = client.post("/api/staff/login", json={"username": "admin", "password": app.admin_password})
    client.headers["Authorization"] = f"Bearer {token.raise_for_status().json()['token']}"
    return client


def answers_csv(app) -> list[dict]:
    client = staff(app)
    try:
        form_id = client.get("/api/forms").raise_for_status().json()["forms"][0]["form_id"]
        text = client.get("/api/export/answers.csv", params={"form_id": form_id}).raise_for_status().text
    finally:
        client.close()
    return list(csv.DictReader(io.StringIO(text)))


def respond_by_api(app) -> str:
    """One respondent who consents and taps the first option of every question (or 30 / 2026-01 / "ok")."""
    with httpx.Client(base_url=app.url, timeout=30) as c:
        s = c.post(f"/api/r/{app.demo_token}/sessions").raise_for_status().json()
        c.headers["X-Session-Secret"] = s["session_secret"]
        base = f"/api/sessions/{s['session_id']}"
        for p in s["consent_prompts"]:
            body = {"purpose": p["purpose"], "granted": True, "mode": "click"}
            c.post(f"{base}/consent", json=body).raise_for_status()
        while not (nxt := c.get(f"{base}/next").raise_for_status().json())["done"]:
            q = nxt["question"]
            value = {"note": None, "integer": 30, "date": "2026-01", "text": "ok"}.get(q["type"], "")
            body = {} if q["type"] == "note" else {"value": value if value != "" else q["choices"][0]["name"]}
            c.post(f"{base}/answers/{q['name']}/choose", json=body).raise_for_status()
    return s["session_id"]


def test_whole_questionnaire_by_voice_and_tap_with_reask_confirm_and_resume(app, page, mic, tones):
    before = {r["session_id"] for r in answers_csv(app)}
    page.goto(f"{app.url}/r/{app.demo_token}")
    assert then_next_screen(page, lambda: page.click("#begin")) == "consent"

    res, kind = speak(page, mic, tones("sim"), "/consent")          # purpose 1 by voice
    assert (res["understood"], res["granted"], kind) == (True, True, "consent")
    assert "Autorização registrada" in page.locator("#flash").inner_text()
    kind = then_next_screen(page, lambda: page.click("#consent-no"))  # keep audio: no (tap)
    kind = then_next_screen(page, lambda: page.click("#consent-no"))  # contact again: no (tap)
    assert kind == "note"
    assert then_next_screen(page, lambda: page.click("#continue")) == "question"
    assert current_question(page) == "consultou"

    # Silence is "no answer": the page shows the re-ask, then the spoken "sim" is stored.
    res, kind = speak(page, mic, mic.silence, "/answers/consultou")
    assert (res["decision"], res["understood"], kind) == ("reask", False, "question")
    assert page.locator("#reask").inner_text().strip()
    assert page.locator("#mic").inner_text().startswith("Responder de novo")
    res, kind = speak(page, mic, tones("sim"), "/answers/consultou")
    assert res["decision"] == "accept" and res["stored"] is True
    assert page.locator("#flash").inner_text() == "✓ Resposta guardada: Sim"

    # A low-confidence number is read back; a spoken "sim" confirms and stores it.
    assert current_question(page) == "idade"
    res, kind = speak(page, mic, tones("trinta e dois"), "/answers/idade")
    assert (res["decision"], kind) == ("confirm", "confirm")
    assert page.locator("#understood strong").inner_text() == "32"
    res, kind = speak(page, mic, tones("sim"), "/answers/idade/confirm")
    assert (res["decision"], res["stored"]) == ("accept", True)

    # A reload resumes the session on the same question (sessionStorage).
    assert current_question(page) == "mes_consulta"
    page.reload()
    assert screen_kind(page) == "question" and current_question(page) == "mes_consulta"
    page.click("#tap summary")
    page.select_option("select[name=month]", "03")
    page.select_option("select[name=year]", "2026")
    kind = then_next_screen(page, lambda: page.get_by_role("button", name="Enviar data").click())

    assert current_question(page) == "espera"
    res, kind = speak(page, mic, tones("até 15 minutos"), "/answers/espera")
    assert res["value"] == "ate_15"
    res, kind = speak(page, mic, tones("ruim"), "/answers/satisfacao")
    assert res["value"] == "ruim"
    res, kind = speak(page, mic, tones("raramente"), "/answers/explicacao")
    # "ruim" makes the follow-up relevant; answer it by tapping a choice button.
    assert current_question(page) == "melhorar"
    page.click("#tap summary")
    kind = then_next_screen(page, lambda: page.click("button[data-choice=estrutura]"))
    assert current_question(page) == "recomendaria"
    refuse = page.get_by_role("button", name="Prefiro não responder", exact=True)
    kind = then_next_screen(page, lambda: (page.click("#tap summary"), refuse.click()))
    res, kind = speak(page, mic, tones("o atendimento foi bom"), "/answers/comentario")
    assert kind == "note"
    assert then_next_screen(page, lambda: page.click("#continue")) == "done"

    rows = [r for r in answers_csv(app) if r["session_id"] not in before]
    got = {r["question"]: (r["value"], r["code"], r["input_mode"], r["attempts"]) for r in rows}
    assert got == {
        "consultou": ("sim", "", "voice", "2"),
        "idade": ("32", "", "voice", "1"),
        "mes_consulta": ("2026-03", "", "click", "1"),
        "espera": ("ate_15", "", "voice", "1"),
        "satisfacao": ("ruim", "", "voice", "1"),
        "explicacao": ("raramente", "", "voice", "1"),
        "melhorar": ("estrutura", "", "click", "1"),
        "recomendaria": ("", "refused", "click", "1"),
        "comentario": ("o atendimento foi bom", "", "voice", "1"),
    }
    # Every voice upload reached the recogniser as the tone that was played (± a few Hz).
    heard = dict(app.recognizer.heard)
    assert abs(heard["satisfacao"] - tone_for("ruim")) < 10


def test_refusing_to_store_answers_ends_the_session_and_keeps_nothing(app, page):
    before = len(answers_csv(app))
    page.goto(f"{app.url}/r/{app.demo_token}")
    then_next_screen(page, lambda: page.click("#begin"))
    session_id = page.evaluate(
        "() => JSON.parse(Object.values(sessionStorage).find(v => v.includes('session_id'))).session_id")
    assert then_next_screen(page, lambda: page.click("#consent-no")) == "ended"
    assert "nada foi guardado" in page.locator("#screen").inner_text()
    assert page.evaluate("() => sessionStorage.length") == 0
    assert len(answers_csv(app)) == before
    r = httpx.get(f"{app.url}/api/sessions/{session_id}/next", headers={"X-Session-Secret": "x"})
    assert r.status_code == 404


def test_phone_for_contact_then_withdrawal_erases_everything(app, page):
    page.goto(f"{app.url}/r/{app.demo_token}")
    kind = then_next_screen(page, lambda: page.click("#begin"))
    while kind == "consent":                                 # yes to all three purposes, by tap
        kind = then_next_screen(page, lambda: page.click("#consent-yes"))
    while kind != "done":                                    # "Não sei" to every question
        if kind == "note":
            kind = then_next_screen(page, lambda: page.click("#continue"))
        else:
            dont_know = page.get_by_role("button", name="Não sei", exact=True)
            kind = then_next_screen(page, lambda: (page.click("#tap summary"), dont_know.click()))
    session_id = page.evaluate(
        "() => JSON.parse(Object.values(sessionStorage).find(v => v.includes('session_id'))).session_id")

    page.fill("#phone", "(11) 91234-5678")
    page.click("#phone-send")
    page.wait_for_selector("#phone-saved")
    client = staff(app)
    try:
        found = client.post("/api/privacy/export", json={"identifier_kind": "phone", "identifier": "11912345678"})
        assert [s["session_id"] for s in found.raise_for_status().json()["sessions"]] == [session_id]

        page.click("#withdraw")
        assert then_next_screen(page, lambda: page.click("#withdraw-yes")) == "withdrawn"
        assert page.evaluate("() => sessionStorage.length") == 0
        assert session_id not in {r["session_id"] for r in answers_csv(app)}
        gone = client.post("/api/privacy/export", json={"session_id": session_id})
        assert gone.status_code == 404
    finally:
        client.close()


def test_a_wrong_link_says_so(app, page):
    page.goto(f"{app.url}/r/not-a-real-token")
    page.wait_for_selector("text=Link inválido")
    assert "não existe" in page.locator("#screen").inner_text()


def test_dashboard_login_charts_suppression_and_csv(app, page):
    respond_by_api(app)
    page.goto(f"{app.url}/dashboard")
    page.fill("#username", "admin")
    page.fill("#password", "wrong password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#error:not(.hidden)")
    assert "incorretos" in page.locator("#error").inner_text()

    page.fill("#password", app.admin_password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#questions section[data-question=satisfacao] svg")
    assert int(page.locator("#totals .card").first.inner_text().split()[0]) >= 1
    assert page.locator("#over-time svg polyline").count() == 3
    # One group with a single respondent (< 10): drawn as suppressed, with no figures.
    card = page.locator("section[data-question=satisfacao]")
    assert card.locator("rect.suppressed").count() == 1
    assert card.locator("rect.segment").count() == 0
    assert "suprimido" in card.inner_text()

    # Admin: create a respondent link; it is listed with its full URL.
    page.fill("#link-municipality", "3304557")
    page.fill("#link-clinic", "2269880")
    page.fill("#link-team", "0000012345")
    page.click("#link-form button[type=submit]")
    page.wait_for_selector("#links-table td:text('2269880')")
    new_link = page.locator("#links-table tr", has_text="2269880").locator("a").inner_text()
    assert new_link.startswith(f"{app.url}/r/") and httpx.get(new_link).status_code == 200

    page.select_option("#by-select", "team")
    page.wait_for_selector("section[data-question=satisfacao] svg")
    with page.expect_download() as download:
        page.click("#csv")
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.splitlines()[0].startswith("form_id,form_version,session_id")
    assert ",satisfacao," in text

    page.click("#logout")
    page.wait_for_selector("#login:not(.hidden)")

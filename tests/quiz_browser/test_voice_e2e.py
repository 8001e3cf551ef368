"""End to end, by voice: the real server (`transmodal serve`, SQLite in a temp folder, the `pt-quiz` speech
model), Debian's chromium with a fake microphone fed from espeak-ng pt-BR recordings, and the respondent
page answering the demo questionnaire from the first consent to the thank-you screen. The stored answers
are then read back through the staff CSV export.

Skipped when /usr/bin/chromium is missing, and when the `pt-quiz` speech model is not shipped (then no
server can recognise speech).
"""

from __future__ import annotations

import csv
import io

import pytest

from serve_process import serve, staff_client
from voice_answers import spoken_answer, synthesise
from voice_driver import (CHROMIUM, FakeMicrophone, chromium_args, current_question, speak, then_next_screen,
                          write_silence)

MAX_SCREENS = 40


def _require_model():
    from transmodal.hub import shipped_models

    if "pt-quiz" not in shipped_models():
        pytest.skip("model pt-quiz not available (transmodal.hub.shipped_models() lacks it): "
                    "no speech recognition to answer by voice")


def expected_label(question: dict, value) -> str | None:
    """The label the page should read back for `value` (None: any read-back is acceptable)."""
    if value is None:
        return None
    for c in question.get("choices") or []:
        if c["name"] == value:
            return c["label"]
    return str(value)


def test_demo_questionnaire_answered_by_voice(tmp_path, playwright_driver):
    _require_model()
    with serve(tmp_path / "data") as url:
        staff = staff_client(url)
        link = staff.get("/api/links").raise_for_status().json()["links"][0]
        form = staff.get(f"/api/forms/{link['form_id']}").raise_for_status().json()
        questions = {q["name"]: q for q in form["questions"]}
        answers = {name: spoken_answer(q) for name, q in questions.items() if q["type"] != "note"}
        wavs = {name: synthesise(a.text, tmp_path / "wavs") for name, a in answers.items()}
        yes = synthesise("sim", tmp_path / "wavs")
        mic = FakeMicrophone(tmp_path / "mic.wav", write_silence(tmp_path / "silence.wav"))

        browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                    args=chromium_args(mic.path))
        log = []
        try:
            page = browser.new_context().new_page()
            page.goto(url + link["url"])
            kind = then_next_screen(page, lambda: page.click("#begin"))
            assert kind == "consent"

            # Consent 1 (store my answers) by voice; "no" to keeping audio and to being contacted, by tap.
            res, kind = speak(page, mic, yes, "/consent")
            log.append(f"consent by voice: {res}")
            if not res["understood"]:
                kind = then_next_screen(page, lambda: page.click("#consent-yes"))
            else:
                assert res["granted"] is True
            while kind == "consent":
                kind = then_next_screen(page, lambda: page.click("#consent-no"))

            for _ in range(MAX_SCREENS):
                if kind == "done":
                    break
                if kind == "note":
                    kind = then_next_screen(page, lambda: page.click("#continue"))
                    continue
                name = current_question(page)
                if kind == "confirm":
                    heard = page.locator("#understood strong").inner_text().strip()
                    want = expected_label(questions[name], answers[name].expected)
                    right = want is None or heard.lower() == want.lower()
                    log.append(f"{name}: read back {heard!r}, {'confirm' if right else 'reject'}")
                    kind = then_next_screen(page, lambda: page.click("#confirm-yes" if right else "#confirm-no"))
                    continue
                res, kind = speak(page, mic, wavs[name], f"/answers/{name}")
                log.append(f"{name}: said {answers[name].text!r} → {res['decision']} "
                           f"{res.get('transcript')!r} ({res.get('confidence')})")
            assert kind == "done", "the questionnaire did not finish:\n" + "\n".join(log)
            assert "Obrigado" in page.locator("#done").inner_text()
        finally:
            browser.close()

        rows = list(csv.DictReader(io.StringIO(
            staff.get("/api/export/answers.csv", params={"form_id": link["form_id"]}).raise_for_status().text)))
    report = "\n".join(log)
    stored = {r["question"]: r for r in rows}
    assert len(stored) == len(rows), f"an answer was stored twice:\n{rows}"
    assert {r["session_id"] for r in rows} and len({r["session_id"] for r in rows}) == 1
    # Every question that is not a note was asked ("melhorar" too: the spoken Likert answer is "ruim").
    assert set(stored) == set(answers), f"stored {sorted(stored)}, expected {sorted(answers)}\n{report}"
    for name, row in stored.items():
        assert row["input_mode"] == "voice", (name, row)
        assert row["model_version"], (name, row)
        assert row["transcript"] or row["code"], (name, row)
        want = answers[name].expected
        if want is not None:
            assert (row["value"], row["code"]) == (str(want), ""), f"{name}: {row}\n{report}"
        else:
            assert row["value"] or row["code"] in ("dont_know", "refused"), (name, row)

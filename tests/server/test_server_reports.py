"""Reports: answers over time, distributions by group with small groups suppressed, CSV export."""

import csv
import io

from server_harness import wav_bytes

TEAM_A, TEAM_B, TEAM_C = "0000000001", "0000000002", "0000000003"


def _respond(h, token, consultou, nota, idade):
    sid, hd = h.start(token)
    h.choose(sid, hd, "intro")
    assert h.choose(sid, hd, "consultou", value=consultou).status_code == 200
    assert h.choose(sid, hd, "idade", value=idade).status_code == 200
    if consultou == "sim":
        h.choose(sid, hd, "espera", code="refused")
    assert h.choose(sid, hd, "nota", value=nota).status_code == 200
    return sid


def test_small_groups_are_suppressed(h):
    admin = h.staff_headers()
    link_b = h.add_link(team=TEAM_B)
    notas = ["bom"] * 6 + ["regular"] * 3 + ["ruim"]               # 10 people in team A
    for i, nota in enumerate(notas):
        _respond(h, h.token, "sim" if i % 2 else "nao", nota, 20 + i)
    for nota in ["bom"] * 9:                                       # 9 people in team B: suppressed
        _respond(h, link_b, "sim", nota, 50)
    r = h.client.get("/api/reports/questions?form_id=teste&by=team", headers=admin).json()
    assert r["min_group_size"] == 10 and r["by"] == "team"
    q = {x["name"]: x for x in r["questions"]}
    assert "intro" not in q
    a, b = q["nota"]["groups"]
    assert b == {"group": TEAM_B, "respondents": None, "suppressed": True, "counts": None, "codes": None, "stats": None}
    # Team A has 10 people, but the clinic (shown below) minus team A would give back team B's 9 answers:
    # complementary suppression hides A too.
    assert a == {"group": TEAM_A, "respondents": None, "suppressed": True, "counts": None, "codes": None, "stats": None}
    # 'espera' was answered (with a code) by 5 people in team A and 9 in B: both suppressed
    assert all(g["suppressed"] for g in q["espera"]["groups"])
    by_clinic = h.client.get("/api/reports/questions?form_id=teste&by=clinic", headers=admin).json()
    nota_clinic = {x["name"]: x for x in by_clinic["questions"]}["nota"]["groups"]
    assert nota_clinic == [{"group": "2077485", "respondents": 19, "suppressed": False,
                            "counts": {"bom": 15, "regular": 3, "ruim": 1}, "codes": {"dont_know": 0, "refused": 0},
                            "stats": None}]
    espera = {x["name"]: x for x in by_clinic["questions"]}["espera"]["groups"][0]
    assert espera["respondents"] == 14 and espera["codes"]["refused"] == 14 and espera["counts"] == {"curta": 0, "longa": 0}
    # A third team of 10: hiding the smallest visible team (A, before C by name) leaves 19 people behind the
    # suppressed teams, enough; C is shown.
    link_c = h.add_link(team=TEAM_C)
    for i in range(10):
        _respond(h, link_c, "nao", "regular", 30 + i)
    by_team = {x["name"]: x for x in h.client.get("/api/reports/questions?form_id=teste&by=team",
                                                  headers=admin).json()["questions"]}
    assert [(g["group"], g["suppressed"]) for g in by_team["nota"]["groups"]] == [
        (TEAM_A, True), (TEAM_B, True), (TEAM_C, False)]
    c = by_team["nota"]["groups"][2]
    assert c["respondents"] == 10 and c["counts"] == {"bom": 0, "regular": 10, "ruim": 0}
    assert by_team["idade"]["groups"][2]["stats"] == {"n": 10, "mean": 34.5, "median": 34.5, "min": 30, "max": 39}
    bad = h.client.get("/api/reports/questions?form_id=teste&by=name", headers=admin)
    assert bad.status_code == 400 and "municipality" in bad.json()["detail"]
    assert h.client.get("/api/reports/questions?form_id=nope&by=team", headers=admin).status_code == 404


def test_complementary_suppression_hides_the_smallest_visible_group_until_enough_people_are_behind():
    from transmodal.server.reports import suppressed_groups

    people = {"a": set(range(12)), "b": set(range(12, 23)), "c": set(range(23, 26)), "d": set(range(30, 50))}
    clinic_1 = {g: people[g] for g in "abc"}  # c (3 people) is small; b (11) is the smallest visible beside it
    clinic_2 = {"d": people["d"]}
    assert suppressed_groups(people, [clinic_1, clinic_2], 10) == {"b", "c"}
    assert suppressed_groups(people, [], 10) == {"c"}  # no larger unit published: nothing to subtract from
    assert suppressed_groups(people, [clinic_1], 2) == set()  # nobody small: nothing hidden
    everyone_small = {"x": {1}, "y": {2}}
    assert suppressed_groups(everyone_small, [everyone_small], 10) == {"x", "y"}
    # a hidden group counted in two units (a team, its clinic and its municipality) is checked against both
    muni = {**clinic_1, "d": people["d"]}
    assert suppressed_groups(people, [clinic_1, muni], 10) == {"b", "c"}


def test_overview_counts(h):
    admin = h.staff_headers()
    _respond(h, h.token, "sim", "bom", 30)
    sid, hd = h.start()                         # consented, nothing answered yet
    h.client.post(f"/api/r/{h.token}/sessions")  # still at the consent step
    r = h.client.get("/api/reports/overview?form_id=teste", headers=admin).json()
    assert (r["sessions"], r["consented"], r["completed"], r["answers"]) == (3, 2, 0, 4)
    assert len(r["over_time"]) == 1 and r["over_time"][0]["answers"] == 4 and r["over_time"][0]["sessions"] == 3


def test_csv_export_one_row_per_answer(h):
    admin = h.staff_headers()
    sid = _respond(h, h.token, "sim", "regular", 41)
    sid2, hd2 = h.start()
    h.choose(sid2, hd2, "intro")
    h.asr.script.append(("sim, com certeza", 0.97))
    h.client.post(f"/api/sessions/{sid2}/answers/consultou", headers=hd2,
                  files={"audio": ("a.wav", wav_bytes(), "audio/wav")})
    r = h.client.get("/api/export/answers.csv?form_id=teste", headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 5
    first = {row["question"]: row for row in rows if row["session_id"] == sid}
    assert set(first) == {"consultou", "idade", "espera", "nota"}
    assert first["idade"]["value"] == "41" and first["idade"]["type"] == "integer"
    assert first["espera"]["value"] == "" and first["espera"]["code"] == "refused"
    assert first["nota"]["label"] == "Regular" and first["nota"]["input_mode"] == "click"
    assert (first["nota"]["municipality"], first["nota"]["clinic"], first["nota"]["team"]) == ("3550308", "2077485", TEAM_A)
    voice = [row for row in rows if row["session_id"] == sid2][0]
    assert (voice["input_mode"], voice["transcript"], voice["model_version"], voice["confidence"]) == \
        ("voice", "sim, com certeza", "fake-asr-1", "0.9700")
    assert voice["normaliser_version"] and voice["answered_at"].endswith("Z")
    assert list(rows[0]) == list(csv.reader(io.StringIO(r.text)))[0] and "needs_review" in rows[0]

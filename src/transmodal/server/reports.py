"""Aggregates for the dashboard and the CSV export.

Suppression: a group (municipality, clinic or team) in which fewer than ``min_group_size`` people answered a
question shows no numbers for that question, so nobody's answer can be picked out of a small team. Only
sessions with consent to store answers exist at all (refusals are erased), so every answer counts.

Complementary suppression: a clinic's figures minus those of its visible teams would give back a suppressed
team's answers. So within every larger unit that contains the groups (the municipality of a clinic; the clinic
and the municipality of a team), the people of the suppressed groups must number none or at least
``min_group_size``; while they number fewer, the smallest visible group there is suppressed as well.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from transmodal.quiz.form import Form
from transmodal.server.models import Answer, FormRow, Link, QuizSession, iso

GROUPS = {"municipality": Link.municipality_ibge, "clinic": Link.clinic_cnes, "team": Link.team_ine}
CSV_COLUMNS = ("form_id", "form_version", "session_id", "municipality", "clinic", "team", "question", "type",
               "value", "code", "label", "transcript", "confidence", "attempts", "input_mode", "model_version",
               "normaliser_version", "needs_review", "answered_at")


def form_row(db: Session, form_id: str) -> FormRow:
    row = db.scalar(select(FormRow).where(FormRow.form_id == form_id))
    if row is None:
        raise LookupError(f"no form {form_id!r}; see GET /api/forms")
    return row


def overview(db: Session, form_id: str) -> dict:
    """Counts of sessions and answers, overall and per UTC day."""
    row = form_row(db, form_id)
    sessions = list(db.execute(select(QuizSession.id, QuizSession.status, QuizSession.started_at,
                                      QuizSession.completed_at).join(Link).where(Link.form_pk == row.id)))
    answer_times = list(db.scalars(select(Answer.at).join(QuizSession).join(Link).where(Link.form_pk == row.id)))
    days: dict[str, Counter] = defaultdict(Counter)
    for s in sessions:
        days[s.started_at.date().isoformat()]["sessions"] += 1
        if s.completed_at:
            days[s.completed_at.date().isoformat()]["completed"] += 1
    for t in answer_times:
        days[t.date().isoformat()]["answers"] += 1
    return {"form_id": row.form_id, "title": row.title, "sessions": len(sessions),
            "consented": sum(s.status != "consenting" for s in sessions),
            "completed": sum(s.status == "completed" for s in sessions), "answers": len(answer_times),
            "over_time": [{"date": d, "sessions": c["sessions"], "completed": c["completed"], "answers": c["answers"]}
                          for d, c in sorted(days.items())]}


def _stats(values: list[int]) -> dict:
    return {"n": len(values), "mean": round(statistics.fmean(values), 3), "median": statistics.median(values),
            "min": min(values), "max": max(values)} if values else {"n": 0, "mean": None, "median": None,
                                                                      "min": None, "max": None}


def _group_entry(q, group: str, answers: list, min_size: int, hidden: bool = False) -> dict:
    people = len({a.session_id for a in answers})
    if hidden or people < min_size:
        return {"group": group, "respondents": None, "suppressed": True, "counts": None, "codes": None, "stats": None}
    values = [a.value for a in answers if a.code is None]
    codes = Counter(a.code for a in answers if a.code)
    entry = {"group": group, "respondents": people, "suppressed": False, "counts": None,
             "codes": {"dont_know": codes["dont_know"], "refused": codes["refused"]}, "stats": None}
    if q.has_choices:
        counts = Counter(str(v) for v in values)
        entry["counts"] = {c.name: counts[c.name] for c in q.choices}
    elif q.type == "integer":
        ints = sorted(int(v) for v in values)
        entry["counts"] = {str(k): n for k, n in sorted(Counter(ints).items())}
        entry["stats"] = _stats(ints)
    elif q.type == "date":
        entry["counts"] = dict(sorted(Counter(str(v)[:7] for v in values).items()))
    return entry


def suppressed_groups(people: dict[str, set], units: list[dict[str, set]], min_size: int) -> set[str]:
    """Groups to suppress: those with fewer than ``min_size`` people, then, until none is left, the smallest visible
    group of any unit (``{group: its people in the unit}``) whose suppressed groups hold 1 … min_size − 1 people."""
    hidden = {g for g, p in people.items() if len(p) < min_size}
    changed = True
    while changed:
        changed = False
        for children in units:
            behind = set().union(*(p for g, p in children.items() if g in hidden))
            visible = sorted((len(people[g]), g) for g in children if g not in hidden)
            if 0 < len(behind) < min_size and visible:
                hidden.add(visible[0][1])
                changed = True
    return hidden


def distribution(db: Session, form_id: str, by: str, min_size: int) -> dict:
    """Each question's answers counted per group, groups under ``min_size`` respondents suppressed."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}, got {by!r}")
    row = form_row(db, form_id)
    form = Form.from_dict(row.definition)
    levels = list(GROUPS)
    above = levels[: levels.index(by)]  # the larger units that contain a group of this level
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    # question → (larger level, its code) → group → sessions of that group inside it
    inside: dict[str, dict[tuple[str, str], dict[str, set]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(set)))
    groups = set()
    for a, *codes in db.execute(select(Answer, *GROUPS.values()).join(QuizSession, Answer.session_id == QuizSession.id)
                                .join(Link).where(Link.form_pk == row.id)):
        path = dict(zip(levels, codes))
        g = path[by]
        grouped[(a.question, g)].append(a)
        groups.add(g)
        for level in above:
            inside[a.question][(level, path[level])][g].add(a.session_id)
    questions = []
    for q in form.questions:
        if q.type == "note":
            continue
        people = {g: {a.session_id for a in grouped[(q.name, g)]} for g in groups if grouped[(q.name, g)]}
        hidden = suppressed_groups(people, list(inside[q.name].values()), min_size)
        questions.append({"name": q.name, "label": q.label, "type": q.type,
                          "choices": [{"name": c.name, "label": c.label} for c in q.choices],
                          "groups": [_group_entry(q, g, grouped[(q.name, g)], min_size, g in hidden)
                                     for g in sorted(people)]})
    return {"form_id": row.form_id, "by": by, "min_group_size": min_size, "questions": questions}


def answers_csv(db: Session, form_id: str) -> str:
    """One CSV row per stored answer of the form, with its metadata (columns :data:`CSV_COLUMNS`)."""
    row = form_row(db, form_id)
    form = Form.from_dict(row.definition)
    types = {q.name: q.type for q in form.questions}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    query = (select(Answer, Link).join(QuizSession, Answer.session_id == QuizSession.id).join(Link)
             .where(Link.form_pk == row.id).order_by(Answer.at, Answer.id))
    for a, link in db.execute(query):
        w.writerow([row.form_id, row.version, a.session_id, link.municipality_ibge, link.clinic_cnes, link.team_ine,
                    a.question, types.get(a.question, ""), "" if a.value is None else a.value, a.code or "",
                    a.label or "", a.transcript or "", "" if a.confidence is None else f"{a.confidence:.4f}",
                    a.attempts, a.input_mode, a.model_version or "", a.normaliser_version or "",
                    int(bool(a.needs_review)), iso(a.at)])
    return out.getvalue()

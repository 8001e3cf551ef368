"""Staff endpoints: login, accounts, forms, links, reports, CSV export, privacy requests, audit log.

Analysts may read reports and export answers; everything else needs an admin. Reading answers or
personal data is written to the audit log in the same transaction.
"""

from __future__ import annotations

import math
import re
import secrets
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from transmodal.server import auth, privacy, reports
from transmodal.server.db import transaction
from transmodal.server.forms_store import import_form
from transmodal.server.models import AuditEntry, FormRow, Link, QuizSession, StaffToken, StaffUser, iso

router = APIRouter(tags=["staff"])
CODE_FORMATS = {"municipality": (7, "IBGE municipality code"), "clinic": (7, "CNES"), "team": (10, "INE")}


class LoginBody(BaseModel):
    username: str = Field(max_length=auth.MAX_USERNAME)
    password: str = Field(max_length=auth.MAX_PASSWORD)


class UserBody(BaseModel):
    username: str
    password: str
    role: str = "analyst"


class LinkBody(BaseModel):
    form_id: str
    municipality: str
    clinic: str
    team: str


class PrivacyBody(BaseModel):
    identifier_kind: str | None = None
    identifier: str | None = None
    session_id: str | None = None


@router.post("/api/staff/login")
def login(body: LoginBody, request: Request):
    st = request.app.state
    keys = (f"user:{body.username.strip()}", f"addr:{request.client.host if request.client else 'unknown'}")
    result = None
    with transaction(st.sessions) as db:  # one transaction: the count read and the failure written together
        wait = st.login_throttle.retry_after(db, *keys)
        if wait <= 0:
            result = auth.login(db, st.hasher, body.username, body.password, st.settings.token_hours)
            if result is None:
                st.login_throttle.failed(db, *keys)  # committed with the transaction, before the 401 below
            else:
                st.login_throttle.succeeded(db, keys[0])
                token, row = result
                auth.audit(db, row.user.username, "login", row.user.username)
                answer = {"token": token, "username": row.user.username, "role": row.user.role,
                          "expires_at": iso(row.expires_at)}
    if wait > 0:
        seconds = math.ceil(wait)
        raise HTTPException(429, f"too many failed logins; try again in {seconds} s", headers={"Retry-After": str(seconds)})
    if result is None:
        raise HTTPException(401, "wrong username or password")
    return answer


@router.post("/api/staff/logout")
def logout(request: Request, user: StaffUser = Depends(auth.staff)):
    token = auth._bearer(request)
    with transaction(request.app.state.sessions) as db:
        row = db.scalar(select(StaffToken).where(StaffToken.token_hash == auth.token_hash(token)))
        if row is not None:
            db.delete(row)
    return {"ok": True}


@router.get("/api/staff/me")
def me(user: StaffUser = Depends(auth.staff)):
    return {"username": user.username, "role": user.role}


@router.post("/api/staff/users", status_code=201)
def create_user(body: UserBody, request: Request, user: StaffUser = Depends(auth.admin)):
    with transaction(request.app.state.sessions) as db:
        try:
            new = auth.create_user(db, request.app.state.hasher, body.username, body.password, body.role)
        except LookupError as e:
            raise HTTPException(409, str(e).strip("'\"")) from None
        except ValueError as e:
            raise HTTPException(400, str(e)) from None
        auth.audit(db, user.username, "create_user", f"{new.username} ({new.role})")
        return {"username": new.username, "role": new.role}


def _form_summary(row: FormRow) -> dict:
    return {"form_id": row.form_id, "version": row.version, "title": row.title,
            "questions": len(row.definition.get("questions", [])), "imported_at": iso(row.imported_at)}


@router.get("/api/forms")
def list_forms(request: Request, user: StaffUser = Depends(auth.staff)):
    with transaction(request.app.state.sessions) as db:
        return {"forms": [_form_summary(r) for r in db.scalars(select(FormRow).order_by(FormRow.form_id))]}


@router.get("/api/forms/{form_id}")
def get_form(form_id: str, request: Request, user: StaffUser = Depends(auth.staff)):
    with transaction(request.app.state.sessions) as db:
        try:
            return reports.form_row(db, form_id).definition
        except LookupError as e:
            raise HTTPException(404, str(e).strip("'\"")) from None


@router.post("/api/forms", status_code=201)
async def upload_form(request: Request, file: UploadFile = File(...), user: StaffUser = Depends(auth.admin)):
    from transmodal.server.uploads import read_limited
    data = await read_limited(file, request.app.state.settings.max_upload_bytes)

    def run():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "form.xlsx"
            path.write_bytes(data)
            try:
                row = import_form(request.app.state.sessions, path)
            except ValueError as e:           # FormError (sheet/row/column) and unreadable workbooks
                raise HTTPException(400, str(e)) from None
        with transaction(request.app.state.sessions) as db:
            auth.audit(db, user.username, "import_form", f"{row.form_id} {row.version}")
        return _form_summary(row)
    return await run_in_threadpool(run)


def _link_json(link: Link, sessions: int | None = None) -> dict:
    out = {"token": link.token, "url": f"/r/{link.token}", "form_id": link.form.form_id,
           "municipality": link.municipality_ibge, "clinic": link.clinic_cnes, "team": link.team_ine,
           "created_at": iso(link.created_at)}
    if sessions is not None:
        out["sessions"] = sessions
    return out


def create_link(db, form_id: str, municipality: str, clinic: str, team: str) -> Link:
    """A new respondent link; ValueError for malformed codes, LookupError for an unknown form."""
    for field, value in (("municipality", municipality), ("clinic", clinic), ("team", team)):
        digits, what = CODE_FORMATS[field]
        if not re.fullmatch(rf"\d{{{digits}}}", value or ""):
            raise ValueError(f"{field} must be the {digits}-digit {what}, got {value!r}")
    row = reports.form_row(db, form_id)
    link = Link(token=secrets.token_urlsafe(32), form=row, municipality_ibge=municipality, clinic_cnes=clinic,
                team_ine=team)
    db.add(link)
    db.flush()
    return link


@router.post("/api/links", status_code=201)
def new_link(body: LinkBody, request: Request, user: StaffUser = Depends(auth.admin)):
    with transaction(request.app.state.sessions) as db:
        try:
            link = create_link(db, body.form_id, body.municipality, body.clinic, body.team)
        except LookupError as e:
            raise HTTPException(404, str(e).strip("'\"")) from None
        except ValueError as e:
            raise HTTPException(400, str(e)) from None
        auth.audit(db, user.username, "create_link", f"{body.form_id} {body.municipality}/{body.clinic}/{body.team}")
        return _link_json(link)


@router.get("/api/links")
def list_links(request: Request, user: StaffUser = Depends(auth.staff)):
    with transaction(request.app.state.sessions) as db:
        counts = dict(db.execute(select(QuizSession.link_id, func.count()).group_by(QuizSession.link_id)).all())
        return {"links": [_link_json(l, counts.get(l.id, 0)) for l in db.scalars(select(Link).order_by(Link.id))]}


def _report(request: Request, user: StaffUser, action: str, target: str, fn):
    with transaction(request.app.state.sessions) as db:
        try:
            result = fn(db)
        except LookupError as e:
            raise HTTPException(404, str(e).strip("'\"")) from None
        except ValueError as e:
            raise HTTPException(400, str(e)) from None
        auth.audit(db, user.username, action, target)
        return result


@router.get("/api/reports/overview")
def report_overview(form_id: str, request: Request, user: StaffUser = Depends(auth.staff)):
    return _report(request, user, "report", f"overview {form_id}", lambda db: reports.overview(db, form_id))


@router.get("/api/reports/questions")
def report_questions(form_id: str, request: Request, by: str = "clinic", user: StaffUser = Depends(auth.staff)):
    size = request.app.state.settings.min_group_size
    return _report(request, user, "report", f"questions {form_id} by {by}",
                   lambda db: reports.distribution(db, form_id, by, size))


@router.get("/api/export/answers.csv")
def export_csv(form_id: str, request: Request, user: StaffUser = Depends(auth.staff)):
    text = _report(request, user, "export_csv", form_id, lambda db: reports.answers_csv(db, form_id))
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{form_id}-answers.csv"'})


def _privacy_lookup(request: Request, db, body: PrivacyBody):
    try:
        pseud, sessions = privacy.find_sessions(db, request.app.state.key, body.model_dump())
    except ValueError as e:
        raise HTTPException(400, str(e)) from None
    if not sessions:
        raise HTTPException(404, "nothing is stored about this person or session")
    return pseud, sessions


def _who(pseud, body: PrivacyBody) -> str:
    return f"pseudonym {pseud[:12]}…" if pseud else f"session {body.session_id}"


@router.post("/api/privacy/export")
def privacy_export(body: PrivacyBody, request: Request, user: StaffUser = Depends(auth.admin)):
    with transaction(request.app.state.sessions) as db:
        pseud, sessions = _privacy_lookup(request, db, body)
        auth.audit(db, user.username, "privacy_export", _who(pseud, body))
        return {"pseudonym": pseud, "sessions": privacy.export_sessions(db, sessions)}


@router.post("/api/privacy/delete")
def privacy_delete(body: PrivacyBody, request: Request, user: StaffUser = Depends(auth.admin)):
    with transaction(request.app.state.sessions) as db:
        pseud, sessions = _privacy_lookup(request, db, body)
        ids = [s.id for s in sessions]
        counts = privacy.delete_person(db, pseud, sessions)
        auth.audit(db, user.username, "privacy_delete",      # the ids let a deletion be redone after a restore
                   f"deleted {len(ids)} sessions for {_who(pseud, body)}: {' '.join(ids)}")
    privacy.erase_files(request.app.state.settings, ids)
    return {"deleted": counts}


@router.get("/api/audit")
def audit_log(request: Request, limit: int = 100, user: StaffUser = Depends(auth.admin)):
    limit = max(1, min(limit, 1000))
    with transaction(request.app.state.sessions) as db:
        rows = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        return {"entries": [{"at": iso(r.at), "staff": r.staff, "action": r.action, "target": r.target} for r in rows]}


@router.post("/api/admin/purge-audio")
def purge(request: Request, user: StaffUser = Depends(auth.admin)):
    n = privacy.purge_audio(request.app.state.sessions, request.app.state.settings)
    with transaction(request.app.state.sessions) as db:
        auth.audit(db, user.username, "purge_audio", f"{n} recordings")
    return {"deleted": n}

"""First start: an admin account, the demo questionnaire and a demo link, so the app works at once.

Each step runs only when its table is empty, so restarting changes nothing. The admin password comes from
``$TRANSMODAL_ADMIN_PASSWORD`` or is generated and returned (printed once by ``transmodal serve``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select

from transmodal.server import auth
from transmodal.server.db import transaction
from transmodal.server.forms_store import demo_form_path, save_form
from transmodal.server.models import FormRow, Link, StaffUser

DEMO_PLACE = {"municipality": "3550308", "clinic": "2077485", "team": "0000000001"}  # São Paulo, example codes


@dataclass
class FirstStart:
    admin_password: str | None = None      # set only when this start generated it
    demo_token: str | None = None


def first_start(app) -> FirstStart:
    """Create what is missing (admin, demo form, a link); return what the operator must be told."""
    from transmodal.server.routes.staff import create_link

    st, out = app.state, FirstStart()
    with transaction(st.sessions) as db:
        if not db.scalar(select(func.count()).select_from(StaffUser)):
            password = os.environ.get("TRANSMODAL_ADMIN_PASSWORD")
            if not password:
                password = out.admin_password = secrets.token_urlsafe(12)
            auth.create_user(db, st.hasher, "admin", password, "admin")
            auth.audit(db, "system", "create_user", "admin (admin) on first start")
        if not db.scalar(select(func.count()).select_from(FormRow)):
            save_form(db, _demo_form())
        if not db.scalar(select(func.count()).select_from(Link)):
            form_id = db.scalar(select(FormRow.form_id).order_by(FormRow.id))
            out.demo_token = create_link(db, form_id, **DEMO_PLACE).token
        else:
            out.demo_token = db.scalar(select(Link.token).order_by(Link.id))
    return out


def _demo_form():
    from transmodal.quiz.xlsform import read_xlsform

    path = demo_form_path()
    if not path.exists():
        raise FileNotFoundError(f"the demo questionnaire {path} is missing from this installation")
    return read_xlsform(path)

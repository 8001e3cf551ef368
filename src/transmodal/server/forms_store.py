"""Putting questionnaires into the database: from an XLSForm file or a :class:`~transmodal.quiz.form.Form`.

Importing a form whose ``form_id`` exists replaces its definition (sessions already running keep their
answers; new questions are asked from then on).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from transmodal.quiz.form import Form
from transmodal.server.db import transaction
from transmodal.server.models import FormRow, utcnow


def save_form(db: Session, form: Form) -> FormRow:
    """Insert or replace the stored form with this ``form_id``."""
    row = db.scalar(select(FormRow).where(FormRow.form_id == form.form_id))
    if row is None:
        row = FormRow(form_id=form.form_id)
        db.add(row)
    row.version, row.title, row.definition, row.imported_at = form.version, form.title, form.to_dict(), utcnow()
    db.flush()
    return row


def import_form(factory, path: str | Path) -> FormRow:
    """Read an XLSForm workbook and store it; ``FormError`` (a ValueError naming sheet/row/column) if it is wrong."""
    from transmodal.quiz.xlsform import read_xlsform

    form = read_xlsform(path)
    with transaction(factory) as db:
        return save_form(db, form)


def demo_form_path() -> Path:
    """The shipped demo questionnaire (``transmodal/quiz/data/demo-satisfacao.xlsx``)."""
    return Path(__file__).resolve().parent.parent / "quiz" / "data" / "demo-satisfacao.xlsx"

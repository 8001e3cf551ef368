"""Small XLSForm workbooks written on the fly for the quiz tests."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

SURVEY_HEADER = ["type", "name", "label::Portuguese (pt)", "required", "constraint", "constraint_message", "relevant",
                 "appearance"]
CHOICES_HEADER = ["list_name", "name", "label::Portuguese (pt)"]
YES_NO = [["sn", "sim", "Sim"], ["sn", "nao", "Não"]]


def write_xlsform(path: Path, survey: list[list], choices: list[list] | None = None, settings: list[list] | None = None,
                  survey_header: list[str] | None = None, choices_header: list[str] | None = None) -> Path:
    """survey/choices/settings: data rows (header rows are added; settings' first row IS its header)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(survey_header or SURVEY_HEADER)
    for r in survey:
        ws.append(r)
    if choices is not None:
        wc = wb.create_sheet("choices")
        wc.append(choices_header or CHOICES_HEADER)
        for r in choices:
            wc.append(r)
    if settings is not None:
        st = wb.create_sheet("settings")
        for r in settings:
            st.append(r)
    wb.save(path)
    return path

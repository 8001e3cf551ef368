"""Read an XLSForm workbook (.xlsx, the ODK / KoboToolbox standard) into a :class:`~transmodal.quiz.form.Form`.

Sheets and columns (header names are case-insensitive; see docs/quiz.md for the whole story):

``survey``    type, name, label (``label::Portuguese (pt)``, ``label::pt`` or ``label``), hint, required,
              constraint, constraint_message, relevant, appearance; optional policy overrides
              ``accept_confidence``, ``confirm_confidence`` (0..1) and ``max_attempts`` (whole number ≥ 1)
``choices``   list_name, name, label (needed only when a ``select_one`` is used)
``settings``  form_id, version, default_language, form_title (optional sheet; defaults: the file name,
              "1", "pt", the form_id)

Types: ``integer``, ``select_one LIST``, ``date``, ``text``, ``note``; ``begin group`` / ``end group`` are
flattened (a group's ``relevant`` is joined to each of its questions' with ``and``); the metadata types
``start``, ``end`` and ``today`` are skipped. Anything else is a :class:`FormError` that names the sheet,
the 1-based Excel row and the column, as are unknown lists, repeated names, references to unknown
questions, bad expressions and missing sheets or columns.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from transmodal.quiz.expressions import ExpressionError, parse, references
from transmodal.quiz.form import Choice, Form, Question, fold, is_yes_no_pair

SUPPORTED_TYPES = ("integer", "select_one LIST", "date", "text", "note", "begin group", "end group")
SKIPPED_TYPES = ("start", "end", "today")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
TRUE_WORDS = {"yes", "true", "true()", "1", "sim"}
FALSE_WORDS = {"", "no", "false", "false()", "0", "nao"}

# Ordered answer scales recognised as Likert without the "likert" appearance (folded labels).
LIKERT_SCALES = (
    {"muito bom", "bom", "regular", "ruim", "muito ruim", "otimo", "pessimo"},
    {"muito satisfeito", "satisfeito", "nem satisfeito nem insatisfeito", "indiferente", "insatisfeito",
     "muito insatisfeito"},
    {"concordo totalmente", "concordo", "nem concordo nem discordo", "neutro", "discordo", "discordo totalmente"},
    {"sempre", "quase sempre", "as vezes", "raramente", "quase nunca", "nunca"},
)


class FormError(ValueError):
    """A problem in an XLSForm, located by sheet, 1-based Excel row and column (each may be None)."""

    def __init__(self, message: str, sheet: str | None = None, row: int | None = None, column: str | None = None):
        where = []
        if sheet:
            where.append(f"sheet '{sheet}'")
        if row:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.sheet, self.row, self.column, self.reason = sheet, row, column, message


class _Sheet:
    """A worksheet as header → column index, and its data rows with their Excel row numbers."""

    def __init__(self, ws, name: str):
        self.name = name
        rows = list(ws.iter_rows(values_only=True))
        header_at = next((i for i, r in enumerate(rows) if any(_cell(v) for v in r)), None)
        if header_at is None:
            raise FormError("the sheet is empty; it needs a header row", name)
        self.header_row = header_at + 1
        self.columns: dict[str, int] = {}  # lower-cased header → index
        self.headers: dict[str, str] = {}  # lower-cased header → as written
        for j, v in enumerate(rows[header_at]):
            key = _cell(v).lower()
            if key and key not in self.columns:
                self.columns[key], self.headers[key] = j, _cell(v)
        self.rows = [(header_at + 2 + i, r) for i, r in enumerate(rows[header_at + 1:]) if any(_cell(v) for v in r)]

    def require(self, *names: str) -> None:
        for n in names:
            if n not in self.columns:
                raise FormError(f"missing column '{n}' (the header row has: {', '.join(self.columns) or 'nothing'})",
                                self.name, self.header_row, n)

    def language_column(self, base: str, required: bool = False) -> str | None:
        """The Portuguese variant of a translatable column: ``base::Portuguese (pt)``, ``base::pt`` or ``base``."""
        options = [c for c in self.columns if c == base or c.startswith(base + "::")]
        for c in options:
            lang = c.partition("::")[2]
            if re.search(r"\(pt(-br)?\)|^pt(-br)?$|portugu", lang):
                return c
        if base in options:
            return base
        if required:
            found = f" (found {', '.join(options)}; none is Portuguese)" if options else ""
            raise FormError(f"missing column '{base}::Portuguese (pt)' or '{base}'{found}", self.name,
                            self.header_row, f"{base}::Portuguese (pt)")
        return None

    def get(self, row: tuple, column: str | None) -> str:
        if column is None or column not in self.columns:
            return ""
        j = self.columns[column]
        return _cell(row[j]) if j < len(row) else ""


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def read_xlsform(path: str | Path) -> Form:
    """Read and check an XLSForm .xlsx file; raises :class:`FormError` saying where any problem is."""
    from openpyxl import load_workbook

    path = Path(path)
    if not path.is_file():
        raise FormError(f"{path}: no such file")
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise FormError(f"{path}: not a readable .xlsx workbook ({e}); save the XLSForm as Excel .xlsx") from e
    try:
        sheets = {ws.title.strip().lower(): ws for ws in wb.worksheets}
        if "survey" not in sheets:
            raise FormError(f"{path.name}: no 'survey' sheet (sheets: {', '.join(sheets) or 'none'})", "survey")
        survey = _Sheet(sheets["survey"], "survey")
        choices = _read_choices(_Sheet(sheets["choices"], "choices")) if "choices" in sheets else None
        settings = _read_settings(_Sheet(sheets["settings"], "settings"), path) if "settings" in sheets else {}
        questions = _read_survey(survey, choices)
    finally:
        wb.close()
    form_id = settings.get("form_id") or path.stem
    return Form(form_id=form_id, version=settings.get("version") or "1", title=settings.get("form_title") or form_id,
                default_language=settings.get("default_language") or "pt", questions=questions)


def _read_choices(sheet: _Sheet) -> dict[str, tuple[int, list[Choice]]]:
    """list_name → (first row, choices); repeated names within a list are errors."""
    sheet.require("list_name", "name")
    label = sheet.language_column("label", required=True)
    lists: dict[str, tuple[int, list[Choice]]] = {}
    for r, row in sheet.rows:
        list_name, name, text = sheet.get(row, "list_name"), sheet.get(row, "name"), sheet.get(row, label)
        if not list_name:
            raise FormError("empty list_name", "choices", r, "list_name")
        if not name:
            raise FormError(f"choice of list '{list_name}' has no name", "choices", r, "name")
        if not text:
            raise FormError(f"choice '{name}' of list '{list_name}' has no label", "choices", r, sheet.headers[label])
        first, items = lists.setdefault(list_name, (r, []))
        if any(c.name == name for c in items):
            raise FormError(f"choice name '{name}' appears twice in list '{list_name}'", "choices", r, "name")
        items.append(Choice(name=name, label=text))
    return lists


def _read_settings(sheet: _Sheet, path: Path) -> dict[str, str]:
    if not sheet.rows:
        return {}
    r, row = sheet.rows[0]
    out = {k: sheet.get(row, k) for k in ("form_id", "version", "default_language")}
    out["form_title"] = sheet.get(row, sheet.language_column("form_title") or "form_title")
    if out["form_id"] and not NAME.match(out["form_id"]):
        raise FormError(f"form_id '{out['form_id']}' must start with a letter and use letters, digits, _ . -",
                        "settings", r, "form_id")
    return out


def _read_survey(sheet: _Sheet, lists: dict | None) -> list[Question]:
    sheet.require("type", "name")
    label_col = sheet.language_column("label", required=True)
    hint_col = sheet.language_column("hint")
    message_col = sheet.language_column("constraint_message")
    questions: list[Question] = []
    seen: dict[str, int] = {}
    groups: list[tuple[int, str]] = []  # open groups: (row, relevant)
    for r, row in sheet.rows:
        get = lambda c: sheet.get(row, c)  # noqa: E731
        raw_type, name = " ".join(get("type").split()), get("name")
        t = raw_type.lower().replace("_", " ") if raw_type.lower() in ("begin_group", "end_group") else raw_type
        if not t:
            raise FormError(f"row with name '{name}' has no type", "survey", r, "type")
        if t.lower() in SKIPPED_TYPES:
            continue
        if t.lower() == "end group":
            if not groups:
                raise FormError("'end group' without a matching 'begin group'", "survey", r, "type")
            groups.pop()
            continue
        relevant = get("relevant")
        _check_expression(relevant, "relevant", r)
        if t.lower() == "begin group":
            groups.append((r, relevant))
            continue
        if not name:
            raise FormError(f"question of type '{t}' has no name", "survey", r, "name")
        if not NAME.match(name):
            raise FormError(f"name '{name}' must start with a letter or _ and use only letters, digits, _ . -",
                            "survey", r, "name")
        if name in seen:
            raise FormError(f"name '{name}' is already used on row {seen[name]}", "survey", r, "name")
        seen[name] = r
        label = get(label_col)
        if not label:
            raise FormError(f"question '{name}' has no label", "survey", r, sheet.headers[label_col])
        appearance = get("appearance")
        qtype, list_name, choices = _question_type(t, appearance, lists, r)
        constraint = get("constraint")
        _check_expression(constraint, "constraint", r)
        conditions = [g for _, g in groups if g] + ([relevant] if relevant else [])
        joined = " and ".join(f"({c})" for c in conditions) if len(conditions) > 1 else (conditions[0] if conditions else "")
        questions.append(Question(
            name=name, type=qtype, label=label, hint=get(hint_col), required=_flag(get("required"), r),
            constraint=constraint, constraint_message=get(message_col), relevant=joined, list_name=list_name,
            choices=choices, appearance=appearance, row=r,
            accept_confidence=_fraction(get("accept_confidence"), r, "accept_confidence"),
            confirm_confidence=_fraction(get("confirm_confidence"), r, "confirm_confidence"),
            max_attempts=_attempts(get("max_attempts"), r)))
        q = questions[-1]
        if q.accept_confidence is not None and q.confirm_confidence is not None and q.confirm_confidence > q.accept_confidence:
            raise FormError(f"confirm_confidence {q.confirm_confidence} is above accept_confidence {q.accept_confidence}",
                            "survey", r, "confirm_confidence")
    if groups:
        raise FormError("'begin group' is never closed with 'end group'", "survey", groups[-1][0], "type")
    if not questions:
        raise FormError("the survey has no questions", "survey", sheet.header_row)
    _check_references(sheet, questions)
    return questions


def _question_type(t: str, appearance: str, lists: dict | None, r: int) -> tuple[str, str, list[Choice]]:
    """XLSForm type cell → (our type, list name, choices)."""
    word, _, rest = t.partition(" ")
    word = word.lower()
    if word in ("integer", "date", "text", "note") and not rest:
        return word, "", []
    if word == "select_one" and rest:
        list_name = rest.strip()
        if " " in list_name:
            raise FormError(f"'{t}': select_one takes one list name (no 'or_other' or spaces)", "survey", r, "type")
        if lists is None:
            raise FormError(f"'{t}' needs a 'choices' sheet, and the workbook has none", "survey", r, "type")
        if list_name not in lists:
            raise FormError(f"unknown list '{list_name}' (lists in the choices sheet: {', '.join(lists) or 'none'})",
                            "survey", r, "type")
        choices = [Choice(c.name, c.label) for c in lists[list_name][1]]
        if len(choices) < 2:
            raise FormError(f"list '{list_name}' has {len(choices)} choice(s); a question needs at least 2",
                            "survey", r, "type")
        if is_yes_no_pair(choices):
            kind = "yes_no"
        elif "likert" in appearance.lower().split() or _known_scale(choices):
            kind = "likert"
        else:
            kind = "select_one"
        return kind, list_name, choices
    supported = ", ".join(SUPPORTED_TYPES)
    raise FormError(f"unsupported question type '{t}' (supported: {supported})", "survey", r, "type")


def _known_scale(choices: list[Choice]) -> bool:
    labels = {fold(c.label) for c in choices}
    return len(labels) >= 3 and any(labels <= scale for scale in LIKERT_SCALES)


def _check_expression(expr: str, column: str, r: int) -> None:
    if not expr:
        return
    try:
        parse(expr)
    except ExpressionError as e:
        raise FormError(f"bad {column} expression: {e}", "survey", r, column) from None


def _check_references(sheet: _Sheet, questions: list[Question]) -> None:
    names = {q.name for q in questions}
    for q in questions:
        for column, expr in (("relevant", q.relevant), ("constraint", q.constraint)):
            if not expr:
                continue
            unknown = sorted(references(expr) - names)
            if unknown:
                raise FormError(f"'{expr}' refers to unknown question(s) {', '.join('${' + u + '}' for u in unknown)}",
                                "survey", q.row, column)


def _flag(text: str, r: int) -> bool:
    word = fold(text)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise FormError(f"required must be yes or no, got '{text}'", "survey", r, "required")


def _fraction(text: str, r: int, column: str) -> float | None:
    if not text:
        return None
    try:
        x = float(text.replace(",", "."))
    except ValueError:
        x = -1.0
    if not 0.0 <= x <= 1.0:
        raise FormError(f"{column} must be a number between 0 and 1, got '{text}'", "survey", r, column)
    return x


def _attempts(text: str, r: int) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise FormError(f"max_attempts must be a whole number ≥ 1, got '{text}'", "survey", r, "max_attempts")
    return int(text)

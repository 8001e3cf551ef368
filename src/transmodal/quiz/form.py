"""A questionnaire in memory: :class:`Form` holds :class:`Question` s, each with its :class:`Choice` s.

This is what :func:`transmodal.quiz.xlsform.read_xlsform` builds from an XLSForm workbook and what the
server stores (as JSON, through :meth:`Form.to_dict` / :meth:`Form.from_dict`). Question types:

=============  ===============================================================================
``yes_no``     a ``select_one`` whose list is a yes/no pair (sim/não, yes/no)
``likert``     a ``select_one`` on an ordered scale (appearance ``likert`` or a known scale)
``select_one`` any other single choice
``integer``    a whole number, usually bounded by a constraint such as ``. >= 0 and . <= 120``
``date``       a date; appearance ``month-year`` accepts month + year only ("2026-03")
``text``       free text (transcript kept, flagged for review)
``note``       something said or shown, no answer expected
=============  ===============================================================================
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field, fields

QUESTION_TYPES = ("yes_no", "integer", "select_one", "likert", "date", "text", "note")
CLOSED_TYPES = ("yes_no", "select_one", "likert", "integer")
CHOICE_TYPES = ("yes_no", "select_one", "likert")

YES_WORDS = ("sim", "yes", "s", "y")
NO_WORDS = ("nao", "no", "n")


def fold(text: str) -> str:
    """Lower case without accents and with single spaces: the key used for comparing names and labels."""
    decomposed = unicodedata.normalize("NFD", str(text).lower())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


@dataclass
class Choice:
    """One allowed answer of a choice question: ``name`` is stored, ``label`` is shown and spoken."""

    name: str
    label: str


@dataclass
class Question:
    """One row of the XLSForm ``survey`` sheet.

    ``row`` is the 1-based Excel row it came from (0 when built in code). The three policy fields
    override :class:`transmodal.quiz.policy.Policy` for this question (None = the default).
    """

    name: str
    type: str
    label: str
    hint: str = ""
    required: bool = False
    constraint: str = ""
    constraint_message: str = ""
    relevant: str = ""
    list_name: str = ""
    choices: list[Choice] = field(default_factory=list)
    appearance: str = ""
    row: int = 0
    accept_confidence: float | None = None
    confirm_confidence: float | None = None
    max_attempts: int | None = None

    def __post_init__(self):
        if self.type not in QUESTION_TYPES:
            raise ValueError(f"question {self.name!r}: type {self.type!r} is not one of {', '.join(QUESTION_TYPES)}")
        self.choices = [c if isinstance(c, Choice) else Choice(**c) for c in self.choices]

    @property
    def is_closed(self) -> bool:
        """True when the answer is one of a known set (choices, or integers within bounds)."""
        return self.type in CLOSED_TYPES

    @property
    def has_choices(self) -> bool:
        return self.type in CHOICE_TYPES

    @property
    def partial_date(self) -> bool:
        """A date question that takes month + year only (appearance ``month-year``)."""
        return self.type == "date" and "month-year" in self.appearance.split()

    def choice(self, name: str) -> Choice:
        """The choice called ``name``; KeyError listing the valid names otherwise."""
        for c in self.choices:
            if c.name == name:
                return c
        raise KeyError(f"question {self.name!r} has no choice {name!r}; choices: {', '.join(c.name for c in self.choices)}")

    def yes_no_names(self) -> tuple[str, str]:
        """(name of the "yes" choice, name of the "no" choice) of a yes/no question."""
        yes = [c.name for c in self.choices if is_yes(c)]
        no = [c.name for c in self.choices if is_no(c)]
        if len(self.choices) != 2 or len(yes) != 1 or len(no) != 1:
            raise ValueError(f"question {self.name!r} is not a yes/no pair: choices {[c.name for c in self.choices]}")
        return yes[0], no[0]


def is_yes(choice: Choice) -> bool:
    return fold(choice.name) in YES_WORDS or fold(choice.label) in YES_WORDS


def is_no(choice: Choice) -> bool:
    return fold(choice.name) in NO_WORDS or fold(choice.label) in NO_WORDS


def is_yes_no_pair(choices: list[Choice]) -> bool:
    """Exactly two choices, one meaning yes and the other no (by name or by label)."""
    return (len(choices) == 2 and sum(map(is_yes, choices)) == 1 and sum(map(is_no, choices)) == 1
            and not any(is_yes(c) and is_no(c) for c in choices))


@dataclass
class Form:
    """A whole questionnaire: identity (form_id, version), title, language and questions in order."""

    form_id: str
    version: str
    title: str
    default_language: str = "pt"
    questions: list[Question] = field(default_factory=list)

    def __post_init__(self):
        self.questions = [q if isinstance(q, Question) else Question(**q) for q in self.questions]
        names = [q.name for q in self.questions]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"form {self.form_id!r}: repeated question names {dup}")

    def question(self, name: str) -> Question:
        """The question called ``name``; KeyError naming the form otherwise."""
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(f"form {self.form_id!r} has no question {name!r}")

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (lists, strings, numbers); :meth:`from_dict` rebuilds the same form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Form":
        if not isinstance(data, dict):
            raise ValueError(f"a form must be a JSON object; got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown form fields {unknown}; expected {sorted(known)}")
        qknown = {f.name for f in fields(Question)}
        for q in data.get("questions", []):
            extra = sorted(set(q) - qknown)
            if extra:
                raise ValueError(f"question {q.get('name')!r}: unknown fields {extra}")
        return cls(**data)

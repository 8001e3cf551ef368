"""The XLSForm expression evaluator: constraints, relevance, bounds, and errors (no eval)."""

import pytest

from transmodal.quiz.expressions import (ExpressionError, check_constraint, evaluate, integer_bounds, is_relevant,
                                         parse, references)
from transmodal.quiz.form import Question


def q(**kw):
    return Question(name=kw.pop("name", "x"), type=kw.pop("type", "integer"), label="?", **kw)


@pytest.mark.parametrize("expr, value, answers, expected", [
    (". >= 0 and . <= 120", 0, {}, True),
    (". >= 0 and . <= 120", 120, {}, True),
    (". >= 0 and . <= 120", 121, {}, False),
    (". >= 0 and . <= 120", -1, {}, False),
    (". > 17 or . = 0", 0, {}, True),
    (". > 17 or . = 0", 5, {}, False),
    ("not(. = 3)", 3, {}, False),
    ("${a} = 'sim'", None, {"a": "sim"}, True),
    ("${a} = 'sim'", None, {"a": "nao"}, False),
    ("${a} = 'sim'", None, {}, False),
    ("${a} != 'sim'", None, {}, True),
    ("${n} + 1 = 4", None, {"n": 3}, True),
    ("${n} * 2 >= 10 and ${n} mod 2 = 1", None, {"n": 5}, True),
    ("${n} div 2 = 2.5", None, {"n": 5}, True),
    ("-${n} < 0", None, {"n": 5}, True),
    ("selected(${r}, 'ruim') or selected(${r}, 'muito_ruim')", None, {"r": "muito_ruim"}, True),
    ("selected(${r}, 'ruim')", None, {"r": "bom"}, False),
    ("string-length(.) <= 5", "abcde", {}, True),
    ("string-length(.) <= 5", "abcdef", {}, False),
    (". <= '2026-12'", "2026-03", {}, True),
    (". >= '2026-04'", "2026-03", {}, False),
    ("${idade} >= 18", None, {"idade": ""}, False),
    ("${idade} >= 18", None, {"idade": 30}, True),
    ("int(${x}) = 2", None, {"x": 2.7}, True),
    ("true() and not(false())", None, {}, True),
    ("(${a} = 'sim' or ${b} = 'sim') and ${c} = 'nao'", None, {"a": "nao", "b": "sim", "c": "nao"}, True),
    ('${a} = "sim"', None, {"a": "sim"}, True),
    ("coalesce(${a}, 'x') = 'x'", None, {}, True),
])
def test_evaluate(expr, value, answers, expected):
    assert evaluate(expr, value, answers) is expected


@pytest.mark.parametrize("expr", ["", ". >=", ". >= 0 and", "(. > 1", ". > 1)", "${}", "${1a} = 2", "__import__('os')",
                                  "open(.)", ". >= 0 <= 3", "'unterminated", ". # 3", "selected(.)", ". >= 0 . <= 3"])
def test_parse_errors(expr):
    with pytest.raises(ExpressionError):
        parse(expr)


def test_error_position():
    with pytest.raises(ExpressionError, match="character 6") as info:
        parse(". >= # 3")
    assert info.value.position == 5


def test_references():
    assert references("${a} = 'sim' and selected(${b}, 'x') or . > ${c}") == {"a", "b", "c"}
    assert references(". >= 0") == set()


def test_check_constraint_and_relevance():
    age = q(constraint=". >= 0 and . <= 120")
    assert check_constraint(age, 40) and not check_constraint(age, 130)
    assert check_constraint(age, None)  # unanswered: "required" is a separate rule
    assert check_constraint(q(), 10**6)  # no constraint
    follow = q(relevant="${nota} = 'ruim' or ${nota} = 'muito_ruim'")
    assert is_relevant(follow, {"nota": "ruim"}) and not is_relevant(follow, {"nota": "bom"})
    assert not is_relevant(follow, {})
    assert is_relevant(q(), {})


@pytest.mark.parametrize("constraint, expected", [
    (". >= 0 and . <= 120", (0, 120)),
    (". > 17 and . < 65", (18, 64)),
    ("150 >= . and . >= 1", (1, 150)),
    (". <= 10", (0, 10)),
    (". >= 5", (5, 120)),
    ("", (0, 120)),
    (". >= 0 and . <= 30 and . != 7", (0, 30)),
])
def test_integer_bounds(constraint, expected):
    assert integer_bounds(q(constraint=constraint)) == expected

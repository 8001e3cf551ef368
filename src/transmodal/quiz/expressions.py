r"""A small, safe evaluator for the XLSForm expressions in ``constraint`` and ``relevant`` (no ``eval``).

Grammar (the subset of ODK's XPath that questionnaires like ours use)::

    expr    := or
    or      := and ("or" and)*
    and     := cmp ("and" cmp)*
    cmp     := sum (("=" | "!=" | "<" | "<=" | ">" | ">=") sum)?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "div" | "mod") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | 'string' | "string" | "." | ${name} | "(" expr ")" | FUNCTION "(" [expr ("," expr)*] ")"

Functions: ``not(x)``, ``selected(${q}, 'name')``, ``string-length(x)``, ``int(x)``, ``number(x)``,
``true()``, ``false()``, ``coalesce(a, b)``. ``.`` is the answer being checked; ``${q}`` is another
question's answer, the empty string when it has none (unanswered, skipped, "não sei" …).

Comparison follows XPath: if either side is a number, both are compared as numbers (a side that is
not a number makes the comparison false, except ``!=``); otherwise as strings — so ISO dates
("2026-03" < "2026-04") compare correctly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<ref>\$\{(?P<refname>[^}]*)\})
  | (?P<number>\d+(?:\.\d+)?|\.\d+)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op><=|>=|!=|=|<|>|\+|-|\*|\(|\)|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.:-]*)
  | (?P<dot>\.)
""", re.VERBOSE)

FUNCTIONS = {"not": 1, "selected": 2, "string-length": 1, "int": 1, "number": 1, "true": 0, "false": 0,
             "coalesce": 2}
KEYWORDS = {"and", "or", "div", "mod"}


class ExpressionError(ValueError):
    """An expression that cannot be parsed; ``position`` is the 0-based character where it went wrong."""

    def __init__(self, message: str, expression: str, position: int):
        super().__init__(f"{message} at character {position + 1} of {expression!r}")
        self.expression, self.position = expression, position


@dataclass(frozen=True)
class Node:
    """A parsed expression: ``kind`` is num/str/dot/ref/op/call, ``value`` the literal/name/operator."""

    kind: str
    value: Any = None
    args: tuple = ()


def _tokens(expr: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ExpressionError(f"unexpected character {expr[pos]!r}", expr, pos)
        kind = m.lastgroup if m.lastgroup != "refname" else "ref"
        if kind == "ref":
            name = m.group("refname").strip()
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
                raise ExpressionError(f"bad reference ${{{name}}}", expr, pos)
            out.append(("ref", name, pos))
        elif kind == "string":
            out.append(("string", m.group()[1:-1], pos))
        elif kind != "space":
            out.append((kind, m.group(), pos))
        pos = m.end()
    out.append(("end", "", len(expr)))
    return out


class _Parser:
    def __init__(self, expr: str):
        self.expr, self.toks, self.i = expr, _tokens(expr), 0

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, text, pos = self.take()
        if text != value or kind not in ("op",):
            raise ExpressionError(f"expected {value!r} but found {text or 'the end'!r}", self.expr, pos)

    def parse(self) -> Node:
        node = self.binary(0)
        kind, text, pos = self.peek()
        if kind != "end":
            raise ExpressionError(f"unexpected {text!r}", self.expr, pos)
        return node

    LEVELS = (("or",), ("and",), ("=", "!=", "<", "<=", ">", ">="), ("+", "-"), ("*", "div", "mod"))

    def binary(self, level: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while True:
            kind, text, _ = self.peek()
            if kind not in ("op", "name") or text not in self.LEVELS[level]:
                return node
            self.take()
            node = Node("op", text, (node, self.binary(level + 1)))
            if level == 2:  # comparisons do not chain (a < b < c is an error, not a surprise)
                k2, t2, p2 = self.peek()
                if k2 == "op" and t2 in self.LEVELS[2]:
                    raise ExpressionError(f"chained comparison {t2!r}; join comparisons with 'and'", self.expr, p2)
                return node

    def unary(self) -> Node:
        kind, text, pos = self.peek()
        if kind == "op" and text == "-":
            self.take()
            return Node("op", "neg", (self.unary(),))
        return self.atom()

    def atom(self) -> Node:
        kind, text, pos = self.take()
        if kind == "number":
            return Node("num", float(text))
        if kind == "string":
            return Node("str", text)
        if kind == "dot":
            return Node("dot")
        if kind == "ref":
            return Node("ref", text)
        if kind == "op" and text == "(":
            node = self.binary(0)
            self.expect(")")
            return node
        if kind == "name" and text not in KEYWORDS:
            if text not in FUNCTIONS:
                raise ExpressionError(f"unknown function or word {text!r} (known functions: "
                                      f"{', '.join(sorted(FUNCTIONS))})", self.expr, pos)
            self.expect("(")
            args: list[Node] = []
            if self.peek()[1] != ")":
                args.append(self.binary(0))
                while self.peek()[1] == ",":
                    self.take()
                    args.append(self.binary(0))
            self.expect(")")
            if len(args) != FUNCTIONS[text]:
                raise ExpressionError(f"{text}() takes {FUNCTIONS[text]} argument(s), got {len(args)}", self.expr, pos)
            return Node("call", text, tuple(args))
        raise ExpressionError(f"expected a value but found {text or 'the end'!r}", self.expr, pos)


@lru_cache(maxsize=1024)
def parse(expr: str) -> Node:
    """Parse an expression; :class:`ExpressionError` (a ValueError) says what is wrong and where."""
    if not isinstance(expr, str) or not expr.strip():
        raise ExpressionError("empty expression", str(expr), 0)
    return _Parser(expr).parse()


def references(expr: str) -> set[str]:
    """The question names an expression refers to with ``${name}``."""
    out: set[str] = set()

    def walk(n: Node) -> None:
        if n.kind == "ref":
            out.add(n.value)
        for a in n.args:
            walk(a)

    walk(parse(expr))
    return out


# --- evaluation --------------------------------------------------------------------------------------
def _number(x: Any) -> float:
    """XPath number(): numbers as they are, numeric strings parsed, anything else NaN."""
    if isinstance(x, bool):
        return 1.0 if x else 0.0
    if isinstance(x, (int, float)):
        return float(x)
    try:
        return float(str(x).strip())
    except ValueError:
        return math.nan


def _truth(x: Any) -> bool:
    if isinstance(x, bool):
        return x
    if isinstance(x, (int, float)):
        return x != 0 and not math.isnan(x)
    return x not in (None, "")


def _text(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        a, b = _truth(a), _truth(b)
    if isinstance(a, (int, float)) or isinstance(b, (int, float)) or op in ("<", "<=", ">", ">=") and _numeric(a, b):
        x, y = _number(a), _number(b)
        if math.isnan(x) or math.isnan(y):
            return op == "!="
    else:
        x, y = _text(a), _text(b)
    return {"=": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _numeric(a: Any, b: Any) -> bool:
    return not math.isnan(_number(a)) and not math.isnan(_number(b))


def _eval(n: Node, dot: Any, answers: dict) -> Any:
    k = n.kind
    if k == "num" or k == "str":
        return n.value
    if k == "dot":
        return "" if dot is None else dot
    if k == "ref":
        v = answers.get(n.value)
        return "" if v is None else v
    if k == "call":
        args = n.args
        if n.value == "true":
            return True
        if n.value == "false":
            return False
        if n.value == "not":
            return not _truth(_eval(args[0], dot, answers))
        if n.value == "selected":
            return _text(_eval(args[1], dot, answers)) in _text(_eval(args[0], dot, answers)).split()
        if n.value == "string-length":
            return float(len(_text(_eval(args[0], dot, answers))))
        if n.value == "number":
            return _number(_eval(args[0], dot, answers))
        if n.value == "int":
            x = _number(_eval(args[0], dot, answers))
            return x if math.isnan(x) else float(math.trunc(x))
        if n.value == "coalesce":
            a = _eval(args[0], dot, answers)
            return a if a not in (None, "") else _eval(args[1], dot, answers)
    op = n.value
    if op == "neg":
        return -_number(_eval(n.args[0], dot, answers))
    if op == "and":
        return _truth(_eval(n.args[0], dot, answers)) and _truth(_eval(n.args[1], dot, answers))
    if op == "or":
        return _truth(_eval(n.args[0], dot, answers)) or _truth(_eval(n.args[1], dot, answers))
    a, b = _eval(n.args[0], dot, answers), _eval(n.args[1], dot, answers)
    if op in ("=", "!=", "<", "<=", ">", ">="):
        return _compare(op, a, b)
    x, y = _number(a), _number(b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "div":
        return x / y if y else math.nan
    if op == "mod":
        return math.fmod(x, y) if y else math.nan
    raise AssertionError(f"unknown node {n}")


def evaluate(expr: str, value: Any = None, answers: dict | None = None) -> bool:
    """Truth of ``expr`` with ``.`` = ``value`` and ``${q}`` = ``answers[q]`` (missing/None = empty)."""
    return _truth(_eval(parse(expr), value, answers or {}))


def check_constraint(question, value: Any, answers: dict | None = None) -> bool:
    """Whether ``value`` satisfies the question's constraint (True when it has none or when unanswered)."""
    if not question.constraint or value is None or value == "":
        return True
    return evaluate(question.constraint, value, answers)


def is_relevant(question, answers: dict) -> bool:
    """Whether the question should be asked given the answers so far (True when ``relevant`` is empty)."""
    if not question.relevant:
        return True
    return evaluate(question.relevant, None, answers)


def integer_bounds(question, default: tuple[int, int] = (0, 120)) -> tuple[int, int]:
    """(lowest, highest) whole number the constraint allows, read from its ``and``-joined comparisons of
    ``.`` with numbers (``. >= 0 and . <= 120``, ``. > 17``, ``150 >= .``); each side left open takes ``default``."""
    lo, hi = default
    if not question.constraint:
        return lo, hi
    found_lo = found_hi = None

    def conjuncts(n: Node):
        if n.kind == "op" and n.value == "and":
            for a in n.args:
                yield from conjuncts(a)
        else:
            yield n

    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
    for c in conjuncts(parse(question.constraint)):
        if c.kind != "op" or c.value not in flip:
            continue
        left, right = c.args
        op = c.value
        if right.kind == "dot" and left.kind == "num":
            left, right, op = right, left, flip[op]
        if left.kind != "dot" or right.kind != "num":
            continue
        x = right.value
        if op in (">=", ">", "="):
            b = math.ceil(x) if op != ">" else math.floor(x) + 1
            found_lo = b if found_lo is None else max(found_lo, b)
        if op in ("<=", "<", "="):
            b = math.floor(x) if op != "<" else math.ceil(x) - 1
            found_hi = b if found_hi is None else min(found_hi, b)
    return (found_lo if found_lo is not None else lo), (found_hi if found_hi is not None else hi)

"""What did the person mean? Brazilian-Portuguese transcripts → typed answers (:class:`Interpretation`).

:func:`interpret` takes a question and what was said (a transcript, or typed text) and returns:

``status="value"``  ``value`` is a choice name (yes/no, select_one, Likert), an ``int``, an ISO date
                    (``"2026-03"`` for month + year, ``"2026-03-14"``) or, for free text, the text itself
                    (``review=True``: a person should check it)
``status="code"``   ``code`` is ``"dont_know"`` ("não sei", "sei lá", "não lembro" …) or ``"refused"``
                    ("prefiro não responder", "não quero responder" …) — codes are never values
``status="none"``   nothing usable: silence, a match below :data:`FUZZY_THRESHOLD`, or a value the
                    constraint rejects (``error`` then holds the message to say)

``score`` (0..1) is the match quality: 1 for an exact phrase, the rapidfuzz ratio for a fuzzy one,
lower when the utterance is ambiguous. The rules, in order:

1. clean: Unicode NFC, lower case, punctuation out; matching keys also fold accents and write numbers
   as digits ("vinte e três" → "23", via text2num), so "às vezes" = "as vezes" and "1 hora" = "uma hora".
2. codes first: a refusal or don't-know phrase anywhere in a closed answer (the whole utterance for
   free text, where "não sei por que demorou" is a comment) gives a code.
3. per type: yes/no — any negation wins ("claro que não", "não fui não"), then yes words, then a
   repeated verb ("Fui.", weaker); choices and scales — the longest phrase (label, name or synonym) said,
   the last one when two different choices are named, "a primeira"/"opção dois" by position, else the
   best fuzzy match; integers — the number said (last one on self-correction), fuzzy against the
   allowed numbers' words; dates — "março de 2026", "03/2026", "14 de março de 2026", "14/03/2026"
   ("em março" alone: the latest March up to today, score 0.6 so that it is read back).

:func:`candidates` lists the phrases the speech model scores for a question (all spoken as written,
lower case, with accents), each with what it means, so that ``interpret(q, phrase)`` gives that meaning.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import asdict, dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from transmodal.quiz import synonyms as syn
from transmodal.quiz.expressions import check_constraint, integer_bounds, references
from transmodal.quiz.form import Question, fold
from transmodal.quiz.numbers import number_words, numbers_in, to_digits

NORMALISER_VERSION = "pt-br-1"  # change whenever a rule or word list changes: stored with every answer
FUZZY_THRESHOLD = 0.75  # a fuzzy match scoring below this is no match (status "none")
MAX_INTEGER_CANDIDATES = 201  # wider integer ranges are decoded freely instead of scored as a closed set
DATE_CANDIDATE_YEARS = 3
CODE_FUZZY_MIN_CHARS = 12  # codes are matched fuzzily only for phrases at least this long  # month-year questions: the speech model scores the months of the last 3 years

_PUNCT = re.compile(r"[^\w\s/-]")
_WORD_HYPHEN = re.compile(r"(?<=[^\W\d])-|-(?=[^\W\d])")


@dataclass
class Interpretation:
    """The meaning of one utterance for one question (see the module docstring)."""

    status: str  # "value" | "code" | "none"
    value: str | int | None = None
    code: str | None = None  # "dont_know" | "refused"
    score: float = 0.0
    matched: str = ""  # the phrase (or number, date) recognised
    label: str = ""  # what to show or read back: the choice label, the number, the date in words
    review: bool = False  # free text: a person should check the transcript
    error: str = ""  # why a recognised value cannot be used (constraint), in Portuguese

    def to_dict(self) -> dict:
        return asdict(self)


NONE = Interpretation("none")


# --- cleaning ------------------------------------------------------------------------------------------
def clean(text: str) -> str:
    """NFC, lower case, punctuation replaced by spaces (keeps "/" and "-" between digits), single spaces."""
    text = unicodedata.normalize("NFC", str(text)).lower()
    text = _WORD_HYPHEN.sub(" ", _PUNCT.sub(" ", text))
    return " ".join(text.split())


def key(text: str) -> str:
    """The matching key: cleaned, numbers as digits, accents folded."""
    return fold(to_digits(clean(text)))


def _find(tokens: list[str], phrase: list[str]) -> list[int]:
    """Start positions where ``phrase`` occurs as consecutive tokens."""
    n = len(phrase)
    return [i for i in range(len(tokens) - n + 1) if tokens[i : i + n] == phrase] if n else []


def _fuzzy(utterance: str, phrase: str) -> float:
    """0..1: the whole utterance against the phrase, or the best window of as many words as the phrase."""
    best = fuzz.ratio(utterance, phrase)
    words, n = utterance.split(), len(phrase.split())
    if len(words) > n:
        for size in {max(1, n - 1), n, n + 1}:
            for i in range(len(words) - size + 1):
                window = " ".join(words[i : i + size])
                if len(window) >= 3:
                    best = max(best, fuzz.ratio(window, phrase))
    return best / 100.0


# --- codes -------------------------------------------------------------------------------------------------
def _code(text: str, whole: bool) -> Interpretation | None:
    k = fold(clean(text))
    tokens = k.split()
    for code, phrases in (("refused", syn.REFUSED), ("dont_know", syn.DONT_KNOW)):
        for p in sorted(phrases, key=len, reverse=True):
            fp = fold(p)
            if (k == fp) if whole else _find(tokens, fp.split()):
                return Interpretation("code", code=code, score=1.0, matched=p, label=p)
    # near misses of a long phrase said alone ("prefiro não respondê"); short ones must be exact, or
    # "não sou" would become "não sei"
    long_phrases = [(code, p) for code, phrases in (("refused", syn.REFUSED), ("dont_know", syn.DONT_KNOW))
                    for p in phrases if len(p) >= CODE_FUZZY_MIN_CHARS]
    if len(k) >= CODE_FUZZY_MIN_CHARS - 2:
        best = max((fuzz.ratio(k, fold(p)) / 100.0, code, p) for code, p in long_phrases)
        if best[0] >= 0.85:
            return Interpretation("code", code=best[1], score=best[0], matched=best[2], label=best[2])
    return None


# --- yes / no ------------------------------------------------------------------------------------------------
def _yes_no(q: Question, text: str) -> Interpretation:
    yes_name, no_name = q.yes_no_names()
    labels = {c.name: c.label for c in q.choices}
    plain = clean(text).split()  # accents kept: "é" must not be the folded conjunction "e"
    folded = [fold(t) for t in plain]

    def result(name: str, score: float, matched: str) -> Interpretation:
        return Interpretation("value", value=name, score=score, matched=matched, label=labels[name])

    negations = [n for n in syn.NEGATIONS if fold(n) in folded]
    if negations:
        # negation wins; but "sim… não, não fui" or "sim, mas não gostei" said yes too: read it back
        no_phrase = _longest_present(syn.NO, folded) or negations[0]
        covered = {i for p in syn.NO for s in _find(folded, fold(p).split()) for i in range(s, s + len(p.split()))}
        said_yes = any(i not in covered for p in syn.YES if p not in syn.ACCENT_ONLY
                       for s in _find(folded, fold(p).split()) for i in range(s, s + len(p.split())))
        return result(no_name, 0.5 if said_yes else 1.0, no_phrase)
    for phrase in sorted(syn.YES, key=len, reverse=True):
        words = phrase.split() if phrase in syn.ACCENT_ONLY else fold(phrase).split()
        if _find(plain if phrase in syn.ACCENT_ONLY else folded, words):
            exact = len(words) == len(folded)
            return result(yes_name, 1.0 if exact else 0.9, phrase)
    # the answer repeats the question's verb: "Você recomendaria?" — "Recomendaria."
    question_words = {fold(w) for w in clean(q.label).split() if len(w) >= 3}
    for t in folded:
        if t in syn.YES_ECHOES or (len(t) >= 4 and any(fuzz.ratio(t, w) >= 85 for w in question_words)):
            return result(yes_name, 0.75, t)
    # near misses of the words themselves: one letter off a short word ("sin", "nao" → "nau"), or fuzzy
    for t in folded:
        if len(t) >= 3 and not t.isdigit():
            for name, words in ((no_name, ("nao", "nunca")), (yes_name, ("sim", "claro", "isso"))):
                if any(Levenshtein.distance(t, w) == 1 for w in words):
                    return result(name, 0.8, t)
    k = " ".join(folded)
    best = max(((_fuzzy(k, fold(p)), name, p) for name, words in ((yes_name, syn.YES), (no_name, syn.NO))
                for p in words if len(fold(p)) >= 3), default=(0.0, None, ""))
    if best[1] is not None and best[0] >= FUZZY_THRESHOLD:
        return result(best[1], best[0], best[2])
    return Interpretation("none", score=best[0])


def _longest_present(phrases, folded_tokens) -> str:
    hits = [p for p in phrases if _find(folded_tokens, fold(p).split())]
    return max(hits, key=len) if hits else ""


# --- choices and scales ----------------------------------------------------------------------------------------
def choice_phrases(q: Question) -> list[tuple[str, str]]:
    """(phrase, choice name) for every way of naming each choice: label, name, synonyms (text matching)."""
    out = []
    for c in q.choices:
        out.append((c.label, c.name))
        if len(c.name) >= 3:
            out.append((c.name.replace("_", " "), c.name))
        out.extend((s, c.name) for s in _lookup(syn.SCALE_SYNONYMS, c.label))
    return out


def _lookup(table: dict[str, tuple[str, ...]], label: str) -> tuple[str, ...]:
    """The synonyms of a choice label (table keys and label compared folded)."""
    folded = fold(label)
    return next((v for k, v in table.items() if fold(k) == folded), ())


def _choice(q: Question, text: str) -> Interpretation:
    labels = {c.name: c.label for c in q.choices}
    k = key(text)
    tokens = k.split()
    by_position = _ordinal(fold(clean(text)).split(), len(q.choices))
    if by_position is not None:
        c = q.choices[by_position]
        return Interpretation("value", value=c.name, score=0.9, matched=clean(text), label=c.label)
    hits = []  # (start, end, name, phrase)
    for phrase, name in choice_phrases(q):
        words = key(phrase).split()
        hits.extend((i, i + len(words), name, phrase) for i in _find(tokens, words))
    # a hit inside a longer one does not count ("ruim" inside "muito ruim", "nunca" inside "quase nunca")
    hits = [h for h in hits if not any(o[0] <= h[0] and h[1] <= o[1] and (o[1] - o[0]) > (h[1] - h[0]) for o in hits)]
    if hits:
        start, end, name, phrase = max(hits, key=lambda h: (h[1], h[1] - h[0]))  # the last said
        names = {h[2] for h in hits}
        covered = {i for h in hits for i in range(h[0], h[1])}
        negated = any(t in {fold(n) for n in syn.NEGATIONS} for i, t in enumerate(tokens) if i not in covered)
        if len(names) > 1 or negated:
            score = 0.5  # "não foi ruim, foi bom", "não foi bom": say it back and confirm
        else:
            score = 1.0 if end - start == len(tokens) else 0.9
        return Interpretation("value", value=name, score=score, matched=phrase, label=labels[name])
    best = max(((_fuzzy(k, key(p)), name, p) for p, name in choice_phrases(q)), default=(0.0, None, ""))
    if best[1] is not None and best[0] >= FUZZY_THRESHOLD:
        return Interpretation("value", value=best[1], score=best[0], matched=best[2], label=labels[best[1]])
    return Interpretation("none", score=best[0])


def _ordinal(tokens: list[str], n: int) -> int | None:
    """"a primeira", "a segunda opção", "opção 2", "número 3", "a última" → 0-based index, if in range."""
    words = [t for t in tokens if t not in ("a", "o", "e", "de", "da", "do", "pela", "pelo", "quero", "escolho")]
    if not words:
        return None
    index = None
    ordinals = [fold(o) for o in syn.ORDINALS]
    if len(words) in (1, 2) and words[0] in ordinals and (len(words) == 1 or words[1] in ("opcao", "alternativa")):
        index = ordinals.index(words[0])
    elif len(words) in (1, 2) and words[0] in ("ultima", "ultimo") and (len(words) == 1 or words[1] in ("opcao", "alternativa")):
        index = n - 1
    elif len(words) == 2 and words[0] in ("opcao", "alternativa", "numero") and len(numbers_in(words[1])) == 1:
        index = numbers_in(words[1])[0] - 1
    return index if index is not None and 0 <= index < n else None


# --- integers ---------------------------------------------------------------------------------------------------
def _integer(q: Question, text: str) -> Interpretation:
    found = numbers_in(clean(text))
    if found:
        n = found[-1]
        rest = [t for t in to_digits(clean(text)).split() if not t.isdigit()]
        fillers = {fold(f) for f in syn.NUMBER_FILLERS}
        if len(set(found)) > 1:
            score = 0.6  # "vinte, não, vinte e dois": the last one, but confirm
        else:
            score = 1.0 if all(fold(t) in fillers for t in rest) else 0.9
        return _checked(q, n, score, str(n), str(n))
    lo, hi = integer_bounds(q)
    if hi - lo > 1000:
        return NONE
    fillers = {fold(f) for f in syn.NUMBER_FILLERS}
    bare = lambda s: " ".join(t for t in fold(clean(s)).split() if t not in fillers)  # noqa: E731
    k = bare(text)
    best = max(((fuzz.ratio(k, bare(number_words(n))) / 100.0, n) for n in range(lo, hi + 1)), default=(0.0, None))
    if best[1] is not None and best[0] >= FUZZY_THRESHOLD:
        return _checked(q, best[1], best[0], number_words(best[1]), str(best[1]))
    return Interpretation("none", score=best[0])


def allowed(q: Question, value) -> bool:
    """The constraint on its own. One that refers to other answers (``. <= ${idade}``) cannot be judged
    here and counts as met: whoever holds the answers (the server) checks it with them."""
    if q.constraint and references(q.constraint):
        return True
    return check_constraint(q, value)


def _checked(q: Question, value, score: float, matched: str, label: str) -> Interpretation:
    """A value if the question's constraint allows it; else "none" with the constraint message as error."""
    if allowed(q, value):
        return Interpretation("value", value=value, score=score, matched=matched, label=label)
    message = q.constraint_message or f"A resposta {label} não é aceita para esta pergunta."
    return Interpretation("none", score=score, matched=matched, label=label, error=message)


# --- dates ------------------------------------------------------------------------------------------------------
_DMY = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b")
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\b")
_MY = re.compile(r"\b(\d{1,2})[/.-](\d{4}|\d{2})\b")


def _date(q: Question, text: str) -> Interpretation:
    t = to_digits(clean(text))
    day = month = year = None
    score = 1.0
    if m := _DMY.search(t):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    elif m := _ISO.search(t):
        year, month, day = int(m[1]), int(m[2]), int(m[3]) if m[3] else None
    elif m := _MY.search(t):
        month, year = int(m[1]), int(m[2])
    else:
        tokens = fold(t).split()
        month_at, month, score = _month(tokens)
        if month is None:
            return Interpretation("none", score=score)
        before = [x for x in tokens[:month_at] if x.isdigit()]
        after = [x for x in tokens[month_at + 1 :] if x.isdigit()]
        if before and int(before[-1]) <= 31:
            day = int(before[-1])
        if after:
            year = int(after[0])
    if year is not None and year < 100:
        year += 2000
    if month is None or not 1 <= month <= 12 or year is not None and not 1900 <= year <= 2100:
        return Interpretation("none", score=0.0, matched=t, error="Não entendi a data. Diga o mês e o ano, por exemplo: março de 2026.")
    if year is None:  # "em março": the latest such month up to today, to be read back and confirmed
        today = _dt.date.today()
        year = today.year if month <= today.month else today.year - 1
        score = min(score, 0.6)
    if q.partial_date:
        value = f"{year:04d}-{month:02d}"
    else:
        if day is None:
            return Interpretation("none", score=score, matched=t, error="Diga também o dia, por exemplo: 14 de março de 2026.")
        try:
            _dt.date(year, month, day)
        except ValueError:
            return Interpretation("none", score=0.0, matched=t, error=f"O dia {day} não existe em {syn.MONTHS[month - 1]}.")
        value = f"{year:04d}-{month:02d}-{day:02d}"
    return _checked(q, value, score, t, date_label(value))


def date_label(iso: str) -> str:
    """An ISO date or month in words: "2026-03" → "março de 2026", "2026-03-14" → "14 de março de 2026"."""
    parts = [int(x) for x in iso.split("-")]
    month = f"{syn.MONTHS[parts[1] - 1]} de {parts[0]}"
    return f"{parts[2]} de {month}" if len(parts) == 3 else month


def _month(tokens: list[str]) -> tuple[int, int | None, float]:
    """(position, month 1..12, score) of the month named in the tokens; fuzzy for misheard names."""
    names = [fold(m) for m in syn.MONTHS]
    for i, tok in enumerate(tokens):
        if tok in names:
            return i, names.index(tok) + 1, 1.0
        if tok in syn.MONTH_ABBREVIATIONS and tok not in ("mar", "set", "mai"):  # also ordinary words
            return i, syn.MONTH_ABBREVIATIONS.index(tok) + 1, 0.9
    best = (0.0, -1, None)
    for i, tok in enumerate(tokens):
        if len(tok) >= 4 and not tok.isdigit():
            for j, name in enumerate(names):
                r = fuzz.ratio(tok, name) / 100.0
                if r > best[0]:
                    best = (r, i, j + 1)
    if best[2] is not None and best[0] >= FUZZY_THRESHOLD:
        return best[1], best[2], best[0]
    return -1, None, best[0]


# --- the entry points ---------------------------------------------------------------------------------------------
def interpret(question: Question, transcript: str | None) -> Interpretation:
    """The meaning of ``transcript`` as an answer to ``question`` (see the module docstring)."""
    if transcript is None or not clean(transcript):
        return Interpretation("none")
    if question.type == "note":
        return Interpretation("none")
    if question.type == "text":
        code = _code(transcript, whole=True)
        if code is not None:
            return code
        text = " ".join(str(transcript).split())
        return Interpretation("value", value=text, score=1.0, matched=text, label=text, review=True)
    code = _code(transcript, whole=False)
    if code is not None:
        return code
    if question.type == "yes_no":
        return _yes_no(question, transcript)
    if question.type in ("select_one", "likert"):
        return _choice(question, transcript)
    if question.type == "integer":
        return _integer(question, transcript)
    if question.type == "date":
        return _date(question, transcript)
    raise ValueError(f"question {question.name!r}: cannot interpret answers of type {question.type!r}")


def spoken(text: str) -> str:
    """A label as it is said: lower case, digits as words ("1 hora" → "uma hora"), only letters and spaces."""
    words = clean(text).replace("/", " ").replace("-", " ").split()
    out = []
    for i, w in enumerate(words):
        if w.isdigit() and int(w) <= 999_999:
            said = number_words(int(w))
            if i + 1 < len(words) and words[i + 1] in syn.FEMININE_NOUNS:
                said = re.sub(r"\bum$", "uma", re.sub(r"\bdois$", "duas", said))
            out.append(said)
        else:
            out.append("".join(c for c in w if c.isalpha() or c == "'"))
    return " ".join(w for w in out if w)


def candidates(question: Question, today: _dt.date | None = None) -> list[tuple[str, str]]:
    """(spoken phrase, meaning) pairs for closed-set speech scoring, or [] when the answer must be decoded
    freely (text, full dates, integer ranges wider than :data:`MAX_INTEGER_CANDIDATES`).

    The meaning is a choice name, ``str(int)``, an ISO month ("2026-03") or ``"code:dont_know"`` /
    ``"code:refused"``. Phrases are distinct once lower-cased, and ``interpret(question, phrase)`` gives
    their meaning. Month-year questions offer the months of the last :data:`DATE_CANDIDATE_YEARS` years
    up to ``today`` that the constraint allows.
    """
    pairs: list[tuple[str, str]] = []
    if question.type == "yes_no":
        yes_name, no_name = question.yes_no_names()
        pairs = [(p, yes_name if m == "yes" else no_name) for p, m in syn.YES_NO_SPOKEN]
    elif question.type in ("select_one", "likert"):
        for c in question.choices:
            pairs.append((spoken(c.label), c.name))
            pairs.extend((s, c.name) for s in _lookup(syn.SCALE_SPOKEN, c.label))
    elif question.type == "integer":
        lo, hi = integer_bounds(question)
        if hi - lo + 1 > MAX_INTEGER_CANDIDATES or lo < 0:
            return []
        pairs = [(number_words(n), str(n)) for n in range(lo, hi + 1) if allowed(question, n)]
    elif question.type == "date" and question.partial_date:
        today = today or _dt.date.today()
        for year in range(today.year - DATE_CANDIDATE_YEARS + 1, today.year + 1):
            for month in range(1, 13):
                value = f"{year:04d}-{month:02d}"
                if (year, month) <= (today.year, today.month) and allowed(question, value):
                    pairs.append((f"{syn.MONTHS[month - 1]} de {number_words(year)}", value))
    else:
        return []
    pairs += [(p, f"code:{c}") for p, c in syn.CODES_SPOKEN]
    out, seen = [], set()
    code_keys = {fold(p) for p in (*syn.DONT_KNOW, *syn.REFUSED)}
    for phrase, meaning in pairs:
        k = fold(phrase)
        if not phrase or k in seen or (not meaning.startswith("code:") and k in code_keys):
            continue  # a choice labelled "Não sei" is answered with the code
        seen.add(k)
        out.append((phrase, meaning))
    return out


def meaning(interpretation: Interpretation) -> str | None:
    """The same string :func:`candidates` uses for an interpretation: value as str, "code:…", or None."""
    if interpretation.status == "code":
        return f"code:{interpretation.code}"
    if interpretation.status == "value":
        return str(interpretation.value)
    return None

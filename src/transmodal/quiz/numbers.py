"""Numbers in Brazilian-Portuguese speech: words → digits (with text2num) and digits → words.

Reading: :func:`to_digits` rewrites every number in a phrase as digits — ``"tenho vinte e três anos"``
→ ``"tenho 23 anos"`` — using text2num's ``alpha2digit`` and then the small words it leaves alone on
purpose (``zero``, ``um``/``uma``, ``dois``/``duas``, which are also articles elsewhere) and ordinals
for days (``primeiro`` → 1). :func:`numbers_in` lists the integers found, joining the pieces a
recogniser may split: ``"vinte três"`` → 23, ``"cento vinte"`` → 120.

Writing: :func:`number_words` says a whole number the way the speech model was trained to hear it
(:func:`transmodal.audio.synth.numbers_pt.number_to_words_pt` for 0 … 120, the same rules beyond that,
and thousands for years: ``2026`` → ``"dois mil e vinte e seis"``).
"""

from __future__ import annotations

import re

from transmodal.audio.synth.numbers_pt import MAX_NUMBER, TENS, UNITS, number_to_words_pt

SMALL = {"zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "primeiro": 1, "primeira": 1}
HUNDREDS = {2: "duzentos", 3: "trezentos", 4: "quatrocentos", 5: "quinhentos", 6: "seiscentos", 7: "setecentos",
            8: "oitocentos", 9: "novecentos"}
_DIGITS = re.compile(r"\d+")
_PUNCT = re.compile(r"[^\w\s]")


def number_words(n: int) -> str:
    """0 ≤ n ≤ 999 999 in Brazilian-Portuguese words (masculine): 23 → "vinte e três", 2026 → "dois mil e vinte e seis"."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"number_words takes a whole number, got {n!r}")
    if not 0 <= n <= 999_999:
        raise ValueError(f"number_words covers 0 … 999999, got {n}")
    if n <= MAX_NUMBER:
        return number_to_words_pt(n)
    if n < 1000:
        h, rest = divmod(n, 100)
        head = "cento" if h == 1 else HUNDREDS[h]
        return head if rest == 0 else f"{head} e {_below_100(rest)}"
    k, rest = divmod(n, 1000)
    head = "mil" if k == 1 else f"{number_words(k)} mil"
    if rest == 0:
        return head
    # "e" joins the thousands to a rest below 100 or to a round hundred: "dois mil e vinte", "mil e quinhentos"
    joiner = " e " if rest < 100 or rest % 100 == 0 else " "
    return head + joiner + number_words(rest)


def _below_100(n: int) -> str:
    if n < 20:
        return UNITS[n]
    tens, unit = divmod(n, 10)
    return TENS[tens] if unit == 0 else f"{TENS[tens]} e {UNITS[unit]}"


def to_digits(text: str) -> str:
    """Every number in ``text`` (lower case, accents kept) written as digits; the other words unchanged."""
    from text_to_num import alpha2digit

    out = alpha2digit(text, "pt")
    return " ".join(str(SMALL[w]) if w in SMALL else w for w in out.split())


def numbers_in(text: str) -> list[int]:
    """The integers said in ``text``, in order, after :func:`to_digits`. Adjacent pieces that only make
    sense as one number are joined ("20 3" → 23, "100 20" → 120, "2000 26" → 2026)."""
    tokens = to_digits(_PUNCT.sub(" ", text)).split()
    out: list[int] = []
    joinable = False  # may the next number be added to the last one?
    for tok in tokens:
        if _DIGITS.fullmatch(tok):
            n = int(tok)
            if out and joinable and _adds_to(out[-1], n):
                out[-1] += n
            else:
                out.append(n)
            joinable = True
        elif tok == "e" and out:
            continue  # "vinte e três" split by the recogniser keeps its "e"
        else:
            joinable = False
    return out


def _adds_to(head: int, n: int) -> bool:
    """Whether ``head`` followed by ``n`` is one spoken number: ``n`` fits in the head's trailing zeros."""
    if head == 0:
        return False
    room = 1
    while head % (room * 10) == 0:
        room *= 10
    return n < room

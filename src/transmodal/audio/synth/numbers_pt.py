"""Brazilian-Portuguese number words for 0 … 120, written the way they are spoken.

Rules (masculine counting form, Brazilian spelling):

- 0–19 are single words: ``zero, um, dois, …, dez, onze, doze, treze, quatorze, quinze, dezesseis,
  dezessete, dezoito, dezenove`` (Brazil writes ``dezesseis``/``dezenove`` where Portugal writes
  ``dezasseis``/``dezanove``; ``quatorze`` and ``catorze`` are both correct, Brazil mostly says ``quatorze``).
- tens are joined to units with ``e``: ``vinte e três``, ``noventa e nove``.
- 100 alone is ``cem``; 101–199 start with ``cento e``: ``cento e um``, ``cento e vinte``.
"""

from __future__ import annotations

UNITS = ("zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove",
         "dez", "onze", "doze", "treze", "quatorze", "quinze", "dezesseis", "dezessete", "dezoito", "dezenove")
TENS = {2: "vinte", 3: "trinta", 4: "quarenta", 5: "cinquenta", 6: "sessenta", 7: "setenta", 8: "oitenta", 9: "noventa"}
MAX_NUMBER = 120


def number_to_words_pt(n: int) -> str:
    """``n`` (0 ≤ n ≤ 120) in Brazilian-Portuguese words: ``23 → "vinte e três"``, ``100 → "cem"``."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"number_to_words_pt takes a whole number, got {n!r}; convert it with int() first")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"number_to_words_pt covers 0 … {MAX_NUMBER} (the questionnaire's range), got {n}")
    if n == 100:
        return "cem"
    if n > 100:
        return "cento e " + number_to_words_pt(n - 100)
    if n < 20:
        return UNITS[n]
    tens, unit = divmod(n, 10)
    return TENS[tens] if unit == 0 else f"{TENS[tens]} e {UNITS[unit]}"

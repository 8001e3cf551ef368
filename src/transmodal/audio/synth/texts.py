"""What the synthetic corpora say: English digits and Brazilian-Portuguese questionnaire answers.

Each generator returns a list of distinct strings, lower case, exactly as they should be spoken and
transcribed (no digits, no punctuation), so the text is at once the TTS input and the training label.
"""

from __future__ import annotations

import random

from transmodal.audio.synth.numbers_pt import MAX_NUMBER, number_to_words_pt

EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

PT_YES_NO = ("sim", "não", "claro", "com certeza", "nunca", "não sei", "prefiro não responder")
PT_LIKERT = ("muito bom", "bom", "regular", "ruim", "muito ruim", "ótimo", "péssimo")
PT_FREQUENCY = ("sempre", "quase sempre", "às vezes", "raramente", "nunca")
# Other ways people answer the same questions (normalised to the sets above by transmodal.quiz), consent
# answers, and the words of partial dates ("março de dois mil e vinte e seis").
PT_VARIANTS = ("é", "isso", "isso mesmo", "aham", "claro que não", "de jeito nenhum", "de vez em quando",
               "mais ou menos", "excelente", "sei lá", "não lembro", "não quero responder", "aceito", "não aceito",
               "concordo", "não concordo")
# The answers of the demo questionnaire's own choice lists (transmodal.quiz.demo), spoken as written.
PT_DEMO_CHOICES = ("até quinze minutos", "de quinze a trinta minutos", "de trinta minutos a uma hora", "mais de uma hora",
                   "o tempo de espera", "a atenção da equipe", "a falta de remédios", "a estrutura da unidade",
                   "outra coisa")
PT_MONTHS = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro",
             "novembro", "dezembro")
PT_YEARS = ("dois mil e vinte e quatro", "dois mil e vinte e cinco", "dois mil e vinte e seis")


def en_digit_texts(strings: int = 400, seed: int = 0, min_len: int = 2, max_len: int = 5) -> list[str]:
    """``"zero"`` … ``"nine"`` plus ``strings`` distinct random digit strings of ``min_len``–``max_len`` digits.

    ``"3 0 7"`` is written ``"three zero seven"``. The same ``seed`` gives the same list.
    """
    if strings < 0:
        raise ValueError(f"strings={strings} must be >= 0")
    if not 2 <= min_len <= max_len:
        raise ValueError(f"need 2 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")
    possible = sum(10**k for k in range(min_len, max_len + 1))
    if strings > possible:
        raise ValueError(f"only {possible} digit strings of {min_len}–{max_len} digits exist; ask for at most that many")
    rng = random.Random(seed)
    seen: set[str] = set()
    out = list(EN_DIGITS)
    while len(seen) < strings:
        digits = [rng.randrange(10) for _ in range(rng.randint(min_len, max_len))]
        text = " ".join(EN_DIGITS[d] for d in digits)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def pt_number_texts(low: int = 0, high: int = MAX_NUMBER) -> list[str]:
    """The numbers ``low`` … ``high`` (inclusive) in Brazilian-Portuguese words."""
    return [number_to_words_pt(n) for n in range(low, high + 1)]


def pt_quiz_texts() -> list[str]:
    """Every questionnaire answer once: yes/no, Likert, frequency, then the numbers zero … cento e vinte.

    ``"nunca"`` belongs to two answer sets; it appears once.
    """
    out: list[str] = []
    for text in (*PT_YES_NO, *PT_LIKERT, *PT_FREQUENCY, *pt_number_texts()):
        if text not in out:
            out.append(text)
    return out


def pt_quiz_extended_texts() -> list[str]:
    """:func:`pt_quiz_texts`, then :data:`PT_VARIANTS`, :data:`PT_DEMO_CHOICES`, the months, ``"MONTH de YEAR"`` for the years in
    :data:`PT_YEARS`, and the years alone."""
    out = pt_quiz_texts()
    extra = [*PT_VARIANTS, *PT_DEMO_CHOICES, *PT_MONTHS, *(f"{m} de {y}" for m in PT_MONTHS for y in PT_YEARS), *PT_YEARS]
    return out + [t for t in dict.fromkeys(extra) if t not in out]


# name → (generator, language of the voices that must speak it)
TEXT_GENERATORS = {
    "en-digits": (en_digit_texts, "en"),
    "pt-quiz": (pt_quiz_texts, "pt-br"),
    "pt-quiz-extended": (pt_quiz_extended_texts, "pt-br"),
}


def generate_texts(name: str) -> list[str]:
    """The texts of generator ``name`` (one of :data:`TEXT_GENERATORS`)."""
    if name not in TEXT_GENERATORS:
        raise ValueError(f"unknown text generator {name!r}; choose one of {', '.join(TEXT_GENERATORS)} or pass a list of strings")
    return TEXT_GENERATORS[name][0]()


def generator_language(name: str) -> str:
    """The language code the voices speaking generator ``name`` must have (``"en"``, ``"pt-br"``)."""
    if name not in TEXT_GENERATORS:
        raise ValueError(f"unknown text generator {name!r}; choose one of {', '.join(TEXT_GENERATORS)}")
    return TEXT_GENERATORS[name][1]

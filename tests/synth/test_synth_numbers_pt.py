"""Portuguese number words 0 … 120 and the text generators."""

import re

import pytest

from transmodal.audio.synth.numbers_pt import number_to_words_pt
from transmodal.audio.synth.texts import (EN_DIGITS, PT_FREQUENCY, PT_LIKERT, PT_YES_NO, en_digit_texts, generate_texts,
                                          pt_quiz_texts)

# Written by hand, not by the function under test.
HAND = {
    0: "zero", 1: "um", 2: "dois", 3: "três", 4: "quatro", 5: "cinco", 6: "seis", 7: "sete", 8: "oito", 9: "nove",
    10: "dez", 11: "onze", 12: "doze", 13: "treze", 14: "quatorze", 15: "quinze", 16: "dezesseis", 17: "dezessete",
    18: "dezoito", 19: "dezenove", 20: "vinte", 21: "vinte e um", 22: "vinte e dois", 23: "vinte e três",
    29: "vinte e nove", 30: "trinta", 34: "trinta e quatro", 40: "quarenta", 45: "quarenta e cinco",
    50: "cinquenta", 56: "cinquenta e seis", 60: "sessenta", 67: "sessenta e sete", 70: "setenta",
    78: "setenta e oito", 80: "oitenta", 89: "oitenta e nove", 90: "noventa", 91: "noventa e um",
    99: "noventa e nove", 100: "cem", 101: "cento e um", 102: "cento e dois", 105: "cento e cinco",
    110: "cento e dez", 111: "cento e onze", 114: "cento e quatorze", 116: "cento e dezesseis",
    119: "cento e dezenove", 120: "cento e vinte",
}
TENS = ["vinte", "trinta", "quarenta", "cinquenta", "sessenta", "setenta", "oitenta", "noventa"]
ONES = ["um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove"]


@pytest.mark.parametrize("n,words", sorted(HAND.items()))
def test_hand_written_table(n, words):
    assert number_to_words_pt(n) == words


def test_structural_rules_for_every_number():
    words = [number_to_words_pt(n) for n in range(121)]
    assert len(set(words)) == 121  # no two numbers share a spelling
    vocabulary = set(HAND.values()) | set(TENS) | {"e", "cento"}
    vocabulary = {w for phrase in vocabulary for w in phrase.split()}
    for n, w in enumerate(words):
        assert re.fullmatch(r"[a-zçãáéêíóôõú ]+", w), w
        assert set(w.split()) <= vocabulary, w
        assert "  " not in w and w == w.strip()
        if 21 <= n <= 99:
            t, u = divmod(n, 10)
            assert w == (TENS[t - 2] if u == 0 else f"{TENS[t - 2]} e {ONES[u - 1]}")
        if 101 <= n <= 120:
            assert w == "cento e " + words[n - 100]
        # "e" always sits between two words, never at an end, never twice in a row
        parts = w.split()
        assert parts[0] != "e" and parts[-1] != "e"
        assert all(not (a == b == "e") for a, b in zip(parts, parts[1:]))
        assert w.count(" e ") == (n > 20 and n % 10 != 0 and n < 100) + (n > 100) + (n > 120)


@pytest.mark.parametrize("bad", [-1, 121, 1000, 2.0, "3", True, None])
def test_out_of_range_or_not_an_int(bad):
    with pytest.raises(ValueError, match="0 … 120|whole number"):
        number_to_words_pt(bad)


def test_pt_quiz_covers_exactly_the_answer_sets():
    texts = pt_quiz_texts()
    expected = set(PT_YES_NO) | set(PT_LIKERT) | set(PT_FREQUENCY) | {number_to_words_pt(n) for n in range(121)}
    assert set(texts) == expected and len(texts) == len(expected) == 139
    assert {"prefiro não responder", "às vezes", "péssimo", "cento e vinte", "cem"} <= set(texts)
    assert texts.count("nunca") == 1


def test_en_digit_texts():
    texts = en_digit_texts(strings=200, seed=3)
    assert texts[:10] == list(EN_DIGITS) and len(set(texts)) == 210
    for t in texts[10:]:
        words = t.split()
        assert 2 <= len(words) <= 5 and set(words) <= set(EN_DIGITS)
    assert en_digit_texts(strings=50, seed=1) == en_digit_texts(strings=50, seed=1)
    assert en_digit_texts(strings=50, seed=1) != en_digit_texts(strings=50, seed=2)
    with pytest.raises(ValueError, match="generator"):
        generate_texts("klingon-digits")

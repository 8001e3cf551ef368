"""Portuguese numbers: words → digits (text2num + the small words), digits → words (as the model hears them)."""

import pytest

from transmodal.audio.synth.numbers_pt import number_to_words_pt
from transmodal.quiz.numbers import number_words, numbers_in, to_digits


@pytest.mark.parametrize("text, expected", [
    ("vinte e três", [23]), ("tenho vinte e três anos", [23]), ("23", [23]), ("tenho 23 anos", [23]),
    ("cem", [100]), ("cento e um", [101]), ("cento e vinte", [120]), ("zero", [0]), ("um", [1]), ("uma", [1]),
    ("dois", [2]), ("duas", [2]), ("quatorze", [14]), ("catorze", [14]), ("dezesseis", [16]), ("dezenove", [19]),
    ("cinquenta", [50]), ("cinqüenta", [50]), ("noventa e nove", [99]), ("sessenta e um anos", [61]),
    ("vinte três", [23]), ("cento vinte", [120]), ("cento e vinte três", [123]),
    ("vinte, não, vinte e dois", [20, 22]), ("dois mil e vinte e seis", [2026]), ("oito oito", [8, 8]),
    ("não sei", []), ("", []),
])
def test_numbers_in(text, expected):
    assert numbers_in(text) == expected


def test_to_digits_keeps_other_words():
    assert to_digits("março de dois mil e vinte e seis") == "março de 2026"
    assert to_digits("primeiro de março") == "1 de março"


def test_number_words_agrees_with_the_training_texts_and_reads_back():
    for n in range(0, 121):
        assert number_words(n) == number_to_words_pt(n)
    for n in [*range(0, 1000, 7), 1000, 1500, 1987, 2000, 2024, 2026, 2099, 12345]:
        assert numbers_in(number_words(n)) == [n], number_words(n)
    assert number_words(2026) == "dois mil e vinte e seis"
    assert number_words(199) == "cento e noventa e nove"
    with pytest.raises(ValueError):
        number_words(-1)
    with pytest.raises(ValueError):
        number_words(2.5)

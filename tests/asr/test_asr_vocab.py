"""The CTC character vocabulary: ids, normalisation, Portuguese accents, unknown characters, JSON."""

import unicodedata

import pytest

from transmodal.asr.vocab import CharVocab


def test_layout_blank_space_apostrophe_letters():
    v = CharVocab()
    assert v.vocab_size == 42 == 1 + 2 + 26 + 13
    assert v.blank_id == 0 and v.id_to_char(0) == "<blank>"
    assert v.encode(" a ")[0] == 3 and v.space_id == 1 and v.encode("'") == [2]
    assert v.encode("z") == [28] and v.encode("ü") == [41]


def test_round_trip_with_portuguese_accents_and_normalisation():
    v = CharVocab()
    text = "  A CORAÇÃO\tdo   PÔR-\n d’água  "
    with pytest.raises(ValueError):  # the hyphen is not in the vocabulary
        v.encode(text)
    text = text.replace("-", "")
    assert v.normalize(text) == "a coração do pôr d'água"
    assert v.decode(v.encode(text)) == "a coração do pôr d'água"
    accents = "áâãàçéêíóôõúü"
    assert v.decode(v.encode(accents.upper())) == accents
    assert len(v.encode(accents)) == len(accents)  # one id per accented letter


def test_nfd_input_is_composed():
    v = CharVocab()
    decomposed = unicodedata.normalize("NFD", "não é")
    assert len(decomposed) == 7
    assert v.encode(decomposed) == v.encode("não é")
    assert v.decode(v.encode(decomposed)) == "não é"


def test_unknown_character_error_names_it():
    v = CharVocab()
    with pytest.raises(ValueError, match=r"'ñ' \(U\+00F1") as e:
        v.encode("Señor")
    assert "position 2" in str(e.value)
    with pytest.raises(ValueError, match="'5'.*position 6.*'€'.*position 7"):  # all of them at once
        v.encode("custa 5€")


def test_unknown_policies():
    assert CharVocab(unknown="drop").decode(CharVocab(unknown="drop").encode("Señor, sí!")) == "seor sí"
    s = CharVocab(unknown="strip_accents")
    assert s.decode(s.encode("Señor crème")) == "senor creme"
    with pytest.raises(ValueError, match="'ß'"):
        s.encode("straße")  # no accent to strip: still an error
    r = CharVocab(replace={"-": " "})
    assert r.decode(r.encode("guarda-chuva")) == "guarda chuva"
    with pytest.raises(ValueError, match="unknown="):
        CharVocab(unknown="ignore")


def test_decode_skips_blank_and_rejects_bad_ids():
    v = CharVocab()
    assert v.decode([0, 3, 0, 0, 4, 0]) == "ab"
    with pytest.raises(ValueError, match="outside"):
        v.decode([42])


def test_invalid_vocabularies():
    with pytest.raises(ValueError, match="unique"):
        CharVocab(chars=[" ", "a", "a"])
    with pytest.raises(ValueError, match="space"):
        CharVocab(chars=["a", "b"])
    with pytest.raises(ValueError, match="lower case"):
        CharVocab(chars=[" ", "A"])
    with pytest.raises(ValueError, match="single characters"):
        CharVocab(chars=[" ", "ab"])


def test_json_round_trip(tmp_path):
    v = CharVocab(unknown="strip_accents", replace={"-": " ", "’": "'"})
    path = v.save(tmp_path / "v.json")
    w = CharVocab.load(path)
    assert w == v and w.encode("Pão-de-ló") == v.encode("Pão-de-ló")
    v.save(tmp_path)
    assert CharVocab.load(tmp_path) == v
    assert "ã" in (tmp_path / "vocab.json").read_text(encoding="utf-8")  # readable, not escaped
    with pytest.raises(FileNotFoundError, match="no vocabulary"):
        CharVocab.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"type": "bpe"}')
    with pytest.raises(ValueError, match="char_ctc"):
        CharVocab.load(tmp_path / "bad.json")

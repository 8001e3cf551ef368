"""WordPiece tokenizer: Portuguese round trips with accents, ## pieces, BERT's special ids and input layout."""

import random
import unicodedata

import pytest

from transmodal.text.wordpiece import MASK_ID, WordPieceTokenizer, train_wordpiece

WORDS = (
    "ação coração você está aí é claro que não sim também amanhã irmã avó avô pão mãe pai "
    "café açúcar órfão lição informação português difícil fácil rápido música médico "
    "põe porquê até já só lá cá água árvore relógio ônibus útil através pôr têm vêm "
    "Honório Amélia João Conceição Brás Cubas Capitu Bentinho Rubião Sofia "
    "eu tu ele ela nós o a os as um uma de do da em no na para com por disse olhou viu"
).split()


def corpus(n=400, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10)))
        out.append(s[0].upper() + s[1:] + rng.choice([".", "?", "!", ",", ";", ":", " -"]))
    return out


@pytest.fixture(scope="module")
def tok():
    return train_wordpiece(corpus(), vocab_size=300)


def squash(s: str) -> str:
    """The reference: NFC, lower case, no whitespace."""
    return "".join(unicodedata.normalize("NFC", s).lower().split())


SENTENCES = [
    "Honório olhou para o chão e viu uma carteira.",
    "A avó do médico tem açúcar no café?",
    "Ações, corações, informações: órfãos!",  # unseen word forms from seen characters
    "D. Amélia põe o pão - disse João.",
    "ÁGUA, Árvore, ÔNIBUS",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_round_trip_keeps_every_character_and_accent(tok, text):
    ids = tok.encode(text)
    assert tok.unk_id not in ids
    assert squash(tok.decode(ids)) == squash(text)


def test_decomposed_accents_read_like_composed_ones(tok):
    text = "coração órfão você"
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert tok.encode(nfd) == tok.encode(text)


def test_decode_spaces_words_and_joins_continuation_pieces(tok):
    text = "informações através do relógio"
    pieces = tok.tokens(text)
    assert any(p.startswith("##") for p in pieces), pieces  # a rare form must split into ## pieces
    assert tok.decode(tok.encode(text)) == text
    # decoding glues '##x' to the piece before it, whatever the pieces
    assert tok.decode([tok.token_to_id(p) for p in pieces]) == text


def test_special_ids_and_mask_literal(tok):
    assert [tok.id_to_token(i) for i in range(5)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    ids = tok.encode("o [MASK] de Honório")
    assert ids.count(MASK_ID) == 1
    assert MASK_ID not in tok.encode("o [mask] de honório")  # only the exact literal is the mask token
    assert tok.decode(ids, skip_special=False).split()[1] == "[MASK]"


def test_unknown_characters_become_unk(tok):
    assert tok.unk_id in tok.encode("日本")


def test_pair_inputs_segments_and_longest_first_truncation(tok):
    ids, seg = tok.build_inputs([10, 11], [12, 13, 14])
    assert ids == [tok.cls_id, 10, 11, tok.sep_id, 12, 13, 14, tok.sep_id]
    assert seg == [0, 0, 0, 0, 1, 1, 1, 1]
    ids, seg = tok.build_inputs(list(range(10, 20)), list(range(30, 33)), max_len=10)
    # 7 pieces fit: the longer side (a) loses pieces from its end until a=4, b=3
    assert ids == [tok.cls_id, 10, 11, 12, 13, tok.sep_id, 30, 31, 32, tok.sep_id]
    ids, seg = tok.build_inputs(list(range(10, 20)), max_len=6)
    assert ids == [tok.cls_id, 10, 11, 12, 13, tok.sep_id] and seg == [0] * 6


def test_offsets_point_into_the_original_text(tok):
    text = "Disse o Honório: água!"
    ids, offsets = tok.encode_with_offsets(text)
    pieces = [tok.id_to_token(i).removeprefix("##") for i in ids]
    assert [text[a:b].lower() for a, b in offsets] == pieces


def test_save_load_and_bad_files(tok, tmp_path):
    tok.save(tmp_path / "tokenizer.json")
    again = WordPieceTokenizer.load(tmp_path)
    assert again.encode(SENTENCES[0]) == tok.encode(SENTENCES[0])
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read tokenizer"):
        WordPieceTokenizer.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        WordPieceTokenizer.load(tmp_path / "missing")

"""BPE tokenizer: round trips with Portuguese accents, special ids, save/load, error messages."""

import random
import unicodedata

import pytest
import torch

from transmodal.text import SPECIALS, Tokenizer, train_bpe

WORDS = (
    "ação coração você está aí é claro que não sim também amanhã irmã avó avô pão mãe pai "
    "café açúcar órfão lição informação português difícil fácil rápido música médico "
    "põe porquê até já só lá cá água árvore relógio ônibus útil através pôr têm vêm "
    "eu tu ele ela nós vós eles elas o a os as um uma de do da em no na para com por "
    "casa cidade criança coisa gente tempo vida dia noite hoje ontem sempre nunca muito pouco "
    "bom boa mau grande pequeno novo velho bonito feliz triste quero posso vou fiz disse sei"
).split()

TEMPLATES = [
    "você está aí?",
    "é claro que não",
    "o coração da cidade",
    "a informação é útil",
]


def corpus(n=300, seed=0):
    rng = random.Random(seed)
    sents = list(TEMPLATES)
    while len(sents) < n:
        k = rng.randint(3, 9)
        s = " ".join(rng.choice(WORDS) for _ in range(k))
        if rng.random() < 0.3:
            s += rng.choice(["?", "!", ".", ","])
        sents.append(s)
    return sents


@pytest.fixture(scope="module")
def tok():
    torch.manual_seed(0)
    return train_bpe(corpus(), vocab_size=300)


UNSEEN = [
    "a avó do médico tem açúcar no café?",  # new combination of seen words
    "ações corações informações",  # unseen word forms, seen characters
    "não, não sei",
    "o órfão vê o ônibus através da árvore",
]


def test_special_ids_and_vocab_size(tok):
    torch.manual_seed(1)
    assert SPECIALS == ["<pad>", "<s>", "</s>", "<unk>"]
    for i, s in enumerate(SPECIALS):
        assert tok.hf.token_to_id(s) == i
        assert tok.id_to_token(i) == s
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert len(SPECIALS) < tok.vocab_size <= 300


def test_round_trip_seen_sentences(tok):
    torch.manual_seed(2)
    for s in corpus()[:120]:
        ids = tok.encode(s)
        assert ids and all(i >= len(SPECIALS) for i in ids), s
        assert tok.decode(ids) == s


def test_round_trip_unseen_sentences(tok):
    torch.manual_seed(3)
    train_chars = set("".join(corpus()))
    for s in UNSEEN:
        assert set(s) <= train_chars  # precondition: only characters the tokenizer has seen
        ids = tok.encode(s)
        assert tok.unk_id not in ids
        assert tok.decode(ids) == s


def test_accents_survive_and_frequent_words_are_single_tokens(tok):
    torch.manual_seed(4)
    assert tok.decode(tok.encode("ação")) == "ação"
    # NFC normalisation: a decomposed input decodes to the composed form
    nfd = unicodedata.normalize("NFD", "coração")
    assert nfd != "coração"
    assert tok.decode(tok.encode(nfd)) == "coração"
    # lower-casing
    assert tok.decode(tok.encode("Você Está Aí?")) == "você está aí?"
    # a very frequent word becomes one piece
    assert len(tok.encode("não")) == 1


def test_bos_eos(tok):
    torch.manual_seed(5)
    s = "é claro que não"
    plain = tok.encode(s)
    assert tok.encode(s, bos=True) == [1] + plain
    assert tok.encode(s, eos=True) == plain + [2]
    assert tok.encode(s, bos=True, eos=True) == [1] + plain + [2]
    assert tok.decode([1] + plain + [2, 0, 0]) == s
    assert tok.encode_batch([s, "ação"], bos=True, eos=True) == [
        tok.encode(s, bos=True, eos=True),
        tok.encode("ação", bos=True, eos=True),
    ]


def test_save_load_round_trip(tok, tmp_path):
    torch.manual_seed(6)
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    for where in (path, tmp_path):  # a file or the directory holding tokenizer.json
        loaded = Tokenizer.load(where)
        assert loaded.vocab_size == tok.vocab_size
        for s in corpus()[:50] + UNSEEN:
            assert loaded.encode(s, bos=True, eos=True) == tok.encode(s, bos=True, eos=True)
            assert loaded.decode(loaded.encode(s)) == tok.decode(tok.encode(s))


def test_load_missing_file_names_the_path(tmp_path):
    torch.manual_seed(7)
    missing = tmp_path / "nothing_here.json"
    with pytest.raises(FileNotFoundError, match="nothing_here.json") as e:
        Tokenizer.load(missing)
    assert str(missing) in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        Tokenizer.load(tmp_path)  # directory without tokenizer.json
    assert str(tmp_path / "tokenizer.json") in str(e.value)


@pytest.mark.parametrize("content", ["{not json at all", "{}", '{"model": 3}'])
def test_load_corrupt_file_names_the_path(tmp_path, content):
    torch.manual_seed(8)
    bad = tmp_path / "broken_tok.json"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as e:
        Tokenizer.load(bad)
    assert str(bad) in str(e.value)


def test_wrong_special_ids_rejected():
    torch.manual_seed(9)
    from tokenizers import Tokenizer as HF
    from tokenizers import models

    hf = HF(models.BPE(unk_token="<unk>"))
    hf.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>"])  # pad and bos swapped
    with pytest.raises(ValueError, match="<pad>"):
        Tokenizer(hf)

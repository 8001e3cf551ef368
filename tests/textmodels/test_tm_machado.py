"""The Machado corpus reader: headers, the split by work, and the heuristic labels on hand-made examples."""

import random

import pytest

from transmodal.text.machado import (
    PERIODS,
    Work,
    corpus_path,
    name_tags,
    period_label,
    read_works,
    sentences,
    speaker_spans,
    split_works,
)

needs_corpus = pytest.mark.skipif(not corpus_path().is_file(), reason="machado.txt not under $TRANSMODAL_DATA")


@pytest.fixture(scope="module")
def works():
    return read_works()


@needs_corpus
def test_every_header_becomes_a_work_and_no_text_is_lost(works):
    lines = corpus_path().read_text(encoding="utf-8").split("\n")
    headers = [i for i, line in enumerate(lines) if line == "Parte de"]
    assert len(works) == len(headers) == 190
    stars = sum(1 for i in headers if lines[i + 3] == "*")
    nonempty = sum(1 for line in lines if line.strip())
    # every non-empty line is a header line (3 each, + the optional '*') or a paragraph of a work
    assert sum(len(w.paragraphs) for w in works) == nonempty - 3 * len(headers) - stars
    assert works[0].title == "A carteira" and works[0].collection == "Contos na Imprensa - Fase 8"
    assert works[0].paragraphs[0].startswith("... De repente, Honório olhou para o chão")
    assert {w.start_year for w in works} <= set(range(1858, 1908))


@needs_corpus
def test_split_keeps_whole_works_apart(works):
    s = split_works(works)
    idx = {k: {w.index for w in v} for k, v in s.items()}
    assert not idx["train"] & idx["test"] and not idx["train"] & idx["valid"] and not idx["valid"] & idx["test"]
    assert len(idx["train"]) + len(idx["valid"]) + len(idx["test"]) == len(works)
    assert all(not w.merged for w in s["test"] + s["valid"])
    assert len({w.collection for w in s["test"]}) == len(s["test"])  # one per collection
    assert {period_label(w) for w in s["test"]} == set(range(len(PERIODS)))
    test_chars = sum(w.chars for w in s["test"]) / sum(w.chars for w in works)
    assert 0.02 < test_chars < 0.10
    again = split_works(list(reversed(works)))
    assert {k: sorted(w.index for w in v) for k, v in again.items()} == {k: sorted(v) for k, v in idx.items()}
    other = split_works(works, seed=1)
    assert {w.index for w in other["test"]} != idx["test"]


def test_period_labels_follow_the_collection_start_year():
    def work(start):
        return Work(0, "x", start, start, "t", ["p"])

    assert [period_label(work(y)) for y in (1858, 1869, 1870, 1879, 1880, 1889, 1890, 1906)] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_sentences_split_after_end_marks_but_not_after_abbreviations():
    p = 'Foi o Dr. Ferreira quem disse. D. Amélia riu! - Vá - disse ela. E então? "Nada", respondeu.'
    assert sentences(p) == ["Foi o Dr. Ferreira quem disse.", "D. Amélia riu!", "- Vá - disse ela.", "E então?", '"Nada", respondeu.']


def test_name_tags_mark_mid_sentence_capitals_only():
    p = "Ontem o Honório viu D. Amélia. Depois voltou para casa - disse Rubião: Ninguém sabia. O CAPÍTULO II"
    tags = {p[a:b]: t for a, b, t in name_tags(p)}
    assert tags["Honório"] == 1 and tags["Amélia"] == 1 and tags["D"] == 1 and tags["Rubião"] == 1
    assert tags["viu"] == 0 and tags["casa"] == 0
    assert tags["disse"] is None  # after a dialogue dash either case is normal: unknown
    assert tags["Ontem"] is None and tags["Depois"] is None and tags["Ninguém"] is None  # sentence-initial: unknown
    assert tags["CAPÍTULO"] is None and tags["II"] is None


@pytest.mark.parametrize(
    "paragraph,name",
    [
        ("- É verdade - concordou Honório envergonhado.", "Honório"),
        ("- Falta-me a carteira - disse o Gustavo sem meter a mão no bolso.", "Gustavo"),
        ("- Deita-se tarde? - perguntou o Luís Bastinhos.", "Luís Bastinhos"),
        ("- Entre - acudiu D. Amélia, sorrindo.", "D. Amélia"),
        ("- Não - respondeu a moça.", None),  # no name
        ("Disse Honório que não.", None),  # not a dialogue paragraph
        ("- Sim - disse Ele.", None),  # a pronoun is not a name
    ],
)
def test_speaker_spans(paragraph, name):
    span = speaker_spans(paragraph)
    assert (paragraph[span[0] : span[1]] if span else None) == name


@needs_corpus
def test_labelled_task_data_from_the_test_works(works):
    from transmodal.text.machado import period_examples, sentence_pairs, speaker_examples

    test = split_works(works)["test"]
    assert len(period_examples(test)) > 300
    pairs = sentence_pairs(test, random.Random(0))
    assert len(pairs) > 1000 and 0.45 < sum(y for *_, y in pairs) / len(pairs) < 0.55
    spk = speaker_examples(test)
    assert len(spk) > 50
    assert all(p[s:e][0].isupper() for p, s, e in spk)

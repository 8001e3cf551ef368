"""pt-BR normalisation tables: many spoken variants per answer type, codes, fuzzy threshold, candidates."""

import datetime

import pytest

from transmodal.quiz.demo import demo_form
from transmodal.quiz.form import Choice, Question
from transmodal.quiz.normalize import (FUZZY_THRESHOLD, NORMALISER_VERSION, candidates, clean, interpret, meaning,
                                       spoken)

FORM = demo_form()
YN = FORM.question("consultou")
AGE = FORM.question("idade")
WHEN = FORM.question("mes_consulta")
WAIT = FORM.question("espera")
RATING = FORM.question("satisfacao")
FREQ = FORM.question("explicacao")
IMPROVE = FORM.question("melhorar")
TEXT = FORM.question("comentario")
FULL_DATE = Question(name="nasc", type="date", label="Data da consulta", constraint=". <= '2030-12-31'")
TODAY = datetime.date(2026, 3, 20)

YES = ["sim", "Sim.", "SIM!", "é", "É sim", "isso", "isso mesmo", "claro", "claro que sim", "com certeza", "aham",
       "uhum", "fui sim", "sim, fui", "sim senhora", "exatamente", "certo", "pois é, sim", "positivo", "fui",
       "recomendaria", "sin", "simm"]
NO = ["não", "Não.", "nao", "não fui não", "claro que não", "nunca", "nunca fui", "de jeito nenhum", "não, nunca",
      "negativo", "não senhor", "sim... não, não fui", "jamais", "nem pensar", "nãum", "não recomendaria"]


@pytest.mark.parametrize("said", YES)
def test_yes_variants(said):
    r = interpret(YN, said)
    assert (r.status, r.value, r.label) == ("value", "sim", "Sim"), r


@pytest.mark.parametrize("said", NO)
def test_no_variants_and_negation_wins(said):
    r = interpret(YN, said)
    assert (r.status, r.value, r.label) == ("value", "nao", "Não"), r


def test_yes_and_no_in_one_answer_is_read_back():
    for said in ("sim... não, não fui", "sim, mas não gostei", "não, sim"):
        r = interpret(YN, said)
        assert r.value == "nao" and r.score == 0.5, said
    assert interpret(YN, "claro que não").score == 1.0
    assert interpret(YN, "não sou").value == "nao"  # not a near miss of "não sei"


def test_yes_strength():
    assert interpret(YN, "sim").score == 1.0
    assert interpret(YN, "sim, fui lá em março").score == 0.9
    echo = interpret(RECOMMEND := FORM.question("recomendaria"), "recomendaria")
    assert echo.value == "sim" and 0.5 <= echo.score < 0.85, RECOMMEND.label
    assert interpret(YN, "e").status == "none"  # folded "é" is the conjunction "e"


DONT_KNOW = ["não sei", "Não sei.", "sei lá", "sei la", "não lembro", "não me lembro", "olha, não sei dizer",
             "nao sei", "não faço ideia", "esqueci"]
REFUSED = ["prefiro não responder", "Prefiro não responder.", "não quero responder", "prefiro não dizer",
           "não quero falar sobre isso", "prefiro nao responder", "me recuso a responder", "prefiro não respondê"]


@pytest.mark.parametrize("question", [YN, AGE, WHEN, WAIT, RATING, FREQ], ids=lambda q: q.name)
@pytest.mark.parametrize("said", DONT_KNOW)
def test_dont_know_is_a_code_for_every_closed_type(question, said):
    r = interpret(question, said)
    assert (r.status, r.code, r.value) == ("code", "dont_know", None), r


@pytest.mark.parametrize("question", [YN, AGE, WHEN, WAIT, RATING, FREQ], ids=lambda q: q.name)
@pytest.mark.parametrize("said", REFUSED)
def test_refused_is_a_code(question, said):
    r = interpret(question, said)
    assert (r.status, r.code, r.value) == ("code", "refused", None), r


@pytest.mark.parametrize("said, code", [("prefiro não responder", "refused"), ("Não quero responder.", "refused"),
                                        ("prefiro não respondê", "refused"), ("não sei", "dont_know"),
                                        ("Sei lá.", "dont_know")])
def test_codes_for_free_text_are_whole_answers(said, code):
    r = interpret(TEXT, said)
    assert (r.status, r.code) == ("code", code)


def test_free_text_keeps_comments_that_contain_code_words():
    r = interpret(TEXT, "Não sei por que demoraram tanto para me atender.")
    assert (r.status, r.review) == ("value", True)
    assert r.value == "Não sei por que demoraram tanto para me atender."
    assert interpret(TEXT, "não sei").code == "dont_know"


RATINGS = [
    ("muito bom", "muito_bom"), ("Muito bom!", "muito_bom"), ("ótimo", "muito_bom"), ("otimo", "muito_bom"),
    ("excelente", "muito_bom"), ("foi muito bom", "muito_bom"), ("muito boa", "muito_bom"), ("bom", "bom"),
    ("foi bom", "bom"), ("boa", "bom"), ("achei bom", "bom"), ("regular", "regular"), ("mais ou menos", "regular"),
    ("razoável", "regular"), ("normal", "regular"), ("ruim", "ruim"), ("foi ruim", "ruim"), ("fraco", "ruim"),
    ("muito ruim", "muito_ruim"), ("péssimo", "muito_ruim"), ("pessimo", "muito_ruim"), ("horrível", "muito_ruim"),
    ("foi péssimo o atendimento", "muito_ruim"), ("a primeira", "muito_bom"), ("opção dois", "bom"),
    ("a última", "muito_ruim"), ("muito ruin", "muito_ruim"), ("regula", "regular"), ("ótmo", "muito_bom"),
]


@pytest.mark.parametrize("said, name", RATINGS)
def test_likert_quality(said, name):
    r = interpret(RATING, said)
    assert (r.status, r.value) == ("value", name), r
    assert r.label == RATING.choice(name).label


FREQUENCIES = [
    ("sempre", "sempre"), ("Sempre.", "sempre"), ("todas as vezes", "sempre"), ("toda vez", "sempre"),
    ("quase sempre", "quase_sempre"), ("na maioria das vezes", "quase_sempre"), ("geralmente", "quase_sempre"),
    ("às vezes", "as_vezes"), ("as vezes", "as_vezes"), ("AS VEZES", "as_vezes"), ("de vez em quando", "as_vezes"),
    ("algumas vezes", "as_vezes"), ("raramente", "raramente"), ("quase nunca", "raramente"),
    ("poucas vezes", "raramente"), ("nunca", "nunca"), ("nenhuma vez", "nunca"), ("nunca explicaram", "nunca"),
    ("raramenti", "raramente"), ("quase sempri", "quase_sempre"),
]


@pytest.mark.parametrize("said, name", FREQUENCIES)
def test_likert_frequency(said, name):
    r = interpret(FREQ, said)
    assert (r.status, r.value) == ("value", name), r


WAITS = [
    ("até quinze minutos", "ate_15"), ("até 15 minutos", "ate_15"), ("de quinze a trinta minutos", "de_15_a_30"),
    ("de 15 a 30 minutos", "de_15_a_30"), ("de trinta minutos a uma hora", "de_30_a_60"),
    ("mais de uma hora", "mais_de_1h"), ("mais de 1 hora", "mais_de_1h"), ("esperei mais de uma hora", "mais_de_1h"),
    ("a segunda opção", "de_15_a_30"), ("número 3", "de_30_a_60"), ("mais de uma ora", "mais_de_1h"),
]


@pytest.mark.parametrize("said, name", WAITS)
def test_select_one(said, name):
    r = interpret(WAIT, said)
    assert (r.status, r.value) == ("value", name), r


@pytest.mark.parametrize("said, name", [("o tempo de espera", "espera"), ("a espera", "espera"),
                                        ("a falta de remédios", "remedios"), ("falta de remedio", "remedios"),
                                        ("a atenção da equipe", "atencao"), ("outra coisa", "outra")])
def test_select_one_improvements(said, name):
    assert interpret(IMPROVE, said).value == name


def test_ambiguous_or_negated_choice_asks_to_confirm():
    r = interpret(RATING, "não foi ruim, foi bom")
    assert r.value == "bom" and r.score == 0.5
    r = interpret(RATING, "não foi bom")
    assert r.value == "bom" and r.score == 0.5
    assert interpret(RATING, "muito bom").score == 1.0


@pytest.mark.parametrize("said", ["azul", "o cachorro latiu", "xyzzy", "bla bla bla"])
def test_below_threshold_is_none(said):
    for q in (RATING, FREQ, WAIT, YN):
        r = interpret(q, said)
        assert r.status == "none" and r.value is None and r.score < FUZZY_THRESHOLD, (q.name, r)


AGES = [("vinte e três", 23), ("tenho vinte e três anos", 23), ("23", 23), ("23 anos", 23), ("cem", 100),
        ("cento e um", 101), ("cento e vinte", 120), ("zero", 0), ("um", 1), ("um ano", 1), ("dois anos", 2),
        ("quarenta e cinco", 45), ("sessenta e um anos", 61), ("eu tenho oitenta e oito", 88), ("dezesseis", 16),
        ("dezasseis", 16), ("quatorze", 14), ("catorze", 14), ("cinquenta", 50), ("vinte três", 23),
        ("noventa e nove", 99), ("Tenho 37.", 37), ("vinti e treis", 23), ("cinqüenta e cinco", 55)]


@pytest.mark.parametrize("said, n", AGES)
def test_integer(said, n):
    r = interpret(AGE, said)
    assert (r.status, r.value) == ("value", n), r
    assert isinstance(r.value, int)


def test_integer_constraint_and_self_correction():
    r = interpret(AGE, "cento e cinquenta")
    assert r.status == "none" and r.value is None and r.error == AGE.constraint_message and r.matched == "150"
    r = interpret(AGE, "vinte, não, vinte e dois")
    assert r.value == 22 and r.score < 0.85
    assert interpret(AGE, "tenho vinte e três anos").score == 1.0
    assert interpret(AGE, "acho que uns vinte e três").score == 0.9
    assert interpret(AGE, "banana").status == "none"


MONTHS = [("março de 2026", "2026-03"), ("Março de 2026.", "2026-03"), ("marco de 2026", "2026-03"),
          ("03/2026", "2026-03"), ("3/2026", "2026-03"), ("2026-03", "2026-03"),
          ("março de dois mil e vinte e seis", "2026-03"), ("em março de dois mil e vinte e cinco", "2025-03"),
          ("14 de março de 2026", "2026-03"), ("dia catorze de março de 2026", "2026-03"), ("14/03/2026", "2026-03"),
          ("janeiro de 2024", "2024-01"), ("dezembro de vinte e cinco", "2025-12"), ("fevereiro 2026", "2026-02"),
          ("foi em outubro de 2025", "2025-10"), ("marso de 2026", "2026-03"), ("setembro de 2025", "2025-09")]


@pytest.mark.parametrize("said, iso", MONTHS)
def test_partial_date(said, iso):
    r = interpret(WHEN, said)
    assert (r.status, r.value) == ("value", iso), r


@pytest.mark.parametrize("said, iso", [("14 de março de 2026", "2026-03-14"), ("14/03/2026", "2026-03-14"),
                                       ("quatorze de março de dois mil e vinte e seis", "2026-03-14"),
                                       ("primeiro de abril de 2025", "2025-04-01"), ("2026-03-14", "2026-03-14"),
                                       ("5/1/26", "2026-01-05")])
def test_full_date(said, iso):
    assert interpret(FULL_DATE, said).value == iso


def test_date_problems_say_what_is_missing():
    today = datetime.date.today()
    guess = interpret(WHEN, "em março")  # no year: the latest March, read back to confirm
    assert guess.value == f"{today.year if today.month >= 3 else today.year - 1}-03" and guess.score == 0.6
    assert "dia" in interpret(FULL_DATE, "março de 2026").error
    assert "não existe" in interpret(FULL_DATE, "31 de fevereiro de 2026").error
    assert interpret(WHEN, "13/2026").status == "none"
    r = interpret(WHEN, "março de 2031")  # constraint . <= '2030-12'
    assert r.status == "none" and r.error == WHEN.constraint_message
    assert interpret(WHEN, "ontem").status == "none"


@pytest.mark.parametrize("said", [None, "", "   ", "...", "?!"])
def test_silence_is_none(said):
    for q in (YN, AGE, RATING, TEXT, WHEN):
        assert interpret(q, said).status == "none"


def test_note_takes_no_answer():
    assert interpret(FORM.question("encerramento"), "sim").status == "none"


def test_clean_and_spoken():
    assert clean("  Às VEZES, sim! ") == "às vezes sim"
    assert clean("14/03/2026") == "14/03/2026"
    assert spoken("De 30 minutos a 1 hora") == "de trinta minutos a uma hora"
    assert spoken("Até 15 minutos") == "até quinze minutos"
    assert spoken("2 semanas (ou mais)") == "duas semanas ou mais"
    assert NORMALISER_VERSION


# --- candidates -------------------------------------------------------------------------------------------------
def phrases(q, **kw):
    return [p for p, _ in candidates(q, **kw)]


def test_candidates_required_phrases():
    yn = phrases(YN)
    for p in ["sim", "não", "claro", "com certeza", "nunca", "não sei", "prefiro não responder"]:
        assert p in yn
    for p in ["muito bom", "bom", "regular", "ruim", "muito ruim", "ótimo", "péssimo", "não sei", "prefiro não responder"]:
        assert p in phrases(RATING)
    for p in ["sempre", "quase sempre", "às vezes", "raramente", "nunca"]:
        assert p in phrases(FREQ)
    ages = phrases(AGE)
    assert ages[:3] == ["zero", "um", "dois"] and "vinte e três" in ages and "cem" in ages
    assert "cento e vinte" in ages and "cento e vinte e um" not in ages
    assert "não sei" in ages and "prefiro não responder" in ages
    assert len([m for _, m in candidates(AGE) if not m.startswith("code:")]) == 121


def test_candidates_follow_the_constraint():
    adult = Question(name="a", type="integer", label="Idade?", constraint=". >= 18 and . <= 30")
    nums = [m for _, m in candidates(adult) if not m.startswith("code:")]
    assert nums == [str(n) for n in range(18, 31)]
    wide = Question(name="w", type="integer", label="Renda?", constraint=". >= 0 and . <= 100000")
    assert candidates(wide) == []
    assert candidates(TEXT) == [] and candidates(FULL_DATE) == []


def test_constraints_on_other_answers_are_left_to_the_caller():
    q = Question(name="anos_na_cidade", type="integer", label="Há quantos anos mora aqui?",
                 constraint=". >= 0 and . <= ${idade}")
    assert interpret(q, "doze").value == 12
    assert [m for _, m in candidates(q)][:3] == ["0", "1", "2"] and len(candidates(q)) == 121 + 5


def test_month_year_candidates():
    cands = candidates(WHEN, today=TODAY)
    values = [m for _, m in cands if not m.startswith("code:")]
    assert values[0] == "2024-01" and values[-1] == "2026-03" and len(values) == 27
    assert ("março de dois mil e vinte e seis", "2026-03") in cands


@pytest.mark.parametrize("q", [q for q in FORM.questions if q.is_closed or q.type == "date"], ids=lambda q: q.name)
def test_every_candidate_reads_back_to_its_meaning(q):
    cands = candidates(q, today=TODAY)
    assert cands
    keys = [p.lower() for p, _ in cands]
    assert len(keys) == len(set(keys))
    for phrase, meant in cands:
        assert phrase == phrase.lower() and phrase.strip() == phrase
        assert all(c.isalpha() or c in " '" for c in phrase), phrase
        assert meaning(interpret(q, phrase)) == meant, phrase


def test_choice_labelled_like_a_code_is_answered_with_the_code():
    q = Question(name="q", type="select_one", label="?", choices=[Choice("a", "Azul"), Choice("b", "Verde"),
                                                                 Choice("ns", "Não sei")])
    cands = candidates(q)
    assert ("não sei", "code:dont_know") in cands and all(m != "ns" for _, m in cands)

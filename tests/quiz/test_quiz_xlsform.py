"""read_xlsform: the supported subset, type detection, and FormError locating every kind of mistake."""

import pytest
from quiz_testlib import YES_NO, write_xlsform

from transmodal.quiz.form import Form
from transmodal.quiz.xlsform import FormError, read_xlsform

SETTINGS = [["form_id", "version", "default_language", "form_title"], ["satisf", "2026031401", "pt", "Satisfação"]]
LIKERT = [["q", n, lab] for n, lab in [("mb", "Muito bom"), ("b", "Bom"), ("r", "Regular"), ("ru", "Ruim"),
                                        ("mr", "Muito ruim")]]
WAIT = [["espera", "pouco", "Menos de 30 minutos"], ["espera", "medio", "De 30 minutos a 1 hora"],
        ["espera", "muito", "Mais de 1 hora"]]


def good_rows():
    return [
        ["select_one sn", "consultou", "Consultou nos últimos 12 meses?", "yes"],
        ["integer", "idade", "Qual a sua idade?", "yes", ". >= 0 and . <= 120", "Idade entre 0 e 120"],
        ["date", "quando", "Mês e ano da consulta", "no", "", "", "${consultou} = 'sim'", "month-year"],
        ["select_one espera", "espera", "Quanto tempo esperou?"],
        ["select_one q", "nota", "Como avalia?"],
        ["text", "comentario", "Comentário"],
        ["note", "fim", "Obrigado!"],
    ]


def test_reads_every_type_and_settings(tmp_path):
    f = read_xlsform(write_xlsform(tmp_path / "f.xlsx", good_rows(), YES_NO + WAIT + LIKERT, SETTINGS))
    assert (f.form_id, f.version, f.title, f.default_language) == ("satisf", "2026031401", "Satisfação", "pt")
    assert [q.type for q in f.questions] == ["yes_no", "integer", "date", "select_one", "likert", "text", "note"]
    assert [q.row for q in f.questions] == [2, 3, 4, 5, 6, 7, 8]
    idade = f.question("idade")
    assert idade.required and idade.constraint == ". >= 0 and . <= 120" and idade.constraint_message == "Idade entre 0 e 120"
    assert f.question("quando").partial_date and f.question("quando").relevant == "${consultou} = 'sim'"
    assert [c.label for c in f.question("consultou").choices] == ["Sim", "Não"]
    assert f.question("consultou").yes_no_names() == ("sim", "nao")
    assert [q.is_closed for q in f.questions] == [True, True, False, True, True, False, False]


def test_json_round_trip(tmp_path):
    import json

    f = read_xlsform(write_xlsform(tmp_path / "f.xlsx", good_rows(), YES_NO + WAIT + LIKERT, SETTINGS))
    back = Form.from_dict(json.loads(json.dumps(f.to_dict())))
    assert back == f
    with pytest.raises(ValueError, match="unknown form fields"):
        Form.from_dict({**f.to_dict(), "colour": "red"})


def test_defaults_without_settings_and_plain_label_column(tmp_path):
    header = ["type", "name", "label", "hint"]
    path = write_xlsform(tmp_path / "meu_form.xlsx", [["integer", "n", "Quantos?", "um número"]], survey_header=header)
    f = read_xlsform(path)
    assert (f.form_id, f.version, f.title) == ("meu_form", "1", "meu_form")
    assert f.questions[0].hint == "um número"


def test_label_pt_column_preferred_over_english(tmp_path):
    header = ["type", "name", "label::English (en)", "label::pt"]
    f = read_xlsform(write_xlsform(tmp_path / "f.xlsx", [["text", "t", "Comment", "Comentário"]], survey_header=header))
    assert f.questions[0].label == "Comentário"


@pytest.mark.parametrize("labels, expected", [
    ([("s", "Sim"), ("n", "Não")], "yes_no"),
    ([("1", "Sim"), ("2", "Não")], "yes_no"),
    ([("yes", "Yes"), ("no", "No")], "yes_no"),
    ([("sim", "Sim"), ("nao", "Não"), ("ns", "Não sei")], "select_one"),
    ([("a", "Sempre"), ("b", "Quase sempre"), ("c", "Às vezes"), ("d", "Raramente"), ("e", "Nunca")], "likert"),
    ([("a", "Concordo"), ("b", "Neutro"), ("c", "Discordo")], "likert"),
    ([("a", "Azul"), ("b", "Verde"), ("c", "Vermelho")], "select_one"),
])
def test_select_one_kind(tmp_path, labels, expected):
    choices = [["l", n, lab] for n, lab in labels]
    f = read_xlsform(write_xlsform(tmp_path / "f.xlsx", [["select_one l", "q", "Pergunta"]], choices))
    assert f.questions[0].type == expected


def test_likert_appearance(tmp_path):
    choices = [["l", n, n.title()] for n in ("azul", "verde", "roxo")]
    f = read_xlsform(write_xlsform(tmp_path / "f.xlsx", [["select_one l", "q", "P", "", "", "", "", "likert"]], choices))
    assert f.questions[0].type == "likert"


def test_groups_are_flattened_with_their_relevance(tmp_path):
    rows = [["select_one sn", "a", "A?"],
            ["begin group", "g", "Grupo", "", "", "", "${a} = 'sim'"],
            ["integer", "b", "B?", "", "", "", "${a} != ''"],
            ["text", "c", "C?"],
            ["end group"],
            ["start", "inicio"],
            ["text", "d", "D?"]]
    f = read_xlsform(write_xlsform(tmp_path / "f.xlsx", rows, YES_NO))
    assert [q.name for q in f.questions] == ["a", "b", "c", "d"]
    assert f.question("b").relevant == "(${a} = 'sim') and (${a} != '')"
    assert f.question("c").relevant == "${a} = 'sim'" and f.question("d").relevant == ""


def test_policy_columns(tmp_path):
    header = ["type", "name", "label", "accept_confidence", "confirm_confidence", "max_attempts"]
    f = read_xlsform(write_xlsform(tmp_path / "f.xlsx", [["integer", "n", "N?", 0.9, "0,6", 2]], survey_header=header))
    q = f.questions[0]
    assert (q.accept_confidence, q.confirm_confidence, q.max_attempts) == (0.9, 0.6, 2)


# --- errors: each names sheet, row and column ------------------------------------------------------------
ERRORS = [
    # (survey rows, choices rows, sheet, row, column, message fragment)
    ([["select_multiple sn", "a", "A?"]], YES_NO, "survey", 2, "type", "unsupported question type 'select_multiple sn'"),
    ([["text", "a", "A?"], ["geopoint", "onde", "Onde?"]], None, "survey", 3, "type", "unsupported"),
    ([["calculate", "x", "X"]], None, "survey", 2, "type", "unsupported"),
    ([["select_one cores", "a", "A?"]], YES_NO, "survey", 2, "type", "unknown list 'cores'"),
    ([["select_one sn", "a", "A?"]], None, "survey", 2, "type", "needs a 'choices' sheet"),
    ([["text", "a", "A?"], ["integer", "a", "B?"]], None, "survey", 3, "name", "already used on row 2"),
    ([["text", "a", "A?", "", "", "", "${b} = 'sim'"]], None, "survey", 2, "relevant", "unknown question(s) ${b}"),
    ([["integer", "a", "A?", "", ". >= ${zz}"]], None, "survey", 2, "constraint", "${zz}"),
    ([["integer", "a", "A?", "", ". >= and . <= 3"]], None, "survey", 2, "constraint", "bad constraint expression"),
    ([["integer", "a", "A?", "", ". >= 0 and . <= 3 +"]], None, "survey", 2, "constraint", "bad constraint"),
    ([["integer", "a", "A?", "", "foo(.)"]], None, "survey", 2, "constraint", "unknown function"),
    ([["integer", "a", "A?", "", "", "", "${a} = 'x"]], None, "survey", 2, "relevant", "bad relevant"),
    ([["integer", "a", "A?", "talvez"]], None, "survey", 2, "required", "yes or no"),
    ([["integer", "", "A?"]], None, "survey", 2, "name", "has no name"),
    ([["integer", "1a", "A?"]], None, "survey", 2, "name", "must start with a letter"),
    ([["integer", "a", ""]], None, "survey", 2, "label::Portuguese (pt)", "has no label"),
    ([["", "a", "A?"]], None, "survey", 2, "type", "has no type"),
    ([["end group"]], None, "survey", 2, "type", "without a matching"),
    ([["begin group", "g", "G"], ["text", "a", "A"]], None, "survey", 2, "type", "never closed"),
    ([["select_one sn", "a", "A?"]], [["sn", "sim", "Sim"], ["sn", "sim", "Sim!"]], "choices", 3, "name", "appears twice"),
    ([["select_one sn", "a", "A?"]], [["sn", "sim", ""]], "choices", 2, "label::Portuguese (pt)", "has no label"),
    ([["select_one sn", "a", "A?"]], [["", "sim", "Sim"]], "choices", 2, "list_name", "empty list_name"),
    ([["select_one sn", "a", "A?"]], [["sn", "sim", "Sim"]], "survey", 2, "type", "at least 2"),
    ([["select_one sn or_other", "a", "A?"]], YES_NO, "survey", 2, "type", "one list name"),
]


@pytest.mark.parametrize("survey, choices, sheet, row, column, fragment", ERRORS)
def test_form_errors_are_located(tmp_path, survey, choices, sheet, row, column, fragment):
    path = write_xlsform(tmp_path / "bad.xlsx", survey, choices)
    with pytest.raises(FormError) as info:
        read_xlsform(path)
    e = info.value
    assert (e.sheet, e.row, e.column) == (sheet, row, column)
    assert fragment in str(e)
    assert f"sheet '{sheet}'" in str(e) and f"row {row}" in str(e) and f"column '{column}'" in str(e)


def test_missing_columns(tmp_path):
    with pytest.raises(FormError, match="missing column 'name'") as info:
        read_xlsform(write_xlsform(tmp_path / "a.xlsx", [["text", "A?"]], survey_header=["type", "label"]))
    assert (info.value.sheet, info.value.row) == ("survey", 1)
    with pytest.raises(FormError, match="none is Portuguese"):
        read_xlsform(write_xlsform(tmp_path / "b.xlsx", [["text", "a", "A?"]], survey_header=["type", "name", "label::English (en)"]))
    with pytest.raises(FormError, match="missing column 'list_name'") as info:
        read_xlsform(write_xlsform(tmp_path / "c.xlsx", [["select_one sn", "a", "A?"]], [["sim", "Sim"]],
                                   choices_header=["name", "label"]))
    assert info.value.sheet == "choices"


def test_missing_survey_sheet_and_not_a_workbook(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "perguntas"
    wb.save(tmp_path / "x.xlsx")
    with pytest.raises(FormError, match="no 'survey' sheet") as info:
        read_xlsform(tmp_path / "x.xlsx")
    assert info.value.sheet == "survey"
    (tmp_path / "y.xlsx").write_text("type,name\n")
    with pytest.raises(FormError, match="not a readable .xlsx"):
        read_xlsform(tmp_path / "y.xlsx")
    with pytest.raises(FormError, match="no such file"):
        read_xlsform(tmp_path / "missing.xlsx")


def test_empty_survey(tmp_path):
    with pytest.raises(FormError, match="no questions"):
        read_xlsform(write_xlsform(tmp_path / "e.xlsx", []))


def test_bad_policy_columns(tmp_path):
    header = ["type", "name", "label", "accept_confidence", "confirm_confidence", "max_attempts"]
    for row, column in [(["integer", "n", "N", 1.5], "accept_confidence"), (["integer", "n", "N", "", "x"], "confirm_confidence"),
                        (["integer", "n", "N", "", "", "0"], "max_attempts"), (["integer", "n", "N", 0.5, 0.7], "confirm_confidence")]:
        with pytest.raises(FormError) as info:
            read_xlsform(write_xlsform(tmp_path / "p.xlsx", [row], survey_header=header))
        assert info.value.column == column and info.value.row == 2

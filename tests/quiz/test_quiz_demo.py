"""The shipped demo questionnaire: rebuilt from code it equals the committed file, and it covers every type."""

from transmodal.quiz.demo import DEMO_PATH, build_demo_form, demo_form
from transmodal.quiz.expressions import is_relevant
from transmodal.quiz.form import QUESTION_TYPES
from transmodal.quiz.xlsform import read_xlsform


def test_committed_file_is_the_builder_output(tmp_path):
    assert DEMO_PATH.is_file()
    rebuilt = read_xlsform(build_demo_form(tmp_path / "sub" / "demo.xlsx"))
    assert rebuilt == demo_form()
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_covers_every_type_in_portuguese():
    f = demo_form()
    assert f.title == "Satisfação com a última consulta na unidade de saúde"
    assert set(QUESTION_TYPES) <= {q.type for q in f.questions}
    assert 8 <= len([q for q in f.questions if q.type != "note"]) <= 12
    assert any(q.partial_date for q in f.questions)
    assert f.question("idade").constraint and f.question("idade").constraint_message
    assert [c.name for c in f.question("satisfacao").choices] == ["muito_bom", "bom", "regular", "ruim", "muito_ruim"]
    assert [c.label for c in f.question("explicacao").choices] == ["Sempre", "Quase sempre", "Às vezes", "Raramente", "Nunca"]
    assert any(ch in q.label for q in f.questions for ch in "ãçéêíóú")


def test_follow_up_only_after_a_bad_rating():
    q = demo_form().question("melhorar")
    assert is_relevant(q, {"satisfacao": "muito_ruim"}) and is_relevant(q, {"satisfacao": "ruim"})
    assert not is_relevant(q, {"satisfacao": "bom"}) and not is_relevant(q, {})

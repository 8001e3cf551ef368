"""The confidence policy: thresholds, escalating re-asks, give-up as dont_know, per-question overrides."""

import pytest

from transmodal.quiz.demo import demo_form
from transmodal.quiz.form import Question
from transmodal.quiz.normalize import Interpretation, interpret
from transmodal.quiz.policy import CONFIRMATION, GIVE_UP_CODE, Policy, decide

FORM = demo_form()
RATING = FORM.question("satisfacao")
YN = FORM.question("consultou")
AGE = FORM.question("idade")  # its XLSForm row sets accept_confidence 0.9
WHEN = FORM.question("mes_consulta")
TEXT = FORM.question("comentario")
GOOD = interpret(RATING, "muito bom")
NOTHING = Interpretation("none")


@pytest.mark.parametrize("confidence, action", [(1.0, "accept"), (0.85, "accept"), (0.849, "confirm"), (0.5, "confirm"),
                                                (0.499, "reask"), (0.0, "reask")])
def test_thresholds(confidence, action):
    d = decide(RATING, confidence, 1, GOOD)
    assert d.action == action
    if action == "accept":
        assert d.level is None and "Muito bom" in d.prompt and d.code is None
    if action == "confirm":
        assert d.prompt == "Entendi: Muito bom. Está certo?"
    if action == "reask":
        assert d.level == "rephrase" and RATING.label in d.prompt


def test_the_weaker_of_confidence_and_match_counts():
    ambiguous = interpret(RATING, "não foi ruim, foi bom")  # score 0.5
    assert decide(RATING, 0.99, 1, ambiguous).action == "confirm"
    assert decide(RATING, 0.4, 1, GOOD).action == "reask"


def test_escalation_then_give_up():
    steps = [decide(RATING, 0.0, attempt, NOTHING) for attempt in (1, 2, 3, 4)]
    assert [(d.action, d.level) for d in steps] == [("reask", "rephrase"), ("reask", "list"), ("reask", "buttons"),
                                                    ("give_up", None)]
    assert "Desculpe, não entendi." in steps[0].prompt and RATING.label in steps[0].prompt
    assert "As opções são: Muito bom, Bom, Regular, Ruim ou Muito ruim." in steps[1].prompt
    assert "Toque" in steps[2].prompt and "Muito ruim" in steps[2].prompt
    assert steps[3].code == GIVE_UP_CODE == "dont_know"


def test_silence_is_no_answer_whatever_the_confidence():
    d = decide(YN, 0.99, 1, NOTHING, silent=True)
    assert d.action == "reask" and d.prompt.startswith("Não ouvi a sua resposta.") and "sim ou não" in d.prompt
    assert decide(YN, 0.99, 4, NOTHING, silent=True).action == "give_up"


def test_constraint_error_is_said():
    bad = interpret(AGE, "cento e cinquenta")
    d = decide(AGE, 1.0, 1, bad)
    assert d.action == "reask" and d.prompt.startswith(AGE.constraint_message)
    assert "Diga um número de 0 a 120." in decide(AGE, 1.0, 2, bad).prompt


def test_codes_are_accepted_or_confirmed_like_values():
    dk = interpret(YN, "não sei")
    assert decide(YN, 0.95, 1, dk).action == "accept"
    d = decide(YN, 0.6, 1, dk)
    assert d.action == "confirm" and "não sabe" in d.prompt
    assert "prefere não responder" in decide(YN, 0.6, 1, interpret(YN, "prefiro não responder")).prompt


def test_per_question_override_from_the_xlsform():
    assert AGE.accept_confidence == 0.9
    twentythree = interpret(AGE, "vinte e três")
    assert decide(AGE, 0.87, 1, twentythree).action == "confirm"  # default policy would accept 0.87
    assert decide(RATING, 0.87, 1, GOOD).action == "accept"
    strict = Question(name="s", type="integer", label="N?", max_attempts=1)
    assert decide(strict, 0.0, 1, NOTHING).level == "buttons"
    assert decide(strict, 0.0, 2, NOTHING).action == "give_up"
    only_confirm = Question(name="c", type="integer", label="N?", confirm_confidence=0.95)
    assert Policy().for_question(only_confirm).accept == 0.95


def test_custom_policy_and_validation():
    lenient = Policy(accept=0.6, confirm=0.3, max_attempts=2)
    assert decide(RATING, 0.65, 1, GOOD, lenient).action == "accept"
    assert [decide(RATING, 0, a, NOTHING, lenient).level for a in (1, 2)] == ["rephrase", "buttons"]
    with pytest.raises(ValueError):
        Policy(accept=0.4, confirm=0.6)
    with pytest.raises(ValueError):
        Policy(max_attempts=0)
    with pytest.raises(ValueError):
        decide(RATING, 1.5, 1, GOOD)
    with pytest.raises(ValueError):
        decide(RATING, 0.5, 0, GOOD)


def test_prompts_for_open_questions():
    assert "março de 2026" in decide(WHEN, 0, 1, NOTHING).prompt
    assert "escreva" in decide(TEXT, 0, 3, NOTHING).prompt


def test_confirmation_question_understands_the_read_back_answer():
    assert interpret(CONFIRMATION, "isso mesmo").value == "sim"
    assert interpret(CONFIRMATION, "não, não foi isso").value == "nao"

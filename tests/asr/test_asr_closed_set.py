"""Closed-set answer scoring, "no answer", temperature calibration, reliability / ECE and its plot."""

import math

import pytest
import torch
import torch.nn.functional as F
from asr_testlib import frames, random_log_probs, sequence_probs, spell

from transmodal.asr.closed_set import Calibrator, ClosedSetScorer, plot_reliability, posterior, reliability, score_answers
from transmodal.asr.vocab import CharVocab

ANSWERS = ["sim", "não", "talvez"]


# --- scoring ---------------------------------------------------------------------------------------
def test_picks_the_spoken_answer():
    v = CharVocab()
    lp = frames(v, [{"-": 0.9}, {"n": 0.8}, {"a": 0.5, "ã": 0.45}, {"o": 0.9}, {"-": 0.9}])
    (r,) = score_answers(lp, torch.tensor([5]), ANSWERS, v)
    assert (r.answer, r.index, r.best) == ("não", 1, 1)
    assert r.confidence > 0.99 and r.candidates == ANSWERS
    assert r.posterior == pytest.approx(torch.softmax(torch.tensor(r.scores), 0).tolist())


def test_scores_and_ranking_equal_brute_force():
    v = CharVocab(chars=[" ", "a", "b"])
    answers = ["a", "b", "ab", "ba", "aa", "bab", "abab", "aaa"]  # "aaa" needs 5 frames: impossible in 4
    for seed in range(5):
        lp = random_log_probs(1, 4, v.vocab_size, seed=seed, sharpness=1.5)
        brute = sequence_probs(lp[0].exp())
        want = [math.log(brute[tuple(v.encode(a))]) if tuple(v.encode(a)) in brute else -math.inf for a in answers]
        (r,) = score_answers(lp, torch.tensor([4]), answers, v)
        assert r.scores[:-1] == pytest.approx(want[:-1], rel=1e-9)
        assert r.scores[-1] == -math.inf and r.posterior[-1] == 0.0
        assert sorted(range(8), key=lambda i: -r.scores[i]) == sorted(range(8), key=lambda i: -want[i])
        assert r.answer == answers[max(range(8), key=want.__getitem__)]
        normed = score_answers(lp, torch.tensor([4]), answers, v, length_norm=True)[0].scores
        assert normed[:-1] == pytest.approx([w / len(a) for w, a in zip(want[:-1], answers)], rel=1e-9)


def test_one_batched_ctc_call_for_all_utterances_and_candidates(monkeypatch):
    v = CharVocab()
    calls = []
    real = F.ctc_loss

    def counting(log_probs, *args, **kwargs):
        calls.append(log_probs.shape)
        return real(log_probs, *args, **kwargs)

    monkeypatch.setattr(F, "ctc_loss", counting)
    padded = [F.pad(spell(v, a), (0, 0, 0, 12 - 2 * len(a))) for a in ANSWERS]  # (1, 2·|a|, V) → (1, 12, V)
    out = ClosedSetScorer(ANSWERS, v, allow_none=True)(torch.cat(padded), torch.tensor([6, 6, 12]))
    assert len(calls) == 1 and calls[0][1] == 3 * 4  # (T, B·N, V)
    assert [r.answer for r in out] == ["sim", "não", "talvez"]


def test_temperature_changes_confidence_not_the_choice():
    v = CharVocab()
    lp = spell(v, "sim", peak=0.6)
    sharp, soft = (ClosedSetScorer(ANSWERS, v, temperature=t)(lp, torch.tensor([6]))[0] for t in (1.0, 50.0))
    assert sharp.answer == soft.answer == "sim"
    assert soft.confidence < sharp.confidence
    cal = ClosedSetScorer(ANSWERS, v, temperature=Calibrator(temperature=50.0))(lp, torch.tensor([6]))[0]
    assert cal.confidence == pytest.approx(soft.confidence)
    rejected = ClosedSetScorer(ANSWERS, v, temperature=1e4, min_confidence=0.5)(lp, torch.tensor([6]))[0]
    assert rejected.answer is None and rejected.best == 0 and rejected.confidence < 0.5


def test_silence_is_no_answer_when_allowed():
    v = CharVocab()
    silence = frames(v, [{"-": 0.98}] * 20)
    forced = score_answers(silence, torch.tensor([20]), ANSWERS, v)[0]
    assert forced.answer in ANSWERS  # without the option: the least-bad answer
    (r,) = score_answers(silence, torch.tensor([20]), ANSWERS, v, allow_none=True)
    assert r.answer is None and r.index is None and r.candidates[r.best] is None
    assert r.scores[-1] == pytest.approx(20 * math.log(0.98 / (0.98 + 41e-4)))  # the all-blank path
    assert r.confidence > 0.99
    spoken = score_answers(spell(v, "talvez"), torch.tensor([12]), ANSWERS, v, allow_none=True)[0]
    assert spoken.answer == "talvez"


def test_answer_errors():
    v = CharVocab()
    with pytest.raises(ValueError, match="both normalise"):
        ClosedSetScorer(["Sim", "sim "], v)
    with pytest.raises(ValueError, match="allow_none"):
        ClosedSetScorer(["sim", "  "], v)
    with pytest.raises(ValueError, match="'!'"):
        ClosedSetScorer(["sim!"], v)
    with pytest.raises(ValueError, match="V=5"):
        ClosedSetScorer(ANSWERS, v)(torch.zeros(1, 4, 5), torch.tensor([4]))
    assert posterior(torch.full((1, 3), -math.inf)).tolist() == [[0.0, 0.0, 0.0]]


# --- calibration -----------------------------------------------------------------------------------
def _synthetic(tau: float, m: int, n: int, seed: int):
    """Scores s ~ N(0, 3²) and the correct index drawn from softmax(s / τ*): a model whose true τ is τ*."""
    g = torch.Generator().manual_seed(seed)
    s = 3.0 * torch.randn(m, n, generator=g, dtype=torch.float64)
    y = torch.multinomial(torch.softmax(s / tau, -1), 1, generator=g).squeeze(1)
    return s, y


@pytest.mark.parametrize("tau", [0.5, 2.0, 5.0])
def test_temperature_fit_recovers_the_true_temperature(tau):
    s, y = _synthetic(tau, 4000, 4, seed=int(tau * 10))
    cal = Calibrator().fit(s, y)
    assert abs(cal.temperature / tau - 1) < 0.1
    assert cal.n_fit == 4000 and cal.fit_nll == pytest.approx(cal.nll(s, y))
    for other in (0.8 * cal.temperature, 1.25 * cal.temperature, 1.0):
        assert cal.nll(s, y, other) >= cal.fit_nll


def test_calibrator_ragged_rows_and_json(tmp_path):
    s, y = _synthetic(2.0, 600, 5, seed=3)
    rows = [r[: 3 + i % 3].tolist() for i, r in enumerate(s)]  # questions with 3, 4 or 5 answers
    y = torch.minimum(y, torch.tensor([2 + i % 3 for i in range(600)]))
    cal = Calibrator(extra={"length_norm": False}).fit(rows, y)
    assert 1.0 < cal.temperature < 4.0
    back = Calibrator.load(cal.save(tmp_path))
    assert back == cal
    assert torch.allclose(back.posterior(torch.tensor([[0.0, 2.0]])), torch.softmax(torch.tensor([[0.0, 2.0]]) / cal.temperature, -1))
    with pytest.raises(ValueError, match="0..4"):
        Calibrator().fit(s[:2], [0, 5])
    with pytest.raises(ValueError, match="non-finite"):
        Calibrator().fit([[0.0, -math.inf]], [1])
    with pytest.raises(FileNotFoundError, match="no calibrator"):
        Calibrator.load(tmp_path / "none.json")


# --- reliability -----------------------------------------------------------------------------------
def test_ece_by_hand():
    r = reliability([0.15, 0.15, 0.85, 0.85], [0, 1, 1, 1], bins=2)
    assert r.count == [2, 2] and r.accuracy == [0.5, 1.0] and r.confidence == pytest.approx([0.15, 0.85])
    assert r.ece == pytest.approx(0.5 * 0.35 + 0.5 * 0.15)
    r = reliability([1.0, 0.05], [1, 0], bins=10)
    assert r.count[-1] == 1 and r.count[0] == 1 and math.isnan(r.accuracy[5])


def test_ece_small_when_calibrated_and_large_when_overconfident():
    g = torch.Generator().manual_seed(0)
    c = 0.05 + 0.95 * torch.rand(20000, generator=g, dtype=torch.float64)
    calibrated = torch.rand(20000, generator=g, dtype=torch.float64) < c
    assert reliability(c, calibrated).ece < 0.02
    over = 0.9 + 0.1 * torch.rand(20000, generator=g, dtype=torch.float64)
    right = torch.rand(20000, generator=g, dtype=torch.float64) < over - 0.35
    assert reliability(over, right).ece == pytest.approx(0.35, abs=0.02)


def test_calibration_lowers_ece_of_an_overconfident_model():
    s, y = _synthetic(3.0, 3000, 4, seed=11)  # scores 3× too sharp for τ = 1
    for tau in (1.0, Calibrator().fit(s[:1500], y[:1500]).temperature):
        p = torch.softmax(s[1500:] / tau, -1)
        conf, pick = p.max(-1)
        ece = reliability(conf, pick == y[1500:]).ece
        if tau == 1.0:
            raw = ece
    assert raw > 0.15 and ece < 0.05


def test_reliability_plot_is_a_png(tmp_path):
    g = torch.Generator().manual_seed(1)
    c = torch.rand(500, generator=g)
    out = plot_reliability(c, torch.rand(500, generator=g) < c, tmp_path / "plots" / "rel.png", title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_reliability_errors():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability([1.2], [1])
    with pytest.raises(ValueError, match="as many"):
        reliability([0.5, 0.5], [1])

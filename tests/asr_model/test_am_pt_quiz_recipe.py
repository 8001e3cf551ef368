"""The pt-quiz recipe end to end on a sliver (12 texts, 2 steps): corpora, held-out voices, conditions, report."""

import json
import shutil

import pytest


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup.sh installs it)")
    from transmodal.recipes.pt_quiz import run
    from transmodal.recipes.pt_quiz_config import PtQuizRecipe

    out = tmp_path_factory.mktemp("ptquiz")
    r = run(PtQuizRecipe(out=str(out), model="tiny", d_model=32, n_layers=1, n_heads=2, kernel_size=7, dropout=0.0,
                         variants=3, holdout_variants=1, valid_fraction=0.2, limit_texts=12, batch_size=8, max_steps=2,
                         warmup=1, eval_every=2, workers=1, progress=False))
    return out, r


def test_holdout_voices_never_trained_on(report):
    out, r = report
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(r))
    expected = ["espeak-ng:pt-br+f4", "espeak-ng:pt-br+m6"] + (["espeak-ng:mb-br4"] if mbrola_br4_installed() else [])
    assert r["holdout_voices"] == sorted(expected)
    train_voices = {json.loads(line)["voice"] for line in (out / "corpus-train" / "train.jsonl").read_text().splitlines()}
    assert train_voices and not train_voices & set(r["holdout_voices"])
    assert r["holdout_utterances"] == 12 * len(expected)  # 12 texts × the holdout voices × 1 variant


def mbrola_br4_installed() -> bool:
    from transmodal.audio.synth import EspeakNG

    return "mb-br4" in EspeakNG().voices()


def test_uninstalled_mbrola_holdout_voice_is_skipped_with_a_note(monkeypatch, capsys):
    from transmodal.audio.synth import EspeakNG
    from transmodal.recipes.pt_quiz import installed_holdout_voices

    monkeypatch.setattr(EspeakNG, "voices", lambda self, language=None: ["pt-br", "pt-br+f4"])
    monkeypatch.setattr(EspeakNG, "available", lambda self: True)
    assert installed_holdout_voices(" pt-br+f4 , espeak-ng:mb-br4,flite:slt") == ["espeak-ng:pt-br+f4", "flite:slt"]
    assert "mb-br4 is not installed (Debian packages mbrola, mbrola-br4)" in capsys.readouterr().err


def test_results_per_held_out_voice(report):
    _, r = report
    for cond in r["heldout"].values():
        per_voice = cond["per_voice"]
        assert sorted(per_voice) == r["holdout_voices"]
        for name in ("yes_no", "likert"):
            n = sum(v[name]["n"] for v in per_voice.values())
            right = sum(v[name]["accuracy"] * v[name]["n"] for v in per_voice.values())
            assert n == cond[name]["n"] and abs(right / n - cond[name]["accuracy"]) < 1e-9


def test_eval_only_scores_a_saved_model_as_the_run_did(report, tmp_path):
    out, r = report
    from transmodal.recipes.pt_quiz import run
    from transmodal.recipes.pt_quiz_config import PtQuizRecipe

    with pytest.raises(ValueError, match="give the saved model to evaluate"):
        run(PtQuizRecipe(out=str(tmp_path / "x"), eval_only=True))
    again = run(PtQuizRecipe(out=str(tmp_path / "again"), corpus=str(out), init=str(out / "best"), eval_only=True,
                             model="tiny", d_model=32, n_layers=1, n_heads=2, kernel_size=7, dropout=0.0, variants=3,
                             holdout_variants=1, valid_fraction=0.2, limit_texts=12, workers=1, progress=False))
    assert again["train_seconds"] == 0.0 and again["parameters"] == r["parameters"]
    for c in ("clean", "telephone", "noisy"):
        for name in ("yes_no", "likert"):
            assert again["heldout"][c][name]["accuracy"] == r["heldout"][c][name]["accuracy"]
    assert again["calibration"]["temperature"] == r["calibration"]["temperature"]
    assert (tmp_path / "again" / "best" / "calibration.json").is_file()


def test_noisy_results_per_noise_kind(report):
    _, r = report
    per_noise = r["heldout"]["noisy"]["per_noise"]
    assert set(per_noise) <= {"white", "pink", "babble"} and len(per_noise) >= 2
    for name in ("yes_no", "likert"):
        n = sum(k[name]["n"] for k in per_noise.values())
        right = sum(k[name]["accuracy"] * k[name]["n"] for k in per_noise.values())
        assert n == r["heldout"]["noisy"][name]["n"] and abs(right / n - r["heldout"]["noisy"][name]["accuracy"]) < 1e-9
    assert "per_noise" not in r["heldout"]["clean"]


def test_every_voice_meets_every_noise_kind():
    from collections import Counter

    from transmodal.recipes.pt_quiz import noise_kinds

    # the holdout manifest's layout: text by text, each voice's variants side by side (2 variants of 3 voices),
    # where a kind chosen by position (i % 3) would give each voice only two kinds
    groups = [v for _ in range(40) for v in ("f4", "f4", "m6", "m6", "br4", "br4")]
    kinds = noise_kinds(groups, seed=0)
    counts = Counter(zip(groups, kinds))
    for v in ("f4", "m6", "br4"):
        assert sorted(counts[(v, k)] for k in ("white", "pink", "babble")) == [26, 27, 27]
    # nor does the kind follow the position within a text
    assert len({kinds[i] for i in range(0, len(groups), 6)}) == 3
    assert noise_kinds(groups, seed=0) == kinds and noise_kinds(groups, seed=1) != kinds


def test_every_condition_and_answer_set_reported(report):
    _, r = report
    assert set(r["heldout"]) == {"clean", "telephone", "noisy"}
    for cond in r["heldout"].values():
        # the first 12 texts are the 7 yes/no answers then 5 Likert ones
        voices = len(r["holdout_voices"])
        assert cond["yes_no"]["n"] == 7 * voices and cond["likert"]["n"] == 5 * voices and cond["numbers"]["n"] == 0
        assert 0.0 <= cond["yes_no"]["accuracy"] <= 1.0
    assert r["calibration"]["temperature"] > 0


def test_conditions_change_the_audio():
    import torch

    from transmodal.recipes.pt_quiz import condition_waves

    t = torch.arange(16000) / 16000
    waves = [torch.sin(2 * torch.pi * f * t) * 0.3 for f in (1000.0, 5000.0, 440.0)]
    assert condition_waves(waves, "clean", 10.0, 0) is waves
    tel = condition_waves(waves, "telephone", 10.0, 0)
    assert tel[1].abs().max() < 0.05 < tel[0].abs().max()  # 5 kHz is outside the telephone band, 1 kHz inside
    noisy = condition_waves(waves, "noisy", 10.0, 0)
    for clean, n in zip(waves, noisy):
        noise = n.double() - clean.double()
        snr = 10 * torch.log10(clean.double().pow(2).mean() / noise.pow(2).mean())
        assert abs(float(snr) - 10.0) < 0.5
    with pytest.raises(ValueError, match="unknown condition"):
        condition_waves(waves, "underwater", 10.0, 0)


def test_markdown_tables_carry_the_report_numbers(report):
    _, r = report
    from transmodal.recipes.pt_quiz import comparison_markdown, report_markdown

    table = report_markdown(r)
    yes_no = r["heldout"]["telephone"]["yes_no"]
    assert f"{100 * yes_no['accuracy']:.1f}% (n={yes_no['n']})" in table.splitlines()[2].split("|")[3]
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:6]] == ["yes_no", "likert", "frequency", "numbers"]
    voice_rows = {line.split("|")[1].strip(): line for line in table.splitlines()[10:10 + len(r["holdout_voices"])]}
    assert sorted(voice_rows) == r["holdout_voices"]
    policy_rows = table.split("questionnaire policy")[1].splitlines()[2:]
    accept = r["heldout"]["noisy"]["decisions"]["accept"]
    assert policy_rows[0].startswith("| accepted") and f"{100 * accept:.1f}%" in policy_rows[0].split("|")[4]
    row = comparison_markdown({"conformer": r, "other": r}).splitlines()[2]
    clean = r["heldout"]["clean"]
    worst_clean = min(clean[s]["accuracy"] for s in ("yes_no", "likert", "frequency", "numbers") if clean[s]["n"])
    assert row.startswith("| conformer |") and f"{100 * worst_clean:.1f}%" in row.split("|")[5]


def test_online_telephone_augmentation():
    import random

    import torch

    from transmodal.recipes.pt_quiz import telephone_sometimes

    t = torch.arange(16000) / 16000
    wave = torch.sin(2 * torch.pi * 5000.0 * t) * 0.3  # outside the 300–3400 Hz band
    assert telephone_sometimes(0.0)(wave, random.Random(0)) is wave
    out = telephone_sometimes(1.0)(wave, random.Random(0))
    assert out.shape == wave.shape and out.dtype == torch.float32 and out.abs().max() < 0.05
    hits = sum(telephone_sometimes(0.5)(wave, random.Random(s)) is not wave for s in range(200))
    assert 60 < hits < 140


def test_calibration_leaves_out_answers_the_model_cannot_emit(tmp_path):
    import torch

    from transmodal.recipes.speech_common import calibrate

    g = torch.Generator().manual_seed(0)
    scores, correct = [], []
    for i in range(40):
        s = torch.randn(5, generator=g)
        s[i % 5] += 3.0
        scores.append(s)
        correct.append(i % 5)
    scores[3] = torch.tensor([0.0, float("-inf"), 1.0, 2.0, 3.0])  # its correct answer (1) is unreachable
    correct[3] = 1
    cal, out = calibrate(scores, correct, tmp_path / "rel.png", "test")
    assert out["left_out_unreachable"] == 1 and out["n_fit"] + out["n_test"] == 39
    assert cal.temperature > 0 and (tmp_path / "rel.png").is_file()


def test_calibration_keeps_raw_scores_when_the_fitted_temperature_does_worse(tmp_path):
    import torch

    from transmodal.recipes.speech_common import calibrate

    # Every answer of the fit half (even positions) is ranked first, so its NLL falls as τ → τ_min; the other
    # half holds a confident mistake, which such a τ would make infinitely costly.
    scores, correct = [], []
    for i in range(20):
        s = torch.tensor([4.0, 0.0, 0.0])
        scores.append(s)
        correct.append(0 if i % 2 == 0 or i != 5 else 1)
    cal, out = calibrate(scores, correct, tmp_path / "rel.png", "test")
    assert out["rejected_temperature"] < 0.01 and cal.temperature == out["temperature"] == 1.0
    assert out["calibrated"] == out["raw"] and "τ = 1" in out["note"]

    good, out2 = calibrate(scores[:5] + scores[6:], correct[:5] + correct[6:], tmp_path / "rel2.png", "test")
    assert "rejected_temperature" not in out2 and good.temperature < 0.01  # no mistake anywhere: the sharp τ stands


def test_online_noise_and_composition():
    import random

    import torch

    from transmodal.recipes.pt_quiz import noise_sometimes, online_augment

    t = torch.arange(16000) / 16000
    wave = torch.sin(2 * torch.pi * 440.0 * t) * 0.3
    assert online_augment(0.0, 0.0) is None
    noisy = noise_sometimes(1.0, (10.0, 10.0))(wave, random.Random(0))
    snr = 10 * torch.log10(wave.double().pow(2).mean() / (noisy.double() - wave.double()).pow(2).mean())
    assert abs(float(snr) - 10.0) < 0.5
    both = online_augment(1.0, 1.0)(wave, random.Random(1))
    assert both.shape == wave.shape and not torch.equal(both, wave)


def test_online_babble_is_other_utterances_at_the_drawn_snr():
    import random

    import torch

    from transmodal.recipes.pt_quiz import babble_sometimes, online_augment

    t = torch.arange(16000) / 16000
    wave = torch.sin(2 * torch.pi * 440.0 * t) * 0.1
    talkers = [torch.sin(2 * torch.pi * 1500.0 * t[:12000]) * 0.5]  # one "talker" at 1.5 kHz
    out = babble_sometimes(1.0, talkers, (12.0, 12.0))(wave, random.Random(0))
    added = (out.double() - wave.double()).numpy()
    snr = 10 * torch.log10(wave.double().pow(2).mean() / torch.from_numpy(added).pow(2).mean())
    assert abs(float(snr) - 12.0) < 0.5
    spectrum = abs(torch.fft.rfft(torch.from_numpy(added)))
    assert abs(int(spectrum.argmax()) - 1500) <= 2  # what was added is the talker (1 Hz bins over 1 s)
    assert torch.equal(babble_sometimes(0.0, talkers)(wave, random.Random(0)), wave)
    assert torch.equal(babble_sometimes(1.0, [])(wave, random.Random(0)), wave)  # nothing to babble with
    again = online_augment(0.0, 0.0, 1.0, talkers)
    assert torch.equal(again(wave, random.Random(3)), again(wave, random.Random(3)))


def test_speed_factors_are_parsed_and_used():
    import random

    import torch

    from transmodal.recipes.speech_common import make_batches, parse_speeds

    assert parse_speeds("0.85, 1.0,1.2") == (0.85, 1.0, 1.2)
    for bad in ("", "fast", "0.9,3"):
        with pytest.raises(ValueError, match="speed_factors"):
            parse_speeds(bad)
    waves = [torch.randn(16000) for _ in range(8)]
    targets = [[1, 2]] * 8
    lengths = set()
    for seed in range(4):
        for _, wave_lengths, _, _ in make_batches(waves, targets, 4, random.Random(seed), True, 16000, speeds=(0.8, 1.25)):
            lengths.update(wave_lengths.tolist())
    assert lengths == {20000, 12800}  # 16,000 samples played 0.8× and 1.25× as fast


@pytest.mark.parametrize("train_mbrola", [True, False])
def test_train_mbrola_chooses_the_training_voices(train_mbrola, monkeypatch, tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup.sh installs it)")
    import transmodal.audio.synth as synth
    from transmodal.audio.synth import resolve_voices
    from transmodal.recipes.pt_quiz import build_corpora
    from transmodal.recipes.pt_quiz_config import PtQuizRecipe

    specs = []

    def fake_build(spec):  # record the specs instead of synthesising
        specs.append(spec)
        (tmp_path / "m.jsonl").write_text("")
        return tmp_path / "m.jsonl"

    monkeypatch.setattr(synth, "build_corpus", fake_build)
    monkeypatch.setattr(synth, "read_manifest", lambda path: [])
    build_corpora(PtQuizRecipe(out=str(tmp_path), train_mbrola=train_mbrola, limit_texts=3, progress=False), tmp_path)
    train_voices = resolve_voices(specs[0])[0]
    assert train_voices and any(v.startswith("espeak-ng:pt-br") for v in train_voices)
    mbrola = {v for v in train_voices if v.startswith("espeak-ng:mb-")}
    if not train_mbrola:
        assert not mbrola
    elif mbrola_br4_installed():  # setup installs br1-br4 together
        assert mbrola == {"espeak-ng:mb-br1", "espeak-ng:mb-br2", "espeak-ng:mb-br3"}


def test_checkpoint_selection_scores_every_valid_condition(report):
    out, r = report
    assert r["recipe"]["valid_conditions"] == "clean,telephone,noisy"
    evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if "eval/closed_set_accuracy" in line]
    assert evals
    for e in evals:
        per = [e[f"eval/closed_set_accuracy_{c}"] for c in ("clean", "telephone", "noisy")]
        assert all(0.0 <= a <= 1.0 for a in per)
        assert e["eval/closed_set_accuracy"] == pytest.approx(sum(per) / 3)


def test_valid_conditions_are_checked_before_any_work(tmp_path):
    from transmodal.recipes.pt_quiz import parse_conditions, run
    from transmodal.recipes.pt_quiz_config import PtQuizRecipe

    assert parse_conditions(" noisy,clean , noisy") == ["noisy", "clean"]
    for bad in ("", "clean,phone", ","):
        with pytest.raises(ValueError, match="valid_conditions"):
            parse_conditions(bad)
    with pytest.raises(ValueError, match="valid_conditions='clean,loud'"):
        run(PtQuizRecipe(out=str(tmp_path / "pt"), valid_conditions="clean,loud"))
    assert not (tmp_path / "pt").exists()



@pytest.mark.parametrize("field", ["p_telephone", "p_noise", "p_babble"])
def test_augmentation_probabilities_are_checked_before_any_work(field, tmp_path):
    from transmodal.recipes.pt_quiz import run
    from transmodal.recipes.pt_quiz_config import PtQuizRecipe

    with pytest.raises(ValueError, match=f"{field}=1.5: a probability"):
        run(PtQuizRecipe(out=str(tmp_path / "pt"), **{field: 1.5}))
    assert not (tmp_path / "pt").exists()


@pytest.mark.parametrize("text", ["20,5", "5", "5,x", "-30,0", "0,70", ""])
def test_babble_snr_range_is_checked_before_any_work(text, tmp_path):
    from transmodal.recipes.pt_quiz import run
    from transmodal.recipes.pt_quiz_config import PtQuizRecipe

    with pytest.raises(ValueError, match=f"babble_snr_db={text!r}: give 'low,high'"):
        run(PtQuizRecipe(out=str(tmp_path / "pt"), babble_snr_db=text))
    assert not (tmp_path / "pt").exists()


def test_babble_snr_range_reaches_the_online_augmentation():
    import random

    import torch

    from transmodal.recipes.pt_quiz import online_augment, parse_snr_range

    assert parse_snr_range(" 0, 10") == (0.0, 10.0)
    t = torch.linspace(0, 1, 8000)
    wave = (0.3 * torch.sin(2 * torch.pi * 220 * t)).float()
    talkers = [(0.3 * torch.sin(2 * torch.pi * f * t)).float() for f in (330.0, 470.0, 610.0, 790.0)]

    def snr(out):
        noise = (out.double() / out.abs().max() * wave.abs().max() - wave.double())  # fit_peak may rescale; undo it
        return 10 * torch.log10(wave.double().pow(2).sum() / noise.pow(2).sum())

    low = online_augment(0.0, 0.0, 1.0, talkers, (0.0, 0.0))(wave, random.Random(1))
    high = online_augment(0.0, 0.0, 1.0, talkers, (30.0, 30.0))(wave, random.Random(1))
    assert float(snr(high)) > float(snr(low)) + 20


def test_decisions_follow_the_questionnaire_policy():
    import math

    import torch

    from transmodal.quiz.policy import Policy
    from transmodal.recipes.pt_quiz import decisions

    sure = torch.tensor([0.0, -10.0, -10.0])  # posterior of answer 0 ≈ 0.99991
    torn = torch.tensor([0.0, math.log(0.6 / 0.4)])  # 0.4 / 0.6 at τ = 1
    even = torch.tensor([0.0, 0.0, 0.0, 0.0])  # 0.25 each
    scores = [sure, sure, torn, torn, even]
    correct = [0, 1, 1, 0, 2]  # one sure answer wrong; the torn ones pick 1
    d = decisions(scores, correct, 1.0)
    assert d["n"] == 5 and d["accept"] == pytest.approx(2 / 5) and d["accept_wrong"] == pytest.approx(1 / 2)
    assert d["confirm"] == pytest.approx(2 / 5) and d["confirm_wrong"] == pytest.approx(1 / 2)
    assert d["reask"] == pytest.approx(1 / 5)
    # a higher temperature flattens the posteriors: at τ = 10 the sure answers fall to 0.58 (read back) and the torn
    # ones to 0.51; at τ = 100 all but the two-answer rows (whose best is never below 0.5) are asked again
    hot = decisions(scores, correct, 10.0)
    assert hot["accept"] == 0.0 and hot["confirm"] == pytest.approx(4 / 5) and hot["reask"] == pytest.approx(1 / 5)
    assert decisions(scores, correct, 100.0)["reask"] == pytest.approx(3 / 5)
    strict = decisions(scores, correct, 1.0, Policy(accept=0.99995, confirm=0.2))  # everything read back
    assert strict["confirm"] == 1.0 and strict["confirm_wrong"] == pytest.approx(3 / 5)

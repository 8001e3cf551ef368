"""Brazilian-Portuguese questionnaire answers: a small speech encoder + CTC, trained on synthetic speech only.

Data: offline text-to-speech (espeak-ng ``pt-br`` and its voice variants, and the MBROLA voices br1, br2 and br3
when installed, many speeds and pitches, with noise, reverberation and telephone-channel augmentation;
:mod:`transmodal.audio.synth`) of every answer the
questionnaire accepts (:func:`~transmodal.audio.synth.texts.pt_quiz_extended_texts`: yes/no, Likert,
frequency, numbers zero … cento e vinte, common variants, months and years). The ``holdout_voices`` (espeak-ng
``pt-br+f4`` and ``pt-br+m6``, and MBROLA ``br4``, a recorded human voice, when installed) are never trained on;
they are the evaluation set, reported overall and voice by voice.

Evaluation, on the holdout voices only, under three conditions built from the same clean utterances:

    clean       as synthesised (speed, pitch and level vary)
    telephone   300–3400 Hz band, 8 kHz, G.711 mu-law round trip
    noisy       white, pink or babble noise (in turn) at ``noisy_snr_db`` dB SNR

For each answer set (yes/no, Likert, frequency, numbers) the closed-set accuracy: each utterance whose text
is in the set is scored against every answer of the set by CTC log-likelihood, and must pick its own. Also
free (greedy) decoding exact match. A temperature calibrator is fitted on half of the closed-set scores
and its reliability measured on the other half (all three conditions pooled); it is saved as ``calibration.json`` beside the model.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from transmodal.asr.closed_set import ClosedSetScorer
from transmodal.asr.model import CALIBRATION, SpeechRecognizer, SpeechRecognizerConfig, Transcriber
from transmodal.asr.vocab import CharVocab
from transmodal.audio.synth.texts import PT_FREQUENCY, PT_LIKERT, PT_YES_NO, pt_number_texts
from transmodal.recipes.common import check_init, init_from, start_run
from transmodal.recipes.pt_quiz_config import PtQuizRecipe
from transmodal.recipes.speech_common import RATE, calibrate, parse_speeds, read_waves, train_ctc
from transmodal.train import load_model

ANSWER_SETS = {"yes_no": list(PT_YES_NO), "likert": list(PT_LIKERT), "frequency": list(PT_FREQUENCY),
               "numbers": pt_number_texts()}
CONDITIONS = ("clean", "telephone", "noisy")
NOISES = ("white", "pink", "babble")


def installed_holdout_voices(voices: str) -> list[str]:
    """The comma-separated holdout voices, without the MBROLA ones that are not installed (with a note on stderr:
    ``scripts/setup.sh`` installs them unless ``TRANSMODAL_NO_MBROLA=1``). Other missing voices fail later, clearly."""
    import sys

    from transmodal.audio.synth import EspeakNG, Voice

    out, espeak = [], EspeakNG()
    for v in (v.strip() for v in voices.split(",") if v.strip()):
        voice = Voice.parse(v)
        if voice.engine == "espeak-ng" and voice.name.startswith("mb-"):
            if not espeak.available() or voice.name not in espeak.voices():
                print(f"pt-quiz: holdout voice {v} is not installed (Debian packages mbrola, mbrola-"
                      f"{voice.name.removeprefix('mb-').split('-')[0]}); evaluating without it", file=sys.stderr)
                continue
        out.append(str(voice))
    return out


def build_corpora(recipe: PtQuizRecipe, out: Path) -> tuple[list[dict], list[dict]]:
    """(training utterances, holdout-voice utterances) as ``{"path", "text", "voice"}``, synthesised once under ``out``
    (or ``recipe.corpus``)."""
    from transmodal.audio.synth import AugmentSpec, CorpusSpec, Voice, build_corpus, generate_texts, read_manifest, resolve_voices

    texts = generate_texts(recipe.texts)
    if recipe.limit_texts:
        texts = texts[: recipe.limit_texts]
    holdout = installed_holdout_voices(recipe.holdout_voices)
    out = Path(recipe.corpus) if recipe.corpus else out
    voices = None  # the synthesiser's installed defaults for pt-br: espeak-ng pt-br and its variants, MBROLA br1-br3
    if not recipe.train_mbrola:
        voices = [v for v in resolve_voices(CorpusSpec(out_dir=str(out), texts=texts, language="pt-br", holdout_voices=holdout))[0]
                  if not Voice.parse(v).name.startswith("mb-")]
    train_spec = CorpusSpec(out_dir=str(out / "corpus-train"), texts=texts, language="pt-br", voices=voices, holdout_voices=holdout,
                            variants=recipe.variants, holdout_variants=0, seed=recipe.seed, workers=recipe.workers,
                            progress=recipe.progress)
    # Held-out voices: no noise/reverb/telephone here (the conditions are applied at evaluation), but speed,
    # pitch and level vary so the utterances of one voice differ.
    eval_aug = AugmentSpec(p_noise=0.0, p_reverb=0.0, p_telephone=0.0, p_gain=0.5, gain_db=(-10.0, 0.0),
                           speed=(0.85, 1.15), pitch=(0.9, 1.15))
    eval_spec = CorpusSpec(out_dir=str(out / "corpus-eval"), texts=texts, language="pt-br", voices=[], holdout_voices=holdout,
                           variants=0, holdout_variants=recipe.holdout_variants, augment=eval_aug, seed=recipe.seed + 1,
                           workers=recipe.workers, progress=recipe.progress)

    def items(manifest: Path) -> list[dict]:
        return [{"path": str(manifest.parent / u["audio"]), "text": u["text"], "voice": u["voice"], "key": u["key"]}
                for u in read_manifest(manifest)]

    train = items(build_corpus(train_spec))
    evaluation = items(build_corpus(eval_spec).parent / "holdout.jsonl")
    return train, evaluation


def split_valid(items: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Set aside ``fraction`` of the training-voice utterances (by a seeded draw) to pick the best checkpoint."""
    rng = random.Random(seed)
    flags = [rng.random() < fraction for _ in items]
    return [it for it, f in zip(items, flags) if not f], [it for it, f in zip(items, flags) if f]


def parse_conditions(text: str) -> list[str]:
    """``"clean,telephone"`` -> ``["clean", "telephone"]``; an unknown or missing condition fails with the choices."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in names if c not in CONDITIONS]
    if bad or not names:
        raise ValueError(f"valid_conditions={text!r}: expected a comma-separated list of {', '.join(CONDITIONS)}")
    return list(dict.fromkeys(names))


def noise_kinds(groups: list[str], seed: int) -> list[str]:
    """The noise kind of each evaluation utterance: within each group (a voice), the kinds in turn over the group's
    utterances in a seeded random order, so every voice meets every kind equally often (±1) and the kind does not
    follow the texts' order. (Until stop 16 the kind was ``NOISES[i % 3]`` by position, which, with the holdout
    manifest's voice-major rows of 2 variants, gave each voice only two of the three kinds: br4 never heard white noise.)"""
    rng = random.Random(seed)
    kinds = [""] * len(groups)
    positions: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        positions.setdefault(g, []).append(i)
    for g in sorted(positions):
        order = positions[g][:]
        rng.shuffle(order)
        for k, i in enumerate(order):
            kinds[i] = NOISES[k % len(NOISES)]
    return kinds


def condition_waves(waves: list[torch.Tensor], condition: str, snr_db: float, seed: int,
                    kinds: list[str] | None = None) -> list[torch.Tensor]:
    """The clean evaluation waveforms under ``condition`` (deterministic per position). In the noisy condition
    ``kinds`` gives each waveform's noise kind, normally :func:`noise_kinds` of the utterances' voices (None: balanced
    over all the waveforms as one group)."""
    from transmodal.audio.synth.augment import add_noise, fit_peak, telephone

    if condition == "clean":
        return waves
    if kinds is None:
        kinds = noise_kinds([""] * len(waves), seed)
    if len(kinds) != len(waves):
        raise ValueError(f"kinds has {len(kinds)} entries for {len(waves)} waveforms")
    out = []
    for i, w in enumerate(waves):
        x = w.double().numpy()
        if condition == "telephone":
            y = telephone(x, RATE)
        elif condition == "noisy":
            rng = np.random.default_rng([seed, i])
            kind = kinds[i]
            sources = [waves[(i + k * 7919) % len(waves)].double().numpy() for k in range(1, 5)] if kind == "babble" else None
            y = add_noise(x, snr_db, kind, rng, sources)
            y = fit_peak(y)
        else:
            raise ValueError(f"unknown condition {condition!r}; choose one of {CONDITIONS}")
        out.append(torch.from_numpy(np.asarray(y, dtype=np.float32)))
    return out


def telephone_sometimes(p: float):
    """On-line augmentation: with probability ``p`` an utterance goes through :func:`~transmodal.audio.synth.augment.telephone`."""
    from transmodal.audio.synth.augment import telephone

    def transform(wave: torch.Tensor, rng: random.Random) -> torch.Tensor:
        if rng.random() >= p:
            return wave
        return torch.from_numpy(telephone(wave.double().numpy(), RATE).astype("float32"))

    return transform


def noise_sometimes(p: float, snr_db: tuple[float, float] = (0.0, 15.0)):
    """On-line augmentation: with probability ``p``, white or pink noise at an SNR drawn from ``snr_db``."""
    from transmodal.audio.synth.augment import add_noise, fit_peak

    def transform(wave: torch.Tensor, rng: random.Random) -> torch.Tensor:
        if rng.random() >= p or float(wave.abs().max()) == 0.0:
            return wave
        x = add_noise(wave.double().numpy(), rng.uniform(*snr_db), rng.choice(("white", "pink")),
                      np.random.default_rng(rng.getrandbits(32)))
        return torch.from_numpy(fit_peak(x).astype("float32"))

    return transform


def babble_sometimes(p: float, sources: list[torch.Tensor], snr_db: tuple[float, float] = (5.0, 20.0), talkers: int = 4):
    """On-line augmentation: with probability ``p``, babble — the sum of ``talkers`` other utterances drawn from
    ``sources`` (the training set: other answers, other voices) — at an SNR drawn from ``snr_db``. The evaluation's
    noisy condition holds babble of this kind, made from other held-out utterances."""
    from transmodal.audio.synth.augment import add_noise, fit_peak

    def transform(wave: torch.Tensor, rng: random.Random) -> torch.Tensor:
        if rng.random() >= p or float(wave.abs().max()) == 0.0 or not sources:
            return wave
        talk = [sources[rng.randrange(len(sources))].double().numpy() for _ in range(talkers)]
        x = add_noise(wave.double().numpy(), rng.uniform(*snr_db), "babble", np.random.default_rng(rng.getrandbits(32)), talk)
        return torch.from_numpy(fit_peak(x).astype("float32"))

    return transform


def parse_snr_range(text: str) -> tuple[float, float]:
    """``"5,20"`` -> (5.0, 20.0): an SNR range in dB, low ≤ high, both within [-20, 60]."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        low, high = 1.0, 0.0
    if not -20.0 <= low <= high <= 60.0:
        raise ValueError(f"babble_snr_db={text!r}: give 'low,high' in dB with low <= high, within -20..60, e.g. '5,20'")
    return low, high


def online_augment(p_telephone: float, p_noise: float, p_babble: float = 0.0, sources: list[torch.Tensor] | None = None,
                   babble_snr_db: tuple[float, float] = (5.0, 20.0)):
    """The recipe's on-line augmentation (None when every probability is 0): telephone channel, then white/pink
    noise, then babble of ``sources`` at an SNR drawn from ``babble_snr_db``."""
    steps = ([telephone_sometimes(p_telephone)] if p_telephone else []) + ([noise_sometimes(p_noise)] if p_noise else [])
    steps += [babble_sometimes(p_babble, sources or [], babble_snr_db)] if p_babble else []
    if not steps:
        return None

    def transform(wave: torch.Tensor, rng: random.Random) -> torch.Tensor:
        for step in steps:
            wave = step(wave, rng)
        return wave

    return transform


def evaluate(transcriber: Transcriber, items: list[dict], waves: list[torch.Tensor], sets: dict[str, list[str]] = ANSWER_SETS,
             free: bool = True, noise: list[str] | None = None) -> dict:
    """Per answer set: closed-set accuracy (and scores for calibration); free-decoding exact match overall; the same
    accuracies per voice under ``per_voice`` when the items name more than one voice, and per noise kind under
    ``per_noise`` when ``noise`` gives each item's kind (:func:`noise_kinds`)."""
    lps = transcriber.log_probs(waves)
    out: dict = {"n": len(items)}
    voices = [it.get("voice", "") for it in items]
    breakdowns = {"per_voice": voices} if len(set(voices)) > 1 else {}
    if noise is not None:
        if len(noise) != len(items):
            raise ValueError(f"noise has {len(noise)} entries for {len(items)} items")
        breakdowns["per_noise"] = list(noise)
    split = {name: {k: {} for k in sorted(set(keys))} for name, keys in breakdowns.items()}

    def tally(field: str, idx: list[int], right: list[bool], summary) -> None:
        for name, keys in breakdowns.items():
            for k in split[name]:
                mine = [r for i, r in zip(idx, right) if keys[i] == k]
                split[name][k][field] = summary(mine)

    if free:
        exact = [transcriber._free(lp, 1)[0] == it["text"] for it, lp in zip(items, lps)]
        out["free_exact_match"] = sum(exact) / max(len(exact), 1)
        tally("free_exact_match", list(range(len(items))), exact, lambda m: sum(m) / max(len(m), 1))
    all_scores, all_correct = [], []
    for name, answers in sets.items():
        scorer = ClosedSetScorer(answers, transcriber.vocab)
        idx = [i for i, it in enumerate(items) if it["text"] in answers]
        right, errors = [], {}
        for i in idx:
            s = scorer.scores(lps[i][None], torch.tensor([lps[i].shape[0]]))[0]
            y = answers.index(items[i]["text"])
            all_scores.append(s)
            all_correct.append(y)
            right.append(int(s.argmax()) == y)
            if not right[-1]:
                key = f"{items[i]['text']} → {answers[int(s.argmax())]}"
                errors[key] = errors.get(key, 0) + 1
        out[name] = {"n": len(idx), "accuracy": sum(right) / max(len(idx), 1),
                     "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:10])}
        tally(name, idx, right, lambda m: {"n": len(m), "accuracy": sum(m) / max(len(m), 1)})
    out.update(split)
    out["_scores"], out["_correct"] = all_scores, all_correct
    return out


def decisions(scores: list[torch.Tensor], correct: list[int], temperature: float, policy=None) -> dict:
    """What the questionnaire's :class:`~transmodal.quiz.policy.Policy` (default thresholds) would do with these
    closed-set answers, confidence = the calibrated posterior of the best answer:

        accept        share with confidence ≥ policy.accept, and ``accept_wrong``: the share of those that are wrong
        confirm       share read back (policy.confirm ≤ confidence < policy.accept), ``confirm_wrong`` likewise
        reask         share asked again (confidence < policy.confirm)
    """
    from transmodal.asr.closed_set import posterior
    from transmodal.quiz.policy import Policy

    policy = policy or Policy()
    tally = {a: [0, 0] for a in ("accept", "confirm", "reask")}  # [answers, wrong ones]
    for s, y in zip(scores, correct):
        p = posterior(torch.as_tensor(s, dtype=torch.float64), temperature)
        conf = float(p.max())
        action = "accept" if conf >= policy.accept else "confirm" if conf >= policy.confirm else "reask"
        tally[action][0] += 1
        tally[action][1] += int(int(p.argmax()) != int(y))
    n = max(len(scores), 1)
    out = {"n": len(scores), "temperature": temperature}
    for action, (k, wrong) in tally.items():
        out[action] = k / n
        if action != "reask":
            out[f"{action}_wrong"] = wrong / max(k, 1)
    return out


def encoder_config(recipe: PtQuizRecipe) -> dict:
    """The encoder's named configuration with the recipe's size fields applied where the encoder has them."""
    import importlib

    module = {"transformer": "speech_transformer", "cnn": "speech_cnn"}.get(recipe.encoder, recipe.encoder)
    mod = importlib.import_module(f"transmodal.models.{module}")
    cfg = mod.config(recipe.model)
    names = {f.name for f in dataclasses.fields(cfg)}
    wanted = {"d_model": recipe.d_model, "n_layers": recipe.n_layers, "n_heads": recipe.n_heads,
              "kernel_size": recipe.kernel_size, "dropout": recipe.dropout}
    return asdict(dataclasses.replace(cfg, **{k: v for k, v in wanted.items() if k in names and v is not None}))


ARCH = {"transformer": "speech_transformer", "cnn": "speech_cnn"}


def run(recipe: PtQuizRecipe) -> dict:
    """Synthesise, train, evaluate on the holdout voices in three conditions, calibrate, write ``report.json``."""
    parse_speeds(recipe.speed_factors)  # a bad value fails now, not after the corpus is synthesised
    valid_conditions = parse_conditions(recipe.valid_conditions)
    babble_snr = parse_snr_range(recipe.babble_snr_db)
    check_init(recipe.init)
    if recipe.eval_only and not recipe.init:
        raise ValueError("eval_only: give the saved model to evaluate with init (e.g. --init runs/X/best)")
    for name in ("p_telephone", "p_noise", "p_babble"):
        if not 0.0 <= getattr(recipe, name) <= 1.0:
            raise ValueError(f"{name}={getattr(recipe, name)!r}: a probability, between 0 and 1")
    out = start_run(recipe.out, recipe.threads)
    train_items, eval_items = build_corpora(recipe, out)
    train_items, valid_items = split_valid(train_items, recipe.valid_fraction, recipe.seed)
    if not train_items or not valid_items or not eval_items:
        raise ValueError(f"empty split: {len(train_items)} train, {len(valid_items)} valid, {len(eval_items)} holdout utterances")

    vocab = CharVocab()
    eval_waves = read_waves(eval_items)
    if recipe.eval_only:  # e.g. a weight average made by `transmodal export --average`: evaluated and calibrated as trained
        best_dir = out / "best"
        shutil.copytree(recipe.init, best_dir, dirs_exist_ok=True)
        return _heldout_report(recipe, out, best_dir, vocab, eval_items, eval_waves, len(train_items), len(valid_items), 0.0)
    train_waves, valid_waves = read_waves(train_items), read_waves(valid_items)
    targets = [vocab.encode(it["text"]) for it in train_items]
    cfg = SpeechRecognizerConfig(encoder=ARCH.get(recipe.encoder, recipe.encoder), encoder_config=encoder_config(recipe),
                                 vocab_size=vocab.vocab_size, sample_rate=RATE,
                                 **({} if recipe.spec_augment else {"freq_masks": 0, "time_masks": 0}))
    torch.manual_seed(recipe.seed)
    model = SpeechRecognizer(cfg)
    if recipe.init:
        init_from(model, recipe.init)

    # The training voices' set-aside utterances under each selection condition (the same noise draws at every evaluation).
    valid_kinds = noise_kinds([it["voice"] for it in valid_items], recipe.seed)
    valid_sets = {c: condition_waves(valid_waves, c, recipe.noisy_snr_db, recipe.seed, valid_kinds) for c in valid_conditions}

    def eval_fn(m) -> dict[str, float]:
        """Mean closed-set accuracy over the answer sets, per condition; ``closed_set_accuracy`` (the selection metric)
        is their mean over the conditions."""
        transcriber, metrics = Transcriber(m, vocab), {}
        for condition, waves in valid_sets.items():
            r = evaluate(transcriber, valid_items, waves, free=False)
            accs = [r[name]["accuracy"] for name in ANSWER_SETS if r[name]["n"]]
            metrics[f"closed_set_accuracy_{condition}"] = sum(accs) / max(len(accs), 1)
        metrics["closed_set_accuracy"] = sum(metrics.values()) / len(metrics)
        return metrics

    best_dir, train_seconds = train_ctc(model, recipe, out, train_waves, targets, eval_fn,
                                        {CharVocab.FILENAME: vocab.to_json()},
                                        transform=online_augment(recipe.p_telephone, recipe.p_noise, recipe.p_babble, train_waves,
                                                                 babble_snr))
    return _heldout_report(recipe, out, best_dir, vocab, eval_items, eval_waves, len(train_items), len(valid_items),
                           train_seconds)


def _heldout_report(recipe: PtQuizRecipe, out: Path, best_dir: Path, vocab: CharVocab, eval_items: list[dict],
                    eval_waves: list[torch.Tensor], n_train: int, n_valid: int, train_seconds: float) -> dict:
    """Evaluate ``best_dir`` on the held-out voices in the three conditions, calibrate (``calibration.json`` in
    ``best_dir``), write ``report.json``."""
    transcriber = Transcriber(load_model(best_dir), vocab)
    n_params = sum(p.numel() for p in transcriber.model.parameters())
    results = {}
    kinds = noise_kinds([it["voice"] for it in eval_items], recipe.seed)
    for condition in CONDITIONS:
        waves = condition_waves(eval_waves, condition, recipe.noisy_snr_db, recipe.seed, kinds)
        results[condition] = evaluate(transcriber, eval_items, waves, noise=kinds if condition == "noisy" else None)
    # τ is fitted on all three conditions together (utterance by utterance, so both halves hold every condition):
    # fitted on clean audio alone, where nearly everything is right, it would be overconfident on the telephone.
    scores = [s for trio in zip(*(results[c]["_scores"] for c in CONDITIONS)) for s in trio]
    correct = [y for trio in zip(*(results[c]["_correct"] for c in CONDITIONS)) for y in trio]
    cal, cal_report = calibrate(scores, correct, out / "reliability.png", "pt-quiz closed-set, holdout voices, 3 conditions")
    # The questionnaire's default policy on these answers, with the τ just fitted (on half of them; the same for all).
    for r in results.values():
        r["decisions"] = decisions(r.pop("_scores"), r.pop("_correct"), cal.temperature)
    cal.extra = {"scorer": "closed_set, raw log-likelihood (length_norm=False)", "answer_sets": list(ANSWER_SETS)}
    (best_dir / CALIBRATION).write_text(cal.to_json(), encoding="utf-8")
    report = {
        "recipe": asdict(recipe), "checkpoint": str(best_dir), "parameters": n_params,
        "train_utterances": n_train, "valid_utterances": n_valid, "holdout_utterances": len(eval_items),
        "holdout_voices": sorted({it["voice"] for it in eval_items}), "train_seconds": round(train_seconds, 1),
        "seconds_per_step": round(train_seconds / max(recipe.max_steps, 1), 3),
        "heldout": results, "calibration": cal_report, "reliability_plot": str(out / "reliability.png"),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report


def report_markdown(report: dict) -> str:
    """The held-out results of one run as a Markdown table: answer sets × conditions (accuracy, n); then, when the
    held-out voices are several, the worst answer set of each voice per condition."""
    lines = ["| answer set | " + " | ".join(CONDITIONS) + " |", "| --- |" + " --- |" * len(CONDITIONS)]
    for name in ANSWER_SETS:
        cells = [f"{100 * report['heldout'][c][name]['accuracy']:.1f}% (n={report['heldout'][c][name]['n']})" for c in CONDITIONS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"{100 * report['heldout'][c]['free_exact_match']:.1f}%" for c in CONDITIONS]
    lines.append("| free decoding, exact match (all texts) | " + " | ".join(cells) + " |")
    voices = report["heldout"][CONDITIONS[0]].get("per_voice", {})
    if voices:
        lines += ["", "| held-out voice | " + " | ".join(f"worst set, {c}" for c in CONDITIONS) + " |",
                  "| --- |" + " --- |" * len(CONDITIONS)]
        for v in voices:
            cells = []
            for c in CONDITIONS:
                r = report["heldout"][c]["per_voice"][v]
                name = min((s for s in ANSWER_SETS if r[s]["n"]), key=lambda s: r[s]["accuracy"])
                cells.append(f"{100 * r[name]['accuracy']:.1f}% ({name})")
            lines.append(f"| {v} | " + " | ".join(cells) + " |")
    kinds = report["heldout"]["noisy"].get("per_noise", {})
    if kinds:
        lines += ["", "| noisy condition, by noise kind | " + " | ".join(ANSWER_SETS) + " |", "| --- |" + " --- |" * len(ANSWER_SETS)]
        for k, r in kinds.items():
            lines.append(f"| {k} | " + " | ".join(f"{100 * r[s]['accuracy']:.1f}% (n={r[s]['n']})" for s in ANSWER_SETS) + " |")
    if "decisions" in report["heldout"][CONDITIONS[0]]:
        lines += ["", "| questionnaire policy (default thresholds) | " + " | ".join(CONDITIONS) + " |",
                  "| --- |" + " --- |" * len(CONDITIONS)]
        ds = [report["heldout"][c]["decisions"] for c in CONDITIONS]
        lines.append("| accepted (wrong among them) | " + " | ".join(
            f"{100 * d['accept']:.1f}% ({100 * d['accept_wrong']:.2f}%)" for d in ds) + " |")
        lines.append("| read back (wrong among them) | " + " | ".join(
            f"{100 * d['confirm']:.1f}% ({100 * d['confirm_wrong']:.1f}%)" for d in ds) + " |")
        lines.append("| asked again | " + " | ".join(f"{100 * d['reask']:.1f}%" for d in ds) + " |")
    return "\n".join(lines)


def comparison_markdown(reports: dict[str, dict], rtf: dict[str, float] | None = None) -> str:
    """Encoders side by side (same corpus and budget): worst answer set per condition, free decoding, size, time."""
    head = ["encoder", "parameters", "train s", "s/step"] + [f"worst set, {c}" for c in CONDITIONS] + ["free, clean"]
    head += ["RTF (1 thread)"] if rtf else []
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, r in reports.items():
        worst = [min(r["heldout"][c][s]["accuracy"] for s in ANSWER_SETS if r["heldout"][c][s]["n"]) for c in CONDITIONS]
        row = [name, f"{r['parameters']:,}", f"{r['train_seconds']:.0f}", f"{r['seconds_per_step']:.2f}"]
        row += [f"{100 * w:.1f}%" for w in worst] + [f"{100 * r['heldout']['clean']['free_exact_match']:.1f}%"]
        row += [f"{rtf[name]:.4f}"] if rtf else []
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)

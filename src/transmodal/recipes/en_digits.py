"""English spoken digits: a small Conformer-CTC on FSDD, speaker-held-out, optionally with synthetic speech.

Data: the Free Spoken Digit Dataset recordings ``{digit}_{speaker}_{index}.wav`` (8 kHz). The model works at
``sample_rate`` (default 8 kHz, the recordings' own rate): synthetic speech is rendered at that rate too, so real
and synthetic audio cover the same band (0–4 kHz) and the model cannot tell them apart by the band above it;
audio given to the trained model at any other rate is resampled to it. Training speakers (default george + jackson) train; every other speaker (lucas) is the held-out
validation split — the model never hears that voice. With ``synthetic_variants > 0`` a TTS corpus of
digit strings (:func:`~transmodal.audio.synth.en_digit_texts`) is built once under ``out/synthetic`` and
added to the training data.

The checkpoint carries ``lexicon.txt`` (the ten digit words), so the :class:`~transmodal.asr.model.Transcriber`'s free
decoding (``transmodal transcribe`` without ``--choices``) spells only sequences of digit words, of any length.

Evaluation on the held-out speaker(s): exact-match accuracy of free decoding as shipped (lexicon-constrained;
``free_accuracy``) and of unconstrained greedy character decoding (``free_chars_accuracy``), overall and per
speaker; closed-set accuracy over the ten digit words; a temperature :class:`~transmodal.asr.Calibrator`
fitted on half of the held-out recordings (even positions) and its reliability measured on the other
half; the calibrator is saved as ``calibration.json`` in the checkpoint; a reliability plot; ``report.json``.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

import torch

from transmodal.asr.closed_set import ClosedSetScorer
from transmodal.asr.model import CALIBRATION, LEXICON, SpeechRecognizer, SpeechRecognizerConfig, Transcriber
from transmodal.asr.vocab import CharVocab
from transmodal.recipes.common import check_init, init_from, start_run
from transmodal.recipes.speech_common import calibrate, parse_speeds, read_waves, train_ctc
from transmodal.audio.synth.texts import EN_DIGITS
from transmodal.datasets import dataset_dir, load_fsdd, load_read_speech
from transmodal.models.conformer import config as conformer_config
from transmodal.recipes.en_digits_config import EnDigitsRecipe
from transmodal.train import load_model

def heard_recordings_kept_back(items: list[dict], train_speakers: set[str], per_digit: int) -> set[int]:
    """Positions in ``items`` of the ``per_digit`` highest-numbered recordings of each (training speaker, digit)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, it in enumerate(items):
        if it["speaker"] in train_speakers:
            groups.setdefault((it["speaker"], it["text"]), []).append(i)
    kept = set()
    for positions in groups.values():
        kept.update(sorted(positions, key=lambda i: items[i]["index"])[max(0, len(positions) - per_digit):] if per_digit > 0 else [])
    return kept


def load_synthetic(recipe: EnDigitsRecipe, out: Path) -> list[dict]:
    """Build (or reuse) the synthetic digit-string corpus under ``out/synthetic``; its training utterances."""
    from transmodal.audio.synth import CorpusSpec, build_corpus, en_digit_texts, read_manifest

    spec = CorpusSpec(out_dir=str(out / "synthetic"), texts=en_digit_texts(recipe.synthetic_strings, seed=recipe.seed),
                      language="en", voices=[v.strip() for v in recipe.synthetic_voices.split(",") if v.strip()] or None,
                      variants=recipe.synthetic_variants, holdout_variants=0, sample_rate=recipe.sample_rate,
                      holdout_voices=[] if recipe.synthetic_all_voices else None,
                      seed=recipe.seed, progress=recipe.progress)
    manifest = build_corpus(spec)
    return [{"path": str(manifest.parent / u["audio"]), "text": u["text"], "speaker": "synthetic"} for u in read_manifest(manifest)]


def evaluate_split(transcriber: Transcriber, items: list[dict], waves: list[torch.Tensor]) -> dict:
    """Free-decoding (with the transcriber's lexicon, and in plain characters) and closed-set results on ``items``;
    also the closed-set scores for calibration."""
    lps = transcriber.log_probs(waves)
    scorer = ClosedSetScorer(list(EN_DIGITS), transcriber.vocab)
    chars = Transcriber(transcriber.model, transcriber.vocab, trim=transcriber.trim)
    free, free_chars, closed, scores, correct = [], [], [], [], []
    for it, lp in zip(items, lps):
        free.append(transcriber._free(lp, 1)[0] == it["text"])
        free_chars.append(chars._free(lp, 1)[0] == it["text"])
        s = scorer.scores(lp[None], torch.tensor([lp.shape[0]]))[0]
        scores.append(s)
        correct.append(EN_DIGITS.index(it["text"]))
        closed.append(int(s.argmax()) == correct[-1])
    per_speaker = {}
    for sp in sorted({it["speaker"] for it in items}):
        idx = [i for i, it in enumerate(items) if it["speaker"] == sp]
        per_speaker[sp] = {"n": len(idx), "free_accuracy": sum(free[i] for i in idx) / len(idx),
                           "free_chars_accuracy": sum(free_chars[i] for i in idx) / len(idx),
                           "closed_set_accuracy": sum(closed[i] for i in idx) / len(idx)}
    return {"n": len(items), "free_accuracy": sum(free) / max(len(free), 1),
            "free_chars_accuracy": sum(free_chars) / max(len(free_chars), 1),
            "closed_set_accuracy": sum(closed) / max(len(closed), 1), "per_speaker": per_speaker,
            "_scores": torch.stack(scores), "_correct": torch.tensor(correct)}


def run(recipe: EnDigitsRecipe) -> dict:
    """Train, evaluate on the held-out speaker(s), calibrate, write ``report.json`` in ``recipe.out``."""
    if recipe.read_speech_repeat < 0 or recipe.synthetic_variants < 0:
        raise ValueError(f"read_speech_repeat={recipe.read_speech_repeat} and synthetic_variants="
                         f"{recipe.synthetic_variants} must be >= 0 (0 = none)")
    parse_speeds(recipe.speed_factors)  # a bad value fails now, not after the data is read
    check_init(recipe.init)
    out = start_run(recipe.out, recipe.threads)
    train_speakers = {s.strip() for s in recipe.train_speakers.split(",") if s.strip()}
    items = load_fsdd(dataset_dir(recipe.data, download=False))
    kept_back = heard_recordings_kept_back(items, train_speakers, recipe.valid_per_digit)
    unheard = sorted({it["speaker"] for it in items} - train_speakers)
    train_items = [it for i, it in enumerate(items) if it["speaker"] in train_speakers and i not in kept_back]
    valid_items = [it for i, it in enumerate(items) if it["speaker"] not in train_speakers or i in kept_back]
    if not train_items or not valid_items:
        raise ValueError(f"train_speakers={recipe.train_speakers!r} with valid_per_digit={recipe.valid_per_digit} leaves an "
                         f"empty train or held-out split (speakers: {sorted({it['speaker'] for it in items})}); "
                         "to train on every speaker, keep some of their recordings back with --valid-per-digit N")
    if recipe.limit:
        train_items = random.Random(recipe.seed).sample(train_items, min(recipe.limit, len(train_items)))
    if recipe.valid_limit and len(valid_items) > recipe.valid_limit:
        step = -(-len(valid_items) // recipe.valid_limit)
        valid_items = valid_items[::step]
    if recipe.synthetic_variants > 0:
        train_items = train_items + load_synthetic(recipe, out)
    if recipe.read_speech_repeat > 0:
        train_items = train_items + load_read_speech(dataset_dir(recipe.read_speech_data, download=False)) * recipe.read_speech_repeat

    vocab = CharVocab()
    train_waves, valid_waves = read_waves(train_items, recipe.sample_rate), read_waves(valid_items, recipe.sample_rate)
    targets = [vocab.encode(it["text"]) for it in train_items]

    enc = conformer_config(recipe.model, d_model=recipe.d_model, n_layers=recipe.n_layers, n_heads=recipe.n_heads,
                           kernel_size=recipe.kernel_size, dropout=recipe.dropout)
    cfg = SpeechRecognizerConfig(encoder="conformer", encoder_config=asdict(enc), vocab_size=vocab.vocab_size,
                                 sample_rate=recipe.sample_rate, vtlp=recipe.vtlp, n_mels=recipe.n_mels,
                                 freq_width=max(1, round(27 * recipe.n_mels / 80)), **({} if recipe.spec_augment else {"freq_masks": 0, "time_masks": 0}))
    torch.manual_seed(recipe.seed)
    model = SpeechRecognizer(cfg)
    if recipe.init:
        init_from(model, recipe.init)
    n_params = sum(p.numel() for p in model.parameters())

    def evaluate(m) -> dict[str, float]:
        r = evaluate_split(Transcriber(m, vocab, lexicon=list(EN_DIGITS)), valid_items, valid_waves)
        return {k: r[k] for k in ("free_accuracy", "free_chars_accuracy", "closed_set_accuracy")}

    best_dir, train_seconds = train_ctc(model, recipe, out, train_waves, targets, evaluate,
                                        {CharVocab.FILENAME: vocab.to_json(), LEXICON: "\n".join(EN_DIGITS) + "\n"},
                                        rate=recipe.sample_rate)
    transcriber = Transcriber(load_model(best_dir), vocab, lexicon=list(EN_DIGITS))
    results = evaluate_split(transcriber, valid_items, valid_waves)
    cal, cal_report = calibrate(results.pop("_scores"), results.pop("_correct"), out / "reliability.png",
                                "closed-set digits, held-out speaker")
    cal.extra = {"scorer": "closed_set, raw log-likelihood (length_norm=False)", "answers": list(EN_DIGITS)}
    (best_dir / CALIBRATION).write_text(cal.to_json(), encoding="utf-8")
    report = {
        "recipe": asdict(recipe), "checkpoint": str(best_dir), "parameters": n_params,
        "train_utterances": len(train_items), "train_seconds": round(train_seconds, 1),
        "train_speakers": sorted(train_speakers),
        "heldout_kind": (("unheard speakers" + (" and unheard recordings of the training speakers" if kept_back else ""))
                         if unheard else "unheard recordings of the training speakers: no unheard voice"),
        "heldout": results, "calibration": cal_report,
        "reliability_plot": str(out / "reliability.png"),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report

"""What the speech recipes (en-digits, pt-quiz) share: reading audio, batching, the CTC loss, calibration.

Batches are built from in-memory waveforms: (waves (B, N), wave_lengths, targets (B, S), target_lengths),
shuffled per epoch by a seeded generator, optionally speed-perturbed (0.9 / 1.0 / 1.1). Calibration fits
one temperature τ on half of the held-out closed-set scores (even positions) and measures reliability on the
other half, so the reported ECE is on scores τ was not fitted to.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch

from transmodal.asr.closed_set import Calibrator, plot_reliability, posterior, reliability
from transmodal.asr.ctc import ctc_loss
from transmodal.asr.model import pad_waves
from transmodal.audio.features import speed_perturb
from transmodal.audio.io import load_audio
from transmodal.train import Trainer, TrainConfig

RATE = 16000
SPEEDS = (0.9, 1.0, 1.1)


def read_waves(items: list[dict], rate: int = RATE) -> list[torch.Tensor]:
    """Each item's ``path`` read as a mono waveform at ``rate``."""
    return [load_audio(it["path"], sample_rate=rate).samples[0] for it in items]


def parse_speeds(text: str) -> tuple[float, ...]:
    """``"0.9,1.0,1.1"`` → (0.9, 1.0, 1.1): the speed-perturbation factors, each in [0.5, 2]."""
    try:
        speeds = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        speeds = ()
    if not speeds or not all(0.5 <= v <= 2.0 for v in speeds):
        raise ValueError(f"speed_factors={text!r}: give comma-separated factors in [0.5, 2], e.g. '0.9,1.0,1.1'")
    return speeds


def make_batches(waves, targets, batch_size: int, rng: random.Random, perturb: bool, rate: int = RATE, transform=None,
                 speeds: tuple[float, ...] = SPEEDS):
    """Shuffled batches (waves (B, N), wave_lengths, targets (B, S), target_lengths), speed-perturbed if asked (each
    utterance at one of ``speeds``, drawn uniformly: resampling, so pitch and formants move with the speed).

    ``transform(wave, rng) -> wave``, if given, is applied to every utterance of every batch (on-line augmentation).

    Utterances are grouped by similar length within windows of 50 batches, so little of a batch is padding.
    """
    order = list(range(len(waves)))
    rng.shuffle(order)
    window = batch_size * 50
    order = [i for s in range(0, len(order), window) for i in sorted(order[s:s + window], key=lambda j: waves[j].shape[-1])]
    starts = list(range(0, len(order) - batch_size + 1 if len(order) >= batch_size else 1, batch_size))
    rng.shuffle(starts)
    for s in starts:
        chunk = order[s : s + batch_size]
        ws = [speed_perturb(waves[i], rate, rng.choice(speeds)) if perturb else waves[i] for i in chunk]
        if transform is not None:
            ws = [transform(w, rng) for w in ws]
        batch, lengths = pad_waves(ws)
        tl = torch.tensor([len(targets[i]) for i in chunk])
        tg = torch.zeros(len(chunk), int(tl.max()), dtype=torch.long)
        for row, i in enumerate(chunk):
            tg[row, : len(targets[i])] = torch.tensor(targets[i])
        yield batch, lengths, tg, tl


def loss_fn(model, batch):
    """CTC loss of a :class:`~transmodal.asr.model.SpeechRecognizer` on one batch from :func:`make_batches`."""
    waves, lengths, targets, target_lengths = batch
    lp, lp_len = model(waves, lengths)
    loss = ctc_loss(lp, lp_len, targets, target_lengths)
    return loss, {"tokens": float(len(waves))}


def calibrate(scores: list[torch.Tensor] | torch.Tensor, correct: list[int] | torch.Tensor, plot: Path,
              title: str) -> tuple[Calibrator, dict]:
    """Fit τ on the even positions, measure reliability (raw and calibrated) on the odd ones.

    A fitted τ that gives the odd half a higher NLL than the raw scores (τ = 1) is rejected and τ = 1 kept;
    the report then names the rejected value.

    ``scores`` may be a list of 1-D tensors of different lengths (answer sets of different sizes).
    """
    pairs = [(s, int(y)) for s, y in zip(scores, correct)]
    # A correct answer with score −inf (more characters than the model has output frames: CTC cannot emit it)
    # is an error no temperature can fix; such rows are left out of the fit and counted.
    kept = [(s, y) for s, y in pairs if bool(torch.isfinite(torch.as_tensor(s)[y]))]
    scores, correct = [s for s, _ in kept], [y for _, y in kept]
    fit_s, fit_y, test_s, test_y = scores[0::2], correct[0::2], scores[1::2], correct[1::2]
    cal = Calibrator().fit(fit_s, fit_y)
    fitted = cal.temperature
    nll = {"raw": cal.nll(test_s, test_y, 1.0), "calibrated": cal.nll(test_s, test_y, fitted)}
    if nll["calibrated"] > nll["raw"]:
        # Typically: the fit half has (almost) no errors, so its NLL keeps falling as τ → τ_min and the fitted τ
        # makes every answer look certain. A τ that does worse than none on the other half is not kept.
        cal.temperature = 1.0
    out = {"temperature": cal.temperature, "n_fit": len(fit_y), "n_test": len(test_y),
           "left_out_unreachable": len(pairs) - len(kept)}
    if cal.temperature != fitted:
        out["rejected_temperature"] = fitted
        out["note"] = (f"the fitted τ = {fitted:.3g} raised the other half's NLL from {nll['raw']:.3g} to "
                       f"{nll['calibrated']:.3g} ({len(fit_y) - _ranked_first(fit_s, fit_y)} of {len(fit_y)} fit answers "
                       "not ranked first), so τ = 1 (raw scores) is kept")
    for name, tau in (("raw", 1.0), ("calibrated", cal.temperature)):
        conf, right = [], []
        for sc, y in zip(test_s, test_y):
            p = posterior(sc, tau)
            conf.append(float(p.max()))
            right.append(int(p.argmax()) == y)
        rel = reliability(torch.tensor(conf), torch.tensor(right))
        out[name] = {"nll": cal.nll(test_s, test_y, tau), "ece": float(getattr(rel, "ece", float("nan")))}
        if name == "calibrated":
            plot_reliability(torch.tensor(conf), torch.tensor(right), plot, title=f"{title} (τ = {cal.temperature:.2f})")
    return cal, out


def _ranked_first(scores, correct) -> int:
    return sum(int(torch.as_tensor(sc).argmax()) == y for sc, y in zip(scores, correct))


def train_ctc(model, recipe, out: Path, waves, targets, eval_fn, extra_files: dict, rate: int = RATE,
              transform=None) -> tuple[Path, float]:
    """Train a speech recogniser with the recipes' shared settings; returns (best checkpoint dir, training seconds).

    ``recipe`` supplies max_steps, lr, warmup, eval_every, seed, progress, batch_size, speed_perturb and speed_factors
    (comma-separated, :func:`parse_speeds`). Cosine
    schedule, weight decay 1e-3, gradient clipping at 5; the checkpoint with the highest
    ``eval_fn(model)["closed_set_accuracy"]`` is kept as ``out/best`` (``out/last`` if there was no evaluation).
    """
    cfg = TrainConfig(out_dir=str(out), max_steps=recipe.max_steps, lr=recipe.lr, schedule="cosine",
                      warmup_steps=recipe.warmup, weight_decay=1e-3, grad_clip=5.0, eval_every=recipe.eval_every,
                      save_every=recipe.eval_every, seed=recipe.seed, progress=recipe.progress,
                      keep_best_metric="closed_set_accuracy", keep_best_mode="max")
    speeds = parse_speeds(recipe.speed_factors)
    trainer = Trainer(model, cfg,
                      train_batches=lambda epoch: make_batches(waves, targets, recipe.batch_size,
                                                               random.Random(recipe.seed * 100003 + epoch),
                                                               recipe.speed_perturb, rate, transform, speeds),
                      loss_fn=loss_fn, eval_fn=eval_fn, extra_files=extra_files)
    t0 = time.time()
    trainer.fit()
    seconds = time.time() - t0
    best = out / "best" if (out / "best" / "config.json").is_file() else out / "last"
    return best, seconds

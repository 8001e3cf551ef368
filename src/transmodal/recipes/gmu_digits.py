"""Recipe: fusing a handwritten digit, a spoken digit and a typed digit name — GMU against the baselines.

    transmodal train gmu-digits --out runs/gmu-digits --threads 1

Data (each example is one digit in up to three modalities, paired at random, each degraded by its own noise):

* image: scikit-learn's bundled 8×8 handwritten digits (``sklearn.datasets.load_digits``, 1,797 images, pixels
  scaled to [0, 1]). Per digit, a fixed random ``image_test_fraction`` is held out for the test pairs and
  ``image_valid_fraction`` for the validation pairs; the rest train.
* audio: FSDD (``$TRANSMODAL_DATA/fsdd-dev``, 8 kHz). The ``test_speaker``'s recordings (default lucas) make the
  test pairs — that voice is never heard in training; of the other speakers, recordings with index ≥ 50 −
  ``valid_per_digit`` validate, the rest train. Features: 40-band log-mel
  (:class:`~transmodal.audio.features.LogMel`), normalised per utterance.
* text: the digit's English name with typos (substitute / delete / insert / swap a letter), read as a bag of
  character unigrams and bigrams (ids in [1, 757), 0 = padding).

So test pairs share neither the voice nor the image with training. Each audio recording is paired with a random
image of the same digit from its split (training: a fresh image, text and noise every epoch; validation and
test: drawn once, with ``test_repeats`` draws per test recording). Noise: every example draws a level
ℓ ~ U[0, 1] for each modality independently — image: + ℓ · ``image_noise_max`` · N(0, 1) per pixel; audio:
white noise at SNR ``snr_clean_db`` + ℓ · (``snr_noisy_db`` − ``snr_clean_db``) dB
(:func:`~transmodal.audio.synth.augment.add_noise`); text: round(ℓ · ``max_typos``) typos — so some examples
have one clean and one useless modality. Training also drops one modality of an example with probability
``modality_dropout`` (:func:`~transmodal.models.gmu.drop_modalities`).

Methods (:data:`METHODS`): unimodal references, then concat / sum / late fusion / GMU on image + audio and on
image + audio + text, all with the same tiny encoders (:mod:`transmodal.models.gmu`), the same data order, the
same steps and optimiser; the best epoch on the validation pairs is kept. Report: ``report.json`` and
``report.md`` — accuracy and macro-F1 on the test pairs with every modality present and with each one missing;
``gate_vs_noise.png`` — the GMU's mean image gate, and the image's share of h, against (image noise − audio
noise), on the test pairs and on the validation pairs (whose voices the audio encoder has heard);
``accuracy_vs_noise.png`` — accuracy of each image + audio method over the same axis.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from transmodal.audio.features import LogMel, normalize_utterance
from transmodal.audio.synth.augment import add_noise
from transmodal.audio.synth.texts import EN_DIGITS
from transmodal.datasets import dataset_dir
from transmodal.models.gmu import GMUClassifier, GMUClassifierConfig, drop_modalities
from transmodal.recipes.common import start_run
from transmodal.datasets import load_fsdd
from transmodal.recipes.gmu_digits_config import GmuDigitsRecipe
from transmodal.recipes.speech_common import read_waves
from transmodal.asr.model import pad_waves
from transmodal.train import Trainer, TrainConfig, load_model, unwrap_model

ALL = ("image", "audio", "text")
# method → (modalities, fusion)
METHODS: dict[str, tuple[tuple[str, ...], str]] = {
    "image": (("image",), "concat"),
    "audio": (("audio",), "concat"),
    "text": (("text",), "concat"),
    "concat": (("image", "audio"), "concat"),
    "sum": (("image", "audio"), "sum"),
    "late": (("image", "audio"), "late"),
    "gmu": (("image", "audio"), "gmu"),
    "concat3": (ALL, "concat"),
    "sum3": (ALL, "sum"),
    "late3": (ALL, "late"),
    "gmu3": (ALL, "gmu"),
}
LETTERS = "abcdefghijklmnopqrstuvwxyz"
TEXT_VOCAB = 1 + 27 + 27 * 27  # padding, 27 unigrams (26 letters + other), 27² bigrams over "#word#"


# ------------------------------------------------------------------------------------------------ the data


def load_images() -> tuple[torch.Tensor, np.ndarray]:
    """scikit-learn's 8×8 digits: images (N, 8, 8) float in [0, 1] and labels (N,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return torch.tensor(digits.images / 16.0, dtype=torch.float32), np.asarray(digits.target)


def split_images(labels: np.ndarray, test_fraction: float, valid_fraction: float, seed: int = 20170217) -> dict[str, list[np.ndarray]]:
    """Per split, per digit, the image indices: a fixed random split within each digit (test, valid, train)."""
    if not (0 < test_fraction and 0 < valid_fraction and test_fraction + valid_fraction < 1):
        raise ValueError(f"image fractions test={test_fraction}, valid={valid_fraction} must be > 0 and sum to < 1")
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {"train": [], "valid": [], "test": []}
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(labels == d))
        n_test, n_valid = round(len(idx) * test_fraction), round(len(idx) * valid_fraction)
        out["test"].append(np.sort(idx[:n_test]))
        out["valid"].append(np.sort(idx[n_test : n_test + n_valid]))
        out["train"].append(np.sort(idx[n_test + n_valid :]))
    return out


def split_audio(items: list[dict], test_speaker: str, valid_per_digit: int) -> dict[str, list[int]]:
    """Indices of FSDD ``items``: the test speaker; of the others, index ≥ 50 − valid_per_digit validates."""
    speakers = sorted({it["speaker"] for it in items})
    if test_speaker not in speakers:
        raise ValueError(f"test_speaker={test_speaker!r} is not among the FSDD speakers {speakers}")
    out: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    for i, it in enumerate(items):
        index = int(Path(it["path"]).stem.split("_")[2])
        split = "test" if it["speaker"] == test_speaker else "valid" if index >= 50 - valid_per_digit else "train"
        out[split].append(i)
    if not out["train"] or not out["valid"]:
        raise ValueError(f"valid_per_digit={valid_per_digit} leaves an empty train or validation split")
    return out


def typo(word: str, n: int, rng: np.random.Generator) -> str:
    """``word`` after ``n`` random edits, each a substitution, deletion, insertion or swap of adjacent letters."""
    chars = list(word)
    for _ in range(n):
        op = int(rng.integers(4))
        pos = int(rng.integers(len(chars))) if chars else 0
        if op == 0 and chars:
            chars[pos] = LETTERS[int(rng.integers(26))]
        elif op == 1 and len(chars) > 1:
            del chars[pos]
        elif op == 3 and len(chars) > 1:
            pos = min(pos, len(chars) - 2)
            chars[pos], chars[pos + 1] = chars[pos + 1], chars[pos]
        else:
            chars.insert(pos, LETTERS[int(rng.integers(26))])
    return "".join(chars)


def text_ids(text: str) -> list[int]:
    """Bag of characters: unigram ids 1 + c and bigram ids 28 + 27·c₁ + c₂ over "#text#" (c = 1…26 letters, 0 other)."""
    codes = [LETTERS.index(ch) + 1 if ch in LETTERS else 0 for ch in text.lower()]
    padded = [0, *codes, 0]
    return [1 + c for c in codes] + [28 + 27 * a + b for a, b in zip(padded, padded[1:])]


class DigitsData:
    """The three modalities in memory, and how an example (audio i, image j, text, noise levels) becomes tensors."""

    def __init__(self, recipe: GmuDigitsRecipe):
        self.recipe = recipe
        self.items = load_fsdd(dataset_dir(recipe.data, download=False))
        self.waves = [w.double().numpy() for w in read_waves(self.items, recipe.sample_rate)]
        self.digits = np.array([EN_DIGITS.index(it["text"]) for it in self.items])
        self.images, self.image_labels = load_images()
        self.image_splits = split_images(self.image_labels, recipe.image_test_fraction, recipe.image_valid_fraction)
        self.audio_splits = split_audio(self.items, recipe.test_speaker, recipe.valid_per_digit)
        if recipe.limit:
            self.audio_splits["train"] = self.audio_splits["train"][: recipe.limit]
        self.logmel = LogMel(recipe.sample_rate, n_mels=recipe.n_mels)

    def draw(self, split: str, rng: np.random.Generator, repeats: int = 1) -> dict:
        """Examples of ``split``: every recording ``repeats`` times, each with a random image of its digit, noise levels, typos."""
        audio = np.repeat(np.array(self.audio_splits[split]), repeats)
        labels = self.digits[audio]
        pools = self.image_splits[split]
        image = np.array([pools[d][rng.integers(len(pools[d]))] for d in labels])
        levels = rng.random((len(audio), 3))  # (n, 3): image, audio, text noise levels in [0, 1)
        texts = [typo(EN_DIGITS[d], round(lv * self.recipe.max_typos), rng) for d, lv in zip(labels, levels[:, 2])]
        return {"audio": audio, "image": image, "label": labels, "levels": levels, "text": texts}

    def tensors(self, ex: dict, rows: np.ndarray, rng: np.random.Generator) -> dict:
        """Batch of examples ``rows``: noisy image (B, 1, 8, 8), noisy log-mel (B, T, M) + lengths, text ids (B, L)."""
        r = self.recipe
        levels = ex["levels"][rows]
        noise = torch.from_numpy(rng.standard_normal((len(rows), 1, 8, 8))).float()
        image = self.images[ex["image"][rows]][:, None] + noise * torch.from_numpy(levels[:, 0]).float().view(-1, 1, 1, 1) * r.image_noise_max
        waves = []
        for a, lv in zip(ex["audio"][rows], levels[:, 1]):
            snr = r.snr_clean_db + lv * (r.snr_noisy_db - r.snr_clean_db)
            waves.append(torch.from_numpy(add_noise(self.waves[a], snr, r.audio_noise, rng)).float())
        batch, lengths = pad_waves(waves)
        feats, frames = self.logmel(batch, lengths)
        ids = [text_ids(ex["text"][i]) for i in rows]
        text = torch.zeros(len(rows), max(map(len, ids)), dtype=torch.long)
        for i, t in enumerate(ids):
            text[i, : len(t)] = torch.tensor(t)
        return {"image": image, "audio": normalize_utterance(feats, frames), "audio_lengths": frames, "text": text,
                "label": torch.from_numpy(ex["label"][rows]).long(), "levels": torch.from_numpy(levels).float()}

    def batches(self, ex: dict, batch_size: int, rng: np.random.Generator, shuffle: bool) -> list[dict]:
        order = rng.permutation(len(ex["label"])) if shuffle else np.arange(len(ex["label"]))
        return [self.tensors(ex, order[s : s + batch_size], rng) for s in range(0, len(order), batch_size)]


# ------------------------------------------------------------------------------------ training, evaluation


def model_inputs(batch: dict, modalities: tuple[str, ...], present: torch.Tensor | None = None) -> dict:
    """The keyword arguments of :class:`GMUClassifier` for ``modalities`` out of a full batch."""
    kw = {m: batch[m] for m in modalities}
    if "audio" in modalities:
        kw["audio_lengths"] = batch["audio_lengths"]
    kw["present"] = present
    return kw


def make_loss_fn(modalities: tuple[str, ...], fusion: str, p_drop: float, generator: torch.Generator):
    def loss_fn(m, batch):
        present = torch.ones(batch["label"].shape[0], len(modalities), dtype=torch.bool)
        present = drop_modalities(present, p_drop, generator).to(batch["label"].device)
        kw = model_inputs(batch, modalities, present)
        y = batch["label"]
        if fusion == "late":  # late fusion: each modality's classifier learns on its own, where present
            model = unwrap_model(m)
            xs, present = model.encode(**kw)
            per = model.unimodal_logits(xs)                                        # (B, N, C)
            ce = F.cross_entropy(per.flatten(0, 1), y.repeat_interleave(len(modalities)), reduction="none")
            w = present.flatten().float()
            loss = (ce * w).sum() / w.sum()
            logits = model.fuse(xs, present)[0]
        else:
            logits = m(**kw)
            loss = F.cross_entropy(logits, y)
        return loss, {"tokens": y.shape[0], "accuracy": float((logits.argmax(-1) == y).float().mean())}

    return loss_fn


@torch.no_grad()
def predict(model: GMUClassifier, batches: list[dict], drop: str | None = None) -> dict:
    """Predictions on ``batches`` (``drop`` = a modality left out); for a GMU also, per example and modality (n, N),
    the gate averaged over hidden units and the modality's share of h, Σ_j |z_ij h_ij| / Σ_k Σ_j |z_kj h_kj|."""
    model.eval()
    mods = model.config.modalities
    preds, gates, shares = [], [], []
    for b in batches:
        present = torch.ones(b["label"].shape[0], len(mods), dtype=torch.bool)
        if drop is not None:
            present[:, mods.index(drop)] = False
        xs, present = model.encode(**model_inputs(b, mods, present))
        fused = model.fuse(xs, present)
        preds.append(fused.logits.argmax(-1))
        if fused.gates is not None:
            gates.append(fused.gates.mean(-1))
            size = fused.terms.abs().sum(-1)
            shares.append(size / size.sum(1, keepdim=True).clamp(min=1e-12))
    out = {"pred": torch.cat(preds), "gates": None, "shares": None}
    if gates:
        out["gates"], out["shares"] = torch.cat(gates), torch.cat(shares)
    return out


def scores(pred: torch.Tensor, gold: torch.Tensor) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": round(float(accuracy_score(gold, pred)), 4),
            "macro_f1": round(float(f1_score(gold, pred, average="macro", labels=list(range(10)), zero_division=0)), 4)}


def train_epoch(data: DigitsData, recipe: GmuDigitsRecipe, epoch: int) -> list[dict]:
    """Epoch ``epoch``'s training batches: fresh pairs, noise, typos and order, from a generator seeded by (seed, epoch)."""
    rng = np.random.default_rng([recipe.seed, epoch])
    return data.batches(data.draw("train", rng), recipe.batch_size, rng, shuffle=True)


def train_method(name: str, data: DigitsData, valid: list[dict], recipe: GmuDigitsRecipe, out: Path,
                 epochs: dict[int, list[dict]]) -> tuple[GMUClassifier, float, float]:
    """Train method ``name`` under ``out/name``; the best model on ``valid``. ``epochs`` caches each epoch's batches,
    so every method sees the same examples, noise and order (and they are built once). Also returns the
    wall-clock and CPU seconds of training (on a shared machine the CPU seconds are the comparable figure)."""
    modalities, fusion = METHODS[name]
    cfg = GMUClassifierConfig(modalities=modalities, fusion=fusion, n_mels=recipe.n_mels, text_vocab=TEXT_VOCAB,
                              encoder_dim=recipe.encoder_dim, hidden=recipe.hidden, dropout=recipe.dropout)
    torch.manual_seed(recipe.seed)
    model = GMUClassifier(cfg)
    n_train = len(data.audio_splits["train"])
    steps_per_epoch = math.ceil(n_train / recipe.batch_size)
    max_steps = recipe.epochs * steps_per_epoch
    train_cfg = TrainConfig(
        out_dir=str(out / name), max_steps=max_steps, lr=recipe.lr, schedule="cosine",
        warmup_steps=min(max_steps - 1, round(recipe.warmup_epochs * steps_per_epoch)), weight_decay=recipe.weight_decay,
        betas=(0.9, 0.999), eps=1e-8, grad_clip=1.0, eval_every=steps_per_epoch * recipe.eval_every_epochs, save_every=max_steps, log_every=steps_per_epoch,
        seed=recipe.seed, device="cpu", progress=recipe.progress, keep_best_metric="accuracy", keep_best_mode="max",
    )

    def train_batches(epoch: int):  # the same pairs, noise and order for every method, built once
        if epoch not in epochs:
            epochs[epoch] = train_epoch(data, recipe, epoch)
        return epochs[epoch]

    def eval_fn(m):
        gold = torch.cat([b["label"] for b in valid])
        return {"accuracy": float((predict(m, valid)["pred"] == gold).float().mean())}

    p_drop = recipe.modality_dropout if len(modalities) > 1 else 0.0
    trainer = Trainer(model, train_cfg, train_batches, make_loss_fn(modalities, fusion, p_drop, torch.Generator().manual_seed(recipe.seed)),
                      eval_fn=eval_fn)
    t0, c0 = time.time(), time.process_time()
    trainer.fit()
    return load_model(out / name / "best"), time.time() - t0, time.process_time() - c0


def run(recipe: GmuDigitsRecipe) -> dict:
    """Train every method of ``recipe.methods``; write report.json, report.md and the plots in ``recipe.out``."""
    out = start_run(recipe.out, recipe.threads)
    names = [n.strip() for n in recipe.methods.split(",") if n.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise ValueError(f"methods={recipe.methods!r}: unknown {unknown}; choose from {', '.join(METHODS)}")
    data = DigitsData(recipe)
    valid = data.batches(data.draw("valid", np.random.default_rng([recipe.seed, 10**6]), repeats=recipe.test_repeats), 256, np.random.default_rng(1), shuffle=False)
    test_ex = data.draw("test", np.random.default_rng([recipe.seed, 10**6 + 1]), repeats=recipe.test_repeats)
    test = data.batches(test_ex, 256, np.random.default_rng([recipe.seed, 10**6 + 2]), shuffle=False)
    gold = torch.cat([b["label"] for b in test])
    levels = {"test": torch.cat([b["levels"] for b in test]), "valid": torch.cat([b["levels"] for b in valid])}
    epochs = {e: train_epoch(data, recipe, e) for e in range(recipe.epochs)}  # before timing any method
    rows, gates, preds = [], {}, {}
    for name in names:
        model, seconds, cpu_seconds = train_method(name, data, valid, recipe, out, epochs)
        mods = model.config.modalities
        result = predict(model, test)
        preds[name] = result["pred"]
        row = {"method": name, "modalities": list(mods), "fusion": model.config.fusion,
               "parameters": sum(p.numel() for p in model.parameters()), "train_seconds": round(seconds, 1),
               "train_cpu_seconds": round(cpu_seconds, 1),
               "test": scores(result["pred"], gold)}
        if len(mods) > 1:
            row["missing"] = {m: scores(predict(model, test, drop=m)["pred"], gold) for m in mods}
        if result["gates"] is not None:
            gates[name] = {"test": result, "valid": predict(model, valid)}  # valid: voices the model has heard
            row["mean_gates"] = {m: round(float(result["gates"][:, i].mean()), 4) for i, m in enumerate(mods)}
            row["mean_shares"] = {m: round(float(result["shares"][:, i].mean()), 4) for i, m in enumerate(mods)}
        rows.append(row)
    plots = plot_results(out, names, gates, preds, gold, levels)
    report = {
        "recipe": asdict(recipe),
        "pairs": {"train_recordings": len(data.audio_splits["train"]), "valid_pairs": int(sum(b["label"].shape[0] for b in valid)),
                  "test_pairs": int(gold.shape[0]), "test_speaker": recipe.test_speaker,
                  "images": {k: int(sum(map(len, v))) for k, v in data.image_splits.items()}},
        "gate_by_noise_difference": {split: gate_table({n: g[split] for n, g in gates.items()}, levels[split]) for split in levels},
        "test": {"methods": rows},
        "plots": plots,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "report.md").write_text(markdown_table(rows), encoding="utf-8")
    return report


# ----------------------------------------------------------------------------------------- report, plots

BINS = np.linspace(-1, 1, 9)  # image noise − audio noise


def binned(values: torch.Tensor, diff: torch.Tensor) -> tuple[list[float], list[float]]:
    """Bin centres and the mean of ``values`` in each bin of ``diff`` (NaN where a bin is empty)."""
    centres, means = [], []
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        sel = (diff >= lo) & (diff < hi) if hi < BINS[-1] else (diff >= lo) & (diff <= hi)
        centres.append(round(float((lo + hi) / 2), 3))
        means.append(round(float(values[sel].float().mean()), 4) if bool(sel.any()) else float("nan"))
    return centres, means


def gate_table(gates: dict, levels: torch.Tensor) -> dict:
    """Per GMU method: the image's mean gate and share of h in bins of (image noise − audio noise)."""
    diff = levels[:, 0] - levels[:, 1]
    return {name: {"bin_centre": binned(r["gates"][:, 0], diff)[0], "image_gate": binned(r["gates"][:, 0], diff)[1],
                   "image_share": binned(r["shares"][:, 0], diff)[1]} for name, r in gates.items()}


def plot_results(out: Path, names: list[str], gates: dict, preds: dict, gold: torch.Tensor, levels: dict) -> list[str]:
    import matplotlib.pyplot as plt

    from transmodal.viz import save_figure

    written = []
    if gates:
        fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
        for row, (split, who) in zip(axes, [("test", "test pairs (unheard speaker)"), ("valid", "validation pairs (heard speakers)")]):
            diff = levels[split][:, 0] - levels[split][:, 1]
            for name, by_split in gates.items():
                r = by_split[split]
                for ax, key in zip(row, ("gates", "shares")):
                    x, y = binned(r[key][:, 0], diff)
                    ax.plot(x, y, marker="o", label=f"{name}: image")
                    if r[key].shape[1] == 3:
                        ax.plot(x, binned(r[key][:, 1], diff)[1], marker="s", ls="--", label=f"{name}: audio")
            row[0].set_ylabel("mean gate value (over hidden units)")
            row[0].set_title(f"GMU gate on each modality — {who}", fontsize=10)
            row[1].set_ylabel("share of h: Σ|z·h_m| / Σ_k Σ|z·h_k|")
            row[1].set_title(f"Each modality's share of the fused h — {who}", fontsize=10)
        for ax in axes.flat:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        for ax in axes[1]:
            ax.set_xlabel("image noise − audio noise  (−1: image clean, audio garbage)")
        fig.tight_layout()
        save_figure(fig, out / "gate_vs_noise.png")
        written.append("gate_vs_noise.png")
    shown = [n for n in names if n in ("image", "audio", "concat", "sum", "late", "gmu")]
    diff = levels["test"][:, 0] - levels["test"][:, 1]
    if shown:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for name in shown:
            x, y = binned(preds[name] == gold, diff)
            ax.plot(x, y, marker="o", label=name, ls=":" if name in ("image", "audio") else "-")
        ax.set_xlabel("image noise − audio noise")
        ax.set_ylabel("test accuracy")
        ax.set_title("Test accuracy against which modality is cleaner")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        save_figure(fig, out / "accuracy_vs_noise.png")
        written.append("accuracy_vs_noise.png")
    return written


def markdown_table(rows: list[dict]) -> str:
    lines = ["| method | modalities | fusion | params | accuracy | macro-F1 | acc. without image | acc. without audio | acc. without text |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        miss = r.get("missing", {})
        cell = [f"{miss[m]['accuracy']:.2%}" if m in miss else "—" for m in ALL]
        lines.append(f"| {r['method']} | {' + '.join(r['modalities'])} | {r['fusion']} | {r['parameters']:,} | "
                     f"{r['test']['accuracy']:.2%} | {r['test']['macro_f1']:.4f} | {' | '.join(cell)} |")
    return "\n".join(lines) + "\n"

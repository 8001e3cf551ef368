"""Recipe: English → Portuguese translation with the original Transformer on Tatoeba.

    transmodal train translation --out runs/en-pt [--model small] [--positions sinusoidal] [--max-steps 2000]

Data: ``$TRANSMODAL_DATA/tatoeba-en-pt`` (31,371 lower-cased, space-tokenised pairs). The recipe pools
the files and makes its own split, keyed on a CRC-32 of the English sentence so that every translation
of one English sentence lands in the same split (no source seen in training is evaluated):
3% test, 1% validation, 96% training. A shared BPE vocabulary is learned on the training pairs only.

Training: label-smoothed cross-entropy (ε = 0.1), Adam(β = 0.9, 0.98, ε = 1e-9) with the paper's
warm-up schedule, batches of similar-length sentences up to ``max_tokens`` target tokens.
Evaluation: BLEU and chrF (sacrebleu) on the held-out test split, greedy and beam search.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from dataclasses import asdict
from pathlib import Path

import torch

from transmodal.recipes.common import build_once, start_run
from transmodal.datasets import dataset_dir
from transmodal.models.seq2seq import Transformer, config
from transmodal.nn import label_smoothed_nll
from transmodal.recipes.translation_config import TranslationRecipe
from transmodal.text import Tokenizer, train_bpe
from transmodal.train import Trainer, TrainConfig, distributed
from transmodal.translator import Translator


def load_pairs(folder: Path) -> list[tuple[str, str]]:
    """All (english, portuguese) pairs of the Tatoeba files, in file order, stripped, empty ones dropped."""
    pairs = []
    for split in ("dev", "test"):
        en = (folder / f"eng_{split}.txt").read_text(encoding="utf-8").splitlines()
        pt = (folder / f"port_{split}.txt").read_text(encoding="utf-8").splitlines()
        if len(en) != len(pt):
            raise ValueError(f"{folder}: eng_{split}.txt has {len(en)} lines but port_{split}.txt has {len(pt)}")
        pairs += [(e.strip(), p.strip()) for e, p in zip(en, pt) if e.strip() and p.strip()]
    return pairs


def split_pairs(pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Deterministic split by CRC-32 of the English side: bucket 0–2 → test, 3 → valid, 4–99 → train."""
    out = {"train": [], "valid": [], "test": []}
    for en, pt in pairs:
        bucket = zlib.crc32(en.encode("utf-8")) % 100
        out["test" if bucket < 3 else "valid" if bucket == 3 else "train"].append((en, pt))
    return out


def make_batches(examples: list[tuple[list[int], list[int]]], max_tokens: int, pad: int, rng: random.Random) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Group examples of similar length into (src (B, S), tgt (B, T)) batches of ≤ max_tokens target tokens.

    Sort by length with random tie-breaking, cut into batches, then shuffle the batch order.
    """
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i][1]), len(examples[i][0]), rng.random()))
    batches, current, longest = [], [], 0
    for i in order:
        longest_if_added = max(longest, len(examples[i][1]))
        if current and longest_if_added * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest_if_added = [], len(examples[i][1])
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return [(_pad([examples[i][0] for i in b], pad), _pad([examples[i][1] for i in b], pad)) for b in batches]


def _pad(seqs: list[list[int]], pad: int) -> torch.Tensor:
    out = torch.full((len(seqs), max(map(len, seqs))), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s)
    return out


def seq2seq_loss(epsilon: float, pad: int):
    """loss_fn for the Trainer: label-smoothed NLL of tgt[1:] given src and tgt[:-1]."""

    def loss_fn(model, batch):
        src, tgt = batch
        loss, nll = label_smoothed_nll(model(src, tgt[:, :-1]), tgt[:, 1:], epsilon, ignore_index=pad)
        return loss, {"tokens": int((tgt[:, 1:] != pad).sum()), "nll": float(nll.detach())}

    return loss_fn


def score(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU and chrF with sacrebleu (tokenize='none': the data is already space-tokenised)."""
    import sacrebleu

    bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="none", force=True)
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2)}


def evaluate_checkpoint(path: str | Path, beams=(1, 4), splits: dict | None = None, split: str = "test") -> tuple[dict, list[dict]]:
    """BLEU / chrF of a checkpoint on the recipe's held-out ``split``, for each beam width.

    Returns ({"beam1": {"bleu", "chrf", "seconds"}, ...}, the first 15 examples of the widest beam).
    """
    if splits is None:
        splits = split_pairs(load_pairs(dataset_dir("tatoeba-en-pt")))
    translator = Translator.load(path)
    src, refs = [e for e, _ in splits[split]], [p for _, p in splits[split]]
    results, hyps = {}, []
    for beam in beams:
        t = time.time()
        hyps = translator.translate(src, beam=beam)
        results[f"beam{beam}"] = {**score(hyps, refs), "seconds": round(time.time() - t, 1)}
    return results, [{"en": e, "ref": r, "hyp": h} for e, r, h in list(zip(src, refs, hyps))[:15]]


def evaluate_lengths(path: str | Path, splits: dict | None = None, beam: int = 1, joined: int = 3, seed: int = 0) -> dict:
    """How translation quality holds up as inputs get longer — where position encodings differ.

    BLEU on the held-out test split bucketed by source length (in words), and on inputs made by
    joining ``joined`` random test sentences (and their references), which are longer than almost
    every training sentence: a model whose positions do not extrapolate degrades there.
    """
    if splits is None:
        splits = split_pairs(load_pairs(dataset_dir("tatoeba-en-pt")))
    translator = Translator.load(path)
    test = splits["test"]
    hyps = translator.translate([e for e, _ in test], beam=beam)
    buckets: dict[str, tuple[list[str], list[str]]] = {}
    for (en, pt), h in zip(test, hyps):
        n = len(en.split())
        name = "1-5" if n <= 5 else "6-10" if n <= 10 else "11-15" if n <= 15 else "16+"
        buckets.setdefault(name, ([], []))
        buckets[name][0].append(h)
        buckets[name][1].append(pt)
    out = {f"words {k}": {**score(*v), "sentences": len(v[0])} for k, v in sorted(buckets.items(), key=lambda kv: int(kv[0].split("-")[0].rstrip("+")))}
    rng = random.Random(seed)
    groups = [rng.sample(test, joined) for _ in range(200)]
    src = [" ".join(e for e, _ in g) for g in groups]
    ref = [" ".join(p for _, p in g) for g in groups]
    out[f"{joined} sentences joined"] = {**score(translator.translate(src, beam=beam), ref), "sentences": len(src), "mean_words": round(sum(len(x.split()) for x in src) / len(src), 1)}
    train_lengths = sorted(len(e.split()) for e, _ in splits["train"])
    out["train_words_p99"] = train_lengths[int(0.99 * len(train_lengths))]
    out["train_words_max"] = train_lengths[-1]
    return out


def run(recipe: TranslationRecipe) -> dict:
    """Train, evaluate on the held-out test split, and write ``report.json`` in ``recipe.out``."""
    out = start_run(recipe.out, recipe.threads)
    splits = split_pairs(load_pairs(dataset_dir("tatoeba-en-pt")))
    train_pairs = splits["train"][: recipe.limit] if recipe.limit else splits["train"]

    tok = build_once(
        out / Tokenizer.FILENAME,
        lambda path: train_bpe((s for pair in train_pairs for s in pair), recipe.vocab_size).save(path),
        Tokenizer.load,
    )
    encode = lambda pairs: list(zip(tok.encode_batch([e for e, _ in pairs], eos=True), tok.encode_batch([p for _, p in pairs], bos=True, eos=True)))
    train_ex = encode(train_pairs)

    cfg = config(recipe.model, src_vocab=tok.vocab_size, tgt_vocab=tok.vocab_size, positions=recipe.positions, dropout=recipe.dropout)
    torch.manual_seed(recipe.seed)
    model = Transformer(cfg)
    valid = splits["valid"]

    def evaluate(m) -> dict[str, float]:
        hyps = Translator(m, tok).translate([e for e, _ in valid], beam=1)
        return score(hyps, [p for _, p in valid])

    train_cfg = TrainConfig(
        out_dir=str(out), max_steps=recipe.max_steps, lr=recipe.lr, schedule="noam", warmup_steps=recipe.warmup,
        d_model=cfg.d_model, betas=(0.9, 0.98), eps=1e-9, grad_clip=1.0, eval_every=recipe.eval_every,
        save_every=recipe.save_every, log_every=10, seed=recipe.seed, progress=recipe.progress,
        keep_best_metric="bleu", keep_best_mode="max",
    )
    trainer = Trainer(
        model, train_cfg,
        train_batches=lambda epoch: make_batches(train_ex, recipe.max_tokens, tok.pad_id, random.Random(recipe.seed * 100003 + epoch)),
        loss_fn=seq2seq_loss(recipe.label_smoothing, tok.pad_id),
        eval_fn=evaluate,
        extra_files={Tokenizer.FILENAME: tok.to_json()},
    )
    t0 = time.time()
    trainer.fit()
    train_seconds = time.time() - t0
    if not distributed.is_main_process():
        return {}  # rank 0 evaluates and reports

    best_dir = out / "best" if (out / "best" / "config.json").is_file() else out / "last"
    results, examples = evaluate_checkpoint(best_dir, beams=sorted({1, recipe.beam}), splits=splits)
    report = {
        "recipe": asdict(recipe),
        "model_config": asdict(cfg),
        "parameters": sum(p.numel() for p in model.parameters()),
        "pairs": {k: len(v) for k, v in splits.items()} | {"train_used": len(train_pairs)},
        "train_seconds": round(trainer.elapsed, 1),  # summed over interrupted and resumed runs
        "train_seconds_this_run": round(train_seconds, 1),
        "threads": torch.get_num_threads(),
        "checkpoint": str(best_dir),
        "test": results,
        "examples": examples,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report

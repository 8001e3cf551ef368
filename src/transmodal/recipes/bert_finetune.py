"""Recipe: fine-tune BERT on a task made from the corpus, pre-trained vs the same model from scratch.

    transmodal train bert-finetune --task period --pretrained runs/machado-bert/best --out runs/ft-period

The four heads of the BERT paper's Figure 4, each on labels built from Machado de Assis by simple
rules (:mod:`transmodal.text.machado` says exactly how, and what the rules get wrong):

* ``period``  — ``[CLS] paragraph [SEP]`` → decade in which the work's collection began (4 classes);
  accuracy and macro-F1 against the majority-class baseline.
* ``pairs``   — ``[CLS] sentence [SEP] sentence [SEP]`` → is the second the next sentence?; accuracy.
* ``names``   — ``[CLS] paragraph [SEP]`` read lower-cased → was each word capitalised mid-sentence (a
  name)?; precision, recall and F1 of the "name" tag.
* ``speaker`` — ``[CLS] quem fala? [SEP] paragraph [SEP]`` → span of the speaker's name; exact match
  and token F1.

Training examples come from the training works, validation (best checkpoint) from the validation works,
and every reported figure from the held-out *test* works. With ``init=both`` the recipe trains the
pre-trained model and the same architecture from a random initialisation (same tokenizer, data,
steps and schedule; ``scratch_lr`` can give the scratch run its own learning rate) and reports both —
the gap is what pre-training buys. ``limit_train`` shrinks the labelled set to show how the gap grows
when labels are few.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from transmodal.recipes.common import fit_and_load_best, start_run
from transmodal.models.bert import BertBase, BertClassifier, BertSpanExtractor, BertTagger, best_spans
from transmodal.recipes.bert_finetune_config import BertFinetuneRecipe
from transmodal.text.machado import PERIODS, Work, name_tags, period_examples, read_works, sentence_pairs, speaker_examples, split_works
from transmodal.text.masking import IGNORE_INDEX
from transmodal.text.wordpiece import PAD_ID, SEP_ID, WordPieceTokenizer
from transmodal.train import Trainer, TrainConfig

TASKS = ("period", "pairs", "names", "speaker")
QUESTION = "quem fala?"
HEADS = {"period": BertClassifier, "pairs": BertClassifier, "names": BertTagger, "speaker": BertSpanExtractor}
N_LABELS = {"period": len(PERIODS), "pairs": 2, "names": 2, "speaker": 0}
MAIN_METRIC = {"period": "accuracy", "pairs": "accuracy", "names": "f1", "speaker": "exact_match"}


# ------------------------------------------------------------------------------------ examples
def build_examples(task: str, works: list[Work], tok: WordPieceTokenizer, max_len: int, rng: random.Random) -> list[dict]:
    """Encoded examples of ``task`` from ``works``: dicts with "ids", "segments" and the task's target(s)."""
    if task == "period":
        return [_single(tok, p, max_len) | {"label": y} for p, y in period_examples(works)]
    if task == "pairs":
        out = []
        for a, b, y in sentence_pairs(works, rng):
            ids, seg = tok.build_inputs(tok.encode(a), tok.encode(b), max_len)
            out.append({"ids": ids, "segments": seg, "label": y})
        return out
    if task == "names":
        return [ex for w in works if not w.merged for p in w.paragraphs if len(p) >= 80 for ex in [_tagged(tok, p, max_len)] if ex]
    if task == "speaker":
        return [ex for p, s, e in speaker_examples(works) for ex in [_span(tok, p, s, e, max_len)] if ex]
    raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def _single(tok: WordPieceTokenizer, text: str, max_len: int) -> dict:
    ids, seg = tok.build_inputs(tok.encode(text), max_len=max_len)
    return {"ids": ids, "segments": seg}


def _tagged(tok: WordPieceTokenizer, paragraph: str, max_len: int) -> dict | None:
    """Tag the first piece of every word that has a tag; other pieces (and [CLS]/[SEP]) are ignored."""
    ids, offsets = tok.encode_with_offsets(paragraph)
    ids, offsets = ids[: max_len - 2], offsets[: max_len - 2]
    word_at = {start: tag for start, _, tag in name_tags(paragraph)}
    labels = [IGNORE_INDEX]
    for start, _ in offsets:
        tag = word_at.get(start)
        labels.append(IGNORE_INDEX if tag is None else tag)
    labels.append(IGNORE_INDEX)
    if not any(t == 1 for t in labels):
        return None
    full, seg = tok.build_inputs(ids)
    return {"ids": full, "segments": seg, "labels": labels}


def _span(tok: WordPieceTokenizer, paragraph: str, start: int, end: int, max_len: int) -> dict | None:
    """``[CLS] quem fala? [SEP] paragraph [SEP]`` with the answer's first and last piece positions."""
    q = tok.encode(QUESTION)
    ids, offsets = tok.encode_with_offsets(paragraph)
    budget = max_len - len(q) - 3
    ids, offsets = ids[:budget], offsets[:budget]
    first = next((i for i, (a, b) in enumerate(offsets) if b > start), None)
    last = max((i for i, (a, b) in enumerate(offsets) if a < end), default=None)
    if first is None or last is None or last < first or offsets[last][1] < end:
        return None  # the answer was cut off
    full, seg = tok.build_inputs(q, ids)
    shift = len(q) + 2
    return {"ids": full, "segments": seg, "start": first + shift, "end": last + shift, "context_from": shift}


def collate(items: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    t = max(len(x["ids"]) for x in items)
    batch = {
        "ids": torch.tensor([x["ids"] + [pad_id] * (t - len(x["ids"])) for x in items]),
        "segments": torch.tensor([x["segments"] + [0] * (t - len(x["segments"])) for x in items]),
    }
    if "label" in items[0]:
        batch["label"] = torch.tensor([x["label"] for x in items])
    if "labels" in items[0]:
        batch["labels"] = torch.tensor([x["labels"] + [IGNORE_INDEX] * (t - len(x["labels"])) for x in items])
    if "start" in items[0]:
        batch["start"] = torch.tensor([x["start"] for x in items])
        batch["end"] = torch.tensor([x["end"] for x in items])
        batch["context_from"] = torch.tensor([x["context_from"] for x in items])
    return batch


def batches(examples: list[dict], batch_size: int, pad_id: int, rng: random.Random | None = None) -> list[dict]:
    order = list(range(len(examples)))
    if rng is not None:
        rng.shuffle(order)
    return [collate([examples[i] for i in order[b : b + batch_size]], pad_id) for b in range(0, len(order), batch_size)]


# ------------------------------------------------------------------------------------ loss and metrics
def task_loss(task: str):
    def loss_fn(model, batch):
        out = model(batch["ids"], batch["segments"]).float()
        if task in ("period", "pairs"):
            loss = F.cross_entropy(out, batch["label"])
        elif task == "names":
            loss = F.cross_entropy(out.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE_INDEX)
        else:
            loss = (F.cross_entropy(out[..., 0], batch["start"]) + F.cross_entropy(out[..., 1], batch["end"])) / 2
        return loss, {"tokens": int((batch["ids"] != PAD_ID).sum())}

    return loss_fn


@torch.no_grad()
def evaluate(task: str, model, eval_batches: list[dict]) -> dict[str, float]:
    """Task metrics; the batches stay on the CPU, only the model's inputs go to its device."""
    model.eval()
    device = next(model.parameters()).device

    def forward(b: dict) -> torch.Tensor:
        return model(b["ids"].to(device), b["segments"].to(device)).float().cpu()

    if task in ("period", "pairs"):
        pred = torch.cat([forward(b).argmax(-1) for b in eval_batches])
        gold = torch.cat([b["label"] for b in eval_batches])
        k = N_LABELS[task]
        f1s = []
        for c in range(k):
            tp = int(((pred == c) & (gold == c)).sum())
            denom = int((pred == c).sum()) + int((gold == c).sum())
            f1s.append(2 * tp / denom if denom else 0.0)
        majority = int(torch.bincount(gold, minlength=k).max()) / len(gold)
        return {"accuracy": float((pred == gold).float().mean()), "macro_f1": sum(f1s) / k, "majority_baseline": majority, "examples": len(gold)}
    if task == "names":
        tp = fp = fn = correct = n = 0
        for b in eval_batches:
            pred = forward(b).argmax(-1)
            keep = b["labels"] != IGNORE_INDEX
            p, g = pred[keep], b["labels"][keep]
            tp += int(((p == 1) & (g == 1)).sum())
            fp += int(((p == 1) & (g == 0)).sum())
            fn += int(((p == 0) & (g == 1)).sum())
            correct += int((p == g).sum())
            n += g.numel()
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        return {"f1": f1, "precision": precision, "recall": recall, "accuracy": correct / max(n, 1), "tagged_words": n}
    exact = f1_sum = 0.0
    n = 0
    for b in eval_batches:
        logits = forward(b)
        pos = torch.arange(b["ids"].shape[1])[None, :]
        allowed = (pos >= b["context_from"][:, None]) & (b["ids"] != PAD_ID) & (b["ids"] != SEP_ID)  # paragraph pieces only
        spans = best_spans(logits, allowed)
        for (ps, pe), gs, ge in zip(spans.tolist(), b["start"].tolist(), b["end"].tolist()):
            exact += float(ps == gs and pe == ge)
            overlap = max(0, min(pe, ge) - max(ps, gs) + 1)
            if overlap:
                prec, rec = overlap / (pe - ps + 1), overlap / (ge - gs + 1)
                f1_sum += 2 * prec * rec / (prec + rec)
            n += 1
    return {"exact_match": exact / max(n, 1), "token_f1": f1_sum / max(n, 1), "examples": n}


# ------------------------------------------------------------------------------------ run
def load_pretrained(name_or_path: str) -> tuple[BertBase, WordPieceTokenizer, Path]:
    from transmodal.hub import load_as

    model, path = load_as(name_or_path, "bert", "a masked-LM BERT (fine-tuning starts from one)")
    return model, WordPieceTokenizer.load(path), path


def run(recipe: BertFinetuneRecipe) -> dict:
    """Fine-tune (pre-trained and/or scratch), evaluate on the test works, write ``report.json``."""
    if recipe.task not in TASKS:
        raise ValueError(f"task={recipe.task!r}: choose one of {', '.join(TASKS)}")
    if recipe.init not in ("pretrained", "scratch", "both"):
        raise ValueError(f"init={recipe.init!r}: choose pretrained, scratch or both")
    out = start_run(recipe.out, recipe.threads)
    pretrained, tok, source = load_pretrained(recipe.pretrained)
    max_len = min(recipe.max_len, pretrained.config.max_len)

    splits = split_works(read_works(), seed=0)
    data = {name: build_examples(recipe.task, splits[name], tok, max_len, random.Random(recipe.seed + i))
            for i, name in enumerate(("train", "valid", "test"))}
    random.Random(recipe.seed).shuffle(data["train"])
    if recipe.limit_train:
        data["train"] = data["train"][: recipe.limit_train]
    if not data["train"] or not data["test"]:
        raise ValueError(f"task {recipe.task!r} produced no training or test examples; check the corpus")
    valid_batches = batches(data["valid"][: recipe.eval_examples], recipe.batch_size, tok.pad_id)
    test_batches = batches(data["test"], recipe.batch_size, tok.pad_id)
    head = HEADS[recipe.task]
    metric = MAIN_METRIC[recipe.task]

    results = {}
    inits = ["pretrained", "scratch"] if recipe.init == "both" else [recipe.init]
    for init in inits:
        torch.manual_seed(recipe.seed)
        if init == "pretrained":
            model = head.from_pretrained(pretrained, n_labels=N_LABELS[recipe.task])
        else:
            model = head(replace(pretrained.config, n_labels=N_LABELS[recipe.task]))
        lr = recipe.scratch_lr if init == "scratch" and recipe.scratch_lr else recipe.lr
        run_dir = out / init
        train_cfg = TrainConfig(
            out_dir=str(run_dir), max_steps=recipe.max_steps, lr=lr, schedule="cosine", warmup_steps=recipe.warmup,
            weight_decay=recipe.weight_decay, betas=(0.9, 0.999), eps=1e-6, grad_clip=1.0, eval_every=recipe.eval_every,
            save_every=recipe.eval_every, log_every=10, seed=recipe.seed, progress=recipe.progress,
            keep_best_metric=metric, keep_best_mode="max",
        )
        trainer = Trainer(
            model, train_cfg,
            train_batches=lambda epoch: batches(data["train"], recipe.batch_size, tok.pad_id, random.Random(recipe.seed * 100003 + epoch)),
            loss_fn=task_loss(recipe.task),
            eval_fn=lambda m: evaluate(recipe.task, m, valid_batches) if valid_batches else {metric: 0.0},
            extra_files={WordPieceTokenizer.FILENAME: tok.to_json()},
        )
        best, seconds, summary = fit_and_load_best(trainer, model, run_dir)
        if best is None:
            continue  # another rank of a torchrun job: it still takes part in the next init's fit
        test = evaluate(recipe.task, best, test_batches)
        results[init] = {k: round(v, 4) if isinstance(v, float) else v for k, v in test.items()} | {
            "lr": lr, "train_seconds_this_run": round(seconds, 1), "train_seconds_total": summary.get("elapsed_s")}
    if not results:
        return {}  # another rank of a torchrun job

    report = {
        "recipe": asdict(recipe),
        "pretrained_from": str(source),
        "model_config": asdict(replace(pretrained.config, n_labels=N_LABELS[recipe.task])),
        "examples": {k: len(v) for k, v in data.items()},
        "main_metric": metric,
        "test": results,
    }
    if len(results) == 2:
        report["pretraining_gain"] = round(results["pretrained"][metric] - results["scratch"][metric], 4)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report

"""Recipe: pre-train BERT by masked-token prediction on Machado de Assis, evaluated on held-out works.

    transmodal train bert-pretrain --out runs/machado-bert [--model small] [--max-steps 20000]

Data: ``$TRANSMODAL_DATA/machado/machado.txt``, split by *work* (:func:`transmodal.text.machado.split_works`:
whole stories are held out for validation and test). A lower-cased WordPiece vocabulary (accents
kept) is learned on the training works only.

Sequences: each work's paragraphs are tokenised and concatenated; every epoch cuts each work's stream
into windows of ``max_len - 3`` pieces at a fresh random offset, splits each window at a random point
into segments A and B, and reads ``[CLS] A [SEP] B [SEP]`` (segment ids 0 / 1, so the segment
embeddings are trained too; there is no next-sentence objective). Masking
(:mod:`transmodal.text.masking`) is redrawn for every batch: 15 % of the pieces are chosen, of those
80 % → [MASK], 10 % → a random piece, 10 % unchanged; the loss is the cross-entropy over all chosen
pieces.

Report (``report.json``): on every test work, accuracy of the top prediction at all chosen positions
and at the [MASK] positions alone, cross-entropy and perplexity over chosen positions; the training
time and throughput; and a few fill-mask examples from the test works.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict

import torch
import torch.nn.functional as F

from transmodal.recipes.common import build_once, fit_and_load_best, start_run
from transmodal.models.bert import BertForMaskedLM, config
from transmodal.recipes.bert_pretrain_config import BertPretrainRecipe
from transmodal.text.machado import Work, read_works, split_works
from transmodal.text.masking import IGNORE_INDEX, MaskingSpec, mask_tokens
from transmodal.text.wordpiece import WordPieceTokenizer, train_wordpiece
from transmodal.train import Trainer, TrainConfig


def work_streams(works: list[Work], tok: WordPieceTokenizer) -> list[list[int]]:
    """One list of piece ids per work: its paragraphs tokenised and concatenated."""
    return [[i for ids in tok.encode_batch(w.paragraphs) for i in ids] for w in works]


def make_sequences(streams: list[list[int]], tok: WordPieceTokenizer, max_len: int, rng: random.Random) -> list[tuple[list[int], list[int]]]:
    """Cut every stream into ``[CLS] A [SEP] B [SEP]`` sequences of ≤ max_len pieces (random offset and A/B split)."""
    body = max_len - 3
    out = []
    for stream in streams:
        if len(stream) < 2:
            continue
        start = rng.randrange(min(body, len(stream) - 1))  # a fresh cut every epoch
        for s in range(start, len(stream) - 1, body):
            window = stream[s : s + body]
            if len(window) < 8 and s > 0:
                continue
            cut = rng.randint(1, len(window) - 1)
            out.append(tok.build_inputs(window[:cut], window[cut:]))
    rng.shuffle(out)
    return out


def pad(seqs: list[list[int]], value: int) -> torch.Tensor:
    out = torch.full((len(seqs), max(map(len, seqs))), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def masked_batches(sequences, batch_size: int, spec: MaskingSpec, pad_id: int, generator: torch.Generator, drop_last: bool = True):
    """Yield {"ids", "segments", "labels"} batches with freshly drawn masks."""
    stop = len(sequences) - (len(sequences) % batch_size if drop_last else 0)
    for b in range(0, stop, batch_size):
        chunk = sequences[b : b + batch_size]
        ids, segments = pad([s for s, _ in chunk], pad_id), pad([g for _, g in chunk], 0)
        inputs, labels = mask_tokens(ids, spec, generator)
        yield {"ids": inputs, "segments": segments, "labels": labels, "original": ids}


def mlm_loss(model, batch):
    """Cross-entropy over the chosen positions only (the model projects just those to the vocabulary)."""
    select = batch["labels"] != IGNORE_INDEX
    logits = model(batch["ids"], batch["segments"], select)
    loss = F.cross_entropy(logits.float(), batch["labels"][select])
    return loss, {"tokens": int((batch["original"] != 0).sum()), "chosen": int(select.sum())}


@torch.no_grad()
def evaluate_mlm(model, batches, mask_id: int) -> dict[str, float]:
    """Accuracy at chosen / [MASK] positions, mean cross-entropy and perplexity over chosen positions."""
    model.eval()
    device = next(model.parameters()).device
    n = n_masked = correct = correct_masked = 0
    nll = 0.0
    for batch in batches:  # the batches stay on the CPU; only the model's inputs go to its device
        select = batch["labels"] != IGNORE_INDEX
        if not bool(select.any()):
            continue
        logits = model(batch["ids"].to(device), batch["segments"].to(device), select.to(device)).float().cpu()
        target = batch["labels"][select]
        hit = logits.argmax(-1) == target
        was_mask = batch["ids"][select] == mask_id
        nll += float(F.cross_entropy(logits, target, reduction="sum"))
        n += target.numel()
        correct += int(hit.sum())
        n_masked += int(was_mask.sum())
        correct_masked += int((hit & was_mask).sum())
    if n == 0:
        raise ValueError("no masked positions to evaluate; the evaluation text is empty")
    return {
        "accuracy": correct / n,
        "mask_accuracy": correct_masked / max(n_masked, 1),
        "mlm_loss": nll / n,
        "mlm_perplexity": math.exp(nll / n),
        "chosen": n,
    }


def fill_mask(model, tok: WordPieceTokenizer, text: str, top: int = 5) -> list[list[tuple[str, float]]]:
    """For each [MASK] in ``text``: the ``top`` most probable pieces with their probabilities."""
    ids, segments = tok.build_inputs(tok.encode(text), max_len=model.config.max_len)
    device = next(model.parameters()).device
    ids_t = torch.tensor([ids], device=device)
    select = ids_t == tok.mask_id
    if not bool(select.any()):
        raise ValueError(f"no [MASK] in {text!r}: write [MASK] where a word should be guessed")
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(ids_t, torch.tensor([segments], device=device), select).float(), dim=-1).cpu()
    probs[:, : tok.n_special] = 0.0  # a special token is never a word
    values, index = probs.topk(top, dim=-1)
    return [[(tok.id_to_token(int(i)), float(v)) for v, i in zip(vs, ix)] for vs, ix in zip(values, index)]


def run(recipe: BertPretrainRecipe) -> dict:
    """Train, evaluate on the held-out test works, and write ``report.json`` in ``recipe.out``."""
    out = start_run(recipe.out, recipe.threads)
    splits = split_works(read_works(), seed=0)
    train_works = splits["train"][: recipe.limit_works] if recipe.limit_works else splits["train"]

    tok = build_once(
        out / WordPieceTokenizer.FILENAME,
        lambda path: train_wordpiece((p for w in train_works for p in w.paragraphs), recipe.vocab_size).save(path),
        WordPieceTokenizer.load,
    )
    spec = MaskingSpec(tok.mask_id, tok.vocab_size, tok.n_special, select_prob=recipe.select_prob)

    train_streams = work_streams(train_works, tok)
    valid_seqs = make_sequences(work_streams(splits["valid"], tok), tok, recipe.max_len, random.Random(1))[: recipe.eval_sequences]
    valid_batches = list(masked_batches(valid_seqs, recipe.batch_size, spec, tok.pad_id, torch.Generator().manual_seed(2), drop_last=False))

    cfg = config(recipe.model, vocab_size=tok.vocab_size, max_len=recipe.max_len, dropout=recipe.dropout, attn_dropout=recipe.dropout)
    torch.manual_seed(recipe.seed)
    model = BertForMaskedLM(cfg)

    def train_batches(epoch: int):
        seqs = make_sequences(train_streams, tok, recipe.max_len, random.Random(recipe.seed * 100003 + epoch))
        gen = torch.Generator().manual_seed(recipe.seed * 100003 + epoch)
        return masked_batches(seqs, recipe.batch_size, spec, tok.pad_id, gen)

    train_cfg = TrainConfig(
        out_dir=str(out), max_steps=recipe.max_steps, lr=recipe.lr, schedule="cosine", warmup_steps=recipe.warmup,
        weight_decay=recipe.weight_decay, betas=(0.9, 0.999), eps=1e-6, grad_clip=1.0, eval_every=recipe.eval_every,
        save_every=recipe.save_every, log_every=10, seed=recipe.seed, progress=recipe.progress,
        keep_best_metric="accuracy", keep_best_mode="max",
    )
    trainer = Trainer(
        model, train_cfg, train_batches=train_batches, loss_fn=mlm_loss,
        eval_fn=lambda m: evaluate_mlm(m, valid_batches, tok.mask_id),
        extra_files={WordPieceTokenizer.FILENAME: tok.to_json()},
    )
    best, train_seconds, summary = fit_and_load_best(trainer, model, out)
    if best is None:
        return {}  # another rank of a torchrun job
    test_seqs = make_sequences(work_streams(splits["test"], tok), tok, recipe.max_len, random.Random(3))
    test_batches = masked_batches(test_seqs, recipe.batch_size, spec, tok.pad_id, torch.Generator().manual_seed(4), drop_last=False)
    t = time.time()
    test = evaluate_mlm(best, test_batches, tok.mask_id)
    examples = []
    for w in splits["test"][:5]:
        words = next((p.split() for p in w.paragraphs if 8 <= len(p.split()) <= 40), None)
        if words:
            k = len(words) // 2
            masked = " ".join(words[:k] + ["[MASK]"] + words[k + 1 :])
            examples.append({"text": masked, "original": words[k], "predictions": fill_mask(best, tok, masked, top=5)[0]})
    records = [r for r in trainer.metrics.records if "tokens_per_s" in r] if trainer.metrics else []
    report = {
        "recipe": asdict(recipe),
        "model_config": asdict(best.config),
        "parameters": sum(p.numel() for p in best.parameters()),
        "works": {k: len(v) for k, v in splits.items()} | {"train_used": len(train_works)},
        "train_pieces": sum(map(len, train_streams)),
        "test_works": [w.name for w in splits["test"]],
        "train_seconds_this_run": round(train_seconds, 1),
        "train_seconds_total": summary.get("elapsed_s"),
        "train_tokens_per_s": round(sum(r["tokens_per_s"] for r in records) / len(records), 1) if records else None,
        "threads": torch.get_num_threads(),
        "test": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in test.items()} | {"seconds": round(time.time() - t, 1)},
        "fill_mask_examples": examples,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report

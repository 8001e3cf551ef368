r"""Recipe: pre-train a GPT on Machado de Assis; perplexity and bits per character on held-out works.

    transmodal train gpt-pretrain --out runs/machado-gpt [--model small] [--max-steps 20000]

Data: ``$TRANSMODAL_DATA/machado/machado.txt`` split by *work* (:func:`transmodal.text.machado.split_works`).
A cased byte-level BPE (:func:`transmodal.text.bytebpe.train_byte_bpe`) is learned on the training
works only, so generated text keeps capitals, accents and line breaks.

Training stream: every training work (paragraphs joined by "\n") and, mixed in, short *prompted
tasks* built from the same training works, each unit followed by </s>; the units are shuffled once and
concatenated. An epoch reads ``len(stream) / context`` windows at random offsets.

Several tasks through the prompt (GPT-2's idea: the task is named in the text itself). Each prompted
unit is written ``"{task}: {input}\n=> {answer}"``:

    continua: <a sentence>                 => <the next sentence of the paragraph>
    quem fala: <a dialogue paragraph>      => <the speaker's name>           (labels: speaker_spans)
    época: <a paragraph>                   => <decade its collection began>  (labels: period_label)

(:mod:`transmodal.text.machado` says how those labels are made.) At test time the model reads
``</s>{task}: {input}\n=>`` from a held-out work and its greedy continuation up to the line break is
compared with the answer. ``task_fraction`` sets the share of training tokens spent on them.

Report (``report.json``): on every test work, evaluated in non-overlapping windows of ``context``
tokens (each token predicted once, the first one after </s>): perplexity per token and bits per
character, ``Σ −log₂ p / number of characters``, which does not depend on the tokenizer; prompted-task
accuracies with their majority baselines; samples; training time and throughput.
"""

from __future__ import annotations

import json
import math
import random
import time
import unicodedata
from collections import Counter
from dataclasses import asdict

import torch
import torch.nn.functional as F

from transmodal.recipes.common import build_once, fit_and_load_best, start_run
from transmodal.models.gpt import GPT, config, generate
from transmodal.recipes.gpt_pretrain_config import GptPretrainRecipe
from transmodal.text import Tokenizer
from transmodal.text.bytebpe import decode_exact, train_byte_bpe
from transmodal.text.machado import PERIODS, Work, period_examples, read_works, sentence_pairs, speaker_examples, split_works
from transmodal.train import Trainer, TrainConfig

TASKS = ("continua", "quem fala", "época")
MAX_INPUT_CHARS = 400


def clip(text: str, limit: int = MAX_INPUT_CHARS) -> str:
    """``text`` cut at the last space before ``limit`` characters (with "…" when cut)."""
    if len(text) <= limit:
        return text
    return text[: text.rfind(" ", 0, limit)].rstrip() + " …"


def prompt_text(task: str, text: str) -> str:
    """The prompt of a task: ``"{task}: {input}\n=>"`` (the answer follows after a space)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return f"{task}: {clip(' '.join(text.split()))}\n=>"


def task_examples(works: list[Work], rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """{task: [(input, answer)]} from ``works`` (non-merged works only; see transmodal.text.machado)."""
    return {
        "continua": [(a, b) for a, b, consecutive in sentence_pairs(works, rng) if consecutive],
        "quem fala": [(p, p[s:e]) for p, s, e in speaker_examples(works)],
        "época": [(p, PERIODS[label]) for p, label in period_examples(works)],
    }


def task_units(examples: dict[str, list[tuple[str, str]]], budget_tokens: int, rng: random.Random, avg_chars_per_token: float = 3.8) -> list[str]:
    """Prompted training texts, an equal share of ``budget_tokens`` (estimated from characters) per task."""
    units = []
    per_task_chars = budget_tokens * avg_chars_per_token / max(len(examples), 1)
    for task, pairs in examples.items():
        pairs = list(pairs)
        rng.shuffle(pairs)
        used = 0.0
        for x, y in pairs:
            if used >= per_task_chars:
                break
            unit = f"{prompt_text(task, x)} {y}"
            units.append(unit)
            used += len(unit)
    return units


def build_stream(texts: list[str], tok: Tokenizer, rng: random.Random | None = None) -> torch.Tensor:
    """Token ids of all ``texts`` (shuffled when ``rng`` is given), each followed by </s>, as one 1-D tensor."""
    texts = list(texts)
    if rng is not None:
        rng.shuffle(texts)
    ids: list[int] = []
    for e in tok.encode_batch(texts):
        ids += e + [tok.eos_id]
    return torch.tensor(ids, dtype=torch.long)


def window_batches(stream: torch.Tensor, context: int, batch_size: int, generator: torch.Generator):
    """Yield (x, y) batches of (batch_size, context) windows at random offsets; y is x shifted by one."""
    n = len(stream) // context
    if len(stream) <= context + 1:
        raise ValueError(f"the training text has {len(stream)} tokens, fewer than one window of {context} + 1")
    starts = torch.randint(0, len(stream) - context - 1, (n,), generator=generator)
    offsets = torch.arange(context + 1)
    for b in range(0, n - n % batch_size, batch_size):
        idx = starts[b : b + batch_size, None] + offsets
        w = stream[idx]
        yield w[:, :-1], w[:, 1:]


def lm_loss(model, batch):
    x, y = batch
    logits = model(x)
    loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
    return loss, {"tokens": x.numel()}


@torch.no_grad()
def evaluate_lm(model, streams: list[torch.Tensor], context: int, batch_size: int = 16) -> tuple[float, int]:
    """(Σ −ln p, number of predicted tokens) over ``streams`` (each starting with </s>), windows of ``context``."""
    model.eval()
    windows: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    for s in streams:
        for a in range(0, len(s) - 1, context):
            x, y = s[a : a + context], s[a + 1 : a + context + 1]
            x = x[: len(y)]
            windows.setdefault(len(y), []).append((x, y))
    nll, n = 0.0, 0
    device = next(model.parameters()).device
    for group in windows.values():
        for b in range(0, len(group), batch_size):
            x = torch.stack([w[0] for w in group[b : b + batch_size]]).to(device)
            y = torch.stack([w[1] for w in group[b : b + batch_size]]).to(device)
            nll += float(F.cross_entropy(model(x).float().flatten(0, 1), y.flatten(), reduction="sum"))
            n += y.numel()
    return nll, n


def work_text(w: Work) -> str:
    return unicodedata.normalize("NFC", w.text)


@torch.no_grad()
def answer(model, tok: Tokenizer, task: str, text: str, max_new_tokens: int = 24) -> str:
    """Greedy answer of the model to a prompted task, up to the first line break."""
    ids = [tok.eos_id] + tok.encode(prompt_text(task, text))
    ids = ids[-(model.config.max_len - max_new_tokens) :]
    out = generate(model, torch.tensor([ids]), max_new_tokens, temperature=0.0, eos_id=tok.eos_id)[0, len(ids) :]
    return decode_exact(tok, out.tolist()).split("\n")[0].strip()


def run(recipe: GptPretrainRecipe) -> dict:
    """Train, evaluate on the held-out test works, and write ``report.json`` in ``recipe.out``."""
    if not 0.0 <= recipe.task_fraction < 1.0:
        raise ValueError(f"task_fraction={recipe.task_fraction} must be in [0, 1)")
    out = start_run(recipe.out, recipe.threads)
    splits = split_works(read_works(), seed=0)
    train_works = splits["train"][: recipe.limit_works] if recipe.limit_works else splits["train"]

    tok = build_once(
        out / Tokenizer.FILENAME,
        lambda path: train_byte_bpe((p + "\n" for w in train_works for p in w.paragraphs), recipe.vocab_size).save(path),
        Tokenizer.load,
    )

    rng = random.Random(recipe.seed)
    plain = [work_text(w) for w in train_works]
    plain_stream = build_stream(plain, tok)
    train_tasks = task_examples(train_works, rng)
    units = []
    if recipe.task_fraction > 0:
        budget = int(len(plain_stream) * recipe.task_fraction / (1 - recipe.task_fraction))
        units = task_units(train_tasks, budget, rng)
    stream = build_stream(plain + units, tok, rng)
    valid = [torch.cat([torch.tensor([tok.eos_id]), build_stream([work_text(w)], tok)]) for w in splits["valid"]]
    valid = [v[: recipe.eval_tokens] for v in valid]

    cfg = config(recipe.model, vocab_size=tok.vocab_size, max_len=recipe.context, dropout=recipe.dropout, positions=recipe.positions,
                 eos_id=tok.eos_id, pad_id=tok.pad_id)
    torch.manual_seed(recipe.seed)
    model = GPT(cfg)

    def evaluate(m) -> dict[str, float]:
        nll, n = evaluate_lm(m, valid, recipe.context)
        return {"loss": nll / n, "perplexity": math.exp(nll / n)}

    train_cfg = TrainConfig(
        out_dir=str(out), max_steps=recipe.max_steps, lr=recipe.lr, schedule="cosine", warmup_steps=recipe.warmup,
        weight_decay=recipe.weight_decay, betas=(0.9, 0.95), eps=1e-8, grad_clip=1.0, eval_every=recipe.eval_every,
        save_every=recipe.save_every, log_every=10, seed=recipe.seed, progress=recipe.progress,
        keep_best_metric="perplexity", keep_best_mode="min",
    )
    trainer = Trainer(
        model, train_cfg,
        train_batches=lambda epoch: window_batches(stream, recipe.context, recipe.batch_size, torch.Generator().manual_seed(recipe.seed * 100003 + epoch)),
        loss_fn=lm_loss, eval_fn=evaluate, extra_files={Tokenizer.FILENAME: tok.to_json()},
    )
    best, train_seconds, summary = fit_and_load_best(trainer, model, out)
    if best is None:
        return {}  # another rank of a torchrun job
    best.to("cpu")  # the test below runs on the CPU: answer() and generate() build their prompts there

    t = time.time()
    texts = [work_text(w) for w in splits["test"]]
    test_streams = [torch.cat([torch.tensor([tok.eos_id]), build_stream([x], tok)[:-1]]) for x in texts]  # </s> text
    nll, n = evaluate_lm(best, test_streams, recipe.context)
    chars = sum(len(x) for x in texts)
    test = {"perplexity": math.exp(nll / n), "bits_per_char": nll / math.log(2) / chars, "nll_per_token": nll / n,
            "tokens": n, "chars": chars, "chars_per_token": chars / n, "seconds": round(time.time() - t, 1)}

    prompted = {}
    eval_rng = random.Random(7)
    test_tasks = task_examples(splits["test"], eval_rng)
    for task in ("quem fala", "época"):
        pairs = test_tasks[task]
        eval_rng.shuffle(pairs)
        pairs = pairs[: recipe.task_eval_examples]
        if not pairs:
            continue
        hits = sum(answer(best, tok, task, x) == y for x, y in pairs)
        majority, _ = Counter(y for _, y in train_tasks[task]).most_common(1)[0]
        prompted[task] = {"accuracy": hits / len(pairs), "examples": len(pairs),
                          "majority_answer": majority, "majority_accuracy": sum(y == majority for _, y in pairs) / len(pairs)}
    gen = torch.Generator().manual_seed(0)
    samples = []
    for x, y in test_tasks["continua"][:2]:
        ids = [tok.eos_id] + tok.encode(prompt_text("continua", x))
        new = generate(best, torch.tensor([ids]), 40, temperature=0.8, top_p=0.95, eos_id=tok.eos_id, generator=gen)[0, len(ids):]
        samples.append({"prompt": prompt_text("continua", x), "reference": y, "generated": decode_exact(tok, new.tolist())})
    for x in texts[:2]:
        start = x.split("\n")[0][:80]
        ids = [tok.eos_id] + tok.encode(start)
        new = generate(best, torch.tensor([ids]), 80, temperature=0.8, top_p=0.95, eos_id=tok.eos_id, generator=gen)[0, len(ids):]
        samples.append({"prompt": start, "generated": decode_exact(tok, new.tolist())})

    records = [r for r in trainer.metrics.records if "tokens_per_s" in r] if trainer.metrics else []
    report = {
        "recipe": asdict(recipe),
        "model_config": asdict(best.config),
        "parameters": sum(p.numel() for p in best.parameters()),
        "works": {k: len(v) for k, v in splits.items()} | {"train_used": len(train_works)},
        "train_tokens": {"plain": len(plain_stream), "with_tasks": len(stream), "task_units": len(units)},
        "test_works": [w.name for w in splits["test"]],
        "train_seconds_this_run": round(train_seconds, 1),
        "train_seconds_total": summary.get("elapsed_s"),
        "train_tokens_per_s": round(sum(r["tokens_per_s"] for r in records) / len(records), 1) if records else None,
        "threads": torch.get_num_threads(),
        "test": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in test.items()},
        "prompted_tasks": prompted,
        "samples": samples,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report

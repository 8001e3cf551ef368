"""Recipe: CLIP — a Vision Transformer and a text transformer trained contrastively on pictures with captions.

    transmodal train clip --data scenes  --out runs/clip-scenes     # drawn shapes; 5 colour×shape pairs never shown
    transmodal train clip --data fashion --out runs/clip-fashion    # Fashion-MNIST, captions from label + pixels

Model: :class:`transmodal.models.clip.CLIP` (ViT image encoder, transformer text encoder, joint space of
``embed_dim``, learned temperature clamped at a logit scale of 100 after each optimiser step). Text: a
BPE vocabulary (:func:`transmodal.text.tokenizers.train_bpe`) learnt from training captions only,
saved as ``tokenizer.json`` beside the weights.

Data (no download):

* ``scenes`` (:mod:`transmodal.vision.scenes`): ``train_size`` pictures of the 15 seen (shape, colour)
  combinations, each epoch with freshly drawn caption variants. Tests: ``eval_size`` pictures of the 5
  **held-out** combinations and ``eval_size`` new pictures of seen ones, classified zero-shot among all
  20 "colour shape" labels; retrieval over the 200 full captions (every shape × colour × size ×
  position, one picture each).
* ``fashion`` (:mod:`transmodal.vision.captions`): the 60,000 training pictures less a fixed 5,000 for
  validation, captions from the class name and measured attributes. Test: zero-shot accuracy on the
  10,000 test pictures with the README's class names put into the prompt templates — no classifier
  head is ever trained; retrieval over the first 1,000 test pictures and their full captions (a
  caption identical to the query's counts as a match).

Model selection: the epoch with the best zero-shot accuracy on the validation pictures (seen
combinations only for scenes — the held-out ones are never looked at before the end).

Report (``out/report.json``): zero-shot accuracies, per-class accuracy, recall@1/5 both ways, final
logit scale, parameters, training time; plots ``similarity_matrix.png`` (cosine similarities of example
pictures and their captions, as the paper's zero-shot figure), ``confusion_matrix.png`` and the
training curves.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from transmodal.models.clip import (
    CLIP, CLIPConfig, clamp_after_each_step, embed_images, embed_texts, retrieval_recall, tokenize, zero_shot_probs,
    zero_shot_weights,
)
from transmodal.models.vit import count_parameters
from transmodal.nn.contrastive import contrastive_loss
from transmodal.recipes.clip_config import ClipRecipe
from transmodal.recipes.common import build_once, fit_and_load_best, split_train_valid, start_run
from transmodal.text.tokenizers import Tokenizer, train_bpe
from transmodal.train import Trainer, TrainConfig, build_optimizer
from transmodal.vision import captions, scenes
from transmodal.vision.augment import random_crop, random_hflip
from transmodal.vision.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist

DATASETS = ("scenes", "fashion")
META_FILE = "clip.json"  # how to prepare pictures + default labels and prompt templates, beside the weights
CONTEXT_LENGTH = 32


@dataclass
class ClipData:
    """One data set made ready for training and evaluation (pictures are uint8 (N, C, H, W))."""

    image_size: int
    channels: int
    background: str  # transmodal.vision.io rule for outside pictures: "dark" (Fashion-MNIST) or "keep"
    classnames: list[str]
    templates: tuple[str, ...]
    train_x: torch.Tensor
    train_caption: Callable[[int, random.Random, bool], str]  # (item, rng, may name the colour) → a caption variant
    valid: tuple[torch.Tensor, torch.Tensor]  # pictures, class ids
    tests: dict[str, tuple[torch.Tensor, torch.Tensor]]  # name → pictures, class ids
    retrieval: tuple[torch.Tensor, list[str]]  # pictures and their full captions
    examples: tuple[torch.Tensor, list[str]]  # a few pictures and captions for the similarity plot
    info: dict = field(default_factory=dict)


def scenes_data(recipe: ClipRecipe) -> ClipData:
    """Drawn scenes: training pictures of seen combinations; fixed-seed test pictures (the same for every run)."""
    if not 0 <= recipe.extra_colour_share < 1:
        raise ValueError(f"--extra-colour-share {recipe.extra_colour_share} must lie in [0, 1)")
    n_extra = round(recipe.train_size * recipe.extra_colour_share)
    train = (scenes.sample_scenes(recipe.train_size - n_extra, "train", seed=recipe.seed)
             + scenes.sample_scenes(n_extra, "extra", seed=recipe.seed + 7))
    names = scenes.labels()
    index = {n: i for i, n in enumerate(names)}

    def labelled(split: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        items = scenes.sample_scenes(n, split, seed)
        return scenes.render(items, seed), torch.tensor([index[s.label] for s in items])

    every = scenes.all_scenes("all")
    every_x = scenes.render(every, 10_003)
    pick = [every.index(scenes.Scene(s, c, z, p)) for s, c, z, p in (
        ("circle", "red", "large", "left"), ("square", "green", "small", "top"), ("triangle", "blue", "large", "centre"),
        ("cross", "yellow", "small", "bottom"), ("circle", "blue", "small", "right"), ("square", "yellow", "large", "left"),
        ("triangle", "red", "small", "top"), ("cross", "purple", "large", "centre"))]  # the 2nd half: held-out pairs
    return ClipData(
        image_size=32, channels=3, background="keep", classnames=names, templates=scenes.TEMPLATES,
        train_x=scenes.render(train, recipe.seed + 1),
        train_caption=lambda i, rng, colour=True: scenes.caption(train[i], rng, colour),
        valid=labelled("train", recipe.valid_size, 10_000),
        tests={"held_out": labelled("held_out", recipe.eval_size, 10_001), "seen": labelled("train", recipe.eval_size, 10_002)},
        retrieval=(every_x, [scenes.caption(s) for s in every]),
        examples=(every_x[pick], [scenes.caption(every[i]) for i in pick]),
        info={"held_out_pairs": [list(p) for p in scenes.HELD_OUT]},
    )


def fashion_data(recipe: ClipRecipe) -> ClipData:
    """Fashion-MNIST with captions from the class name and the pictures' measured attributes."""
    images, labels = load_fashion_mnist("train")
    train_idx, valid_idx = split_train_valid(images.shape[0], recipe.valid_size)
    if recipe.limit:
        train_idx = train_idx[: recipe.limit]
    train_x, train_y = images[train_idx], labels[train_idx]
    names = list(FASHION_MNIST_CLASSES)
    thresholds = captions.fit_thresholds(train_x, train_y, len(names))
    words = captions.attributes(train_x, train_y, thresholds)
    test_x, test_y = load_fashion_mnist("test")
    if recipe.test_limit:
        test_x, test_y = test_x[: recipe.test_limit], test_y[: recipe.test_limit]
    n_ret = min(1000, test_x.shape[0])
    ret_words = captions.attributes(test_x[:n_ret], test_y[:n_ret], thresholds)
    ret_caps = [captions.caption(names[int(k)], w) for k, w in zip(test_y[:n_ret], ret_words)]
    first = [int((test_y == k).nonzero()[0]) for k in range(len(names)) if bool((test_y == k).any())]
    return ClipData(
        image_size=28, channels=1, background="dark", classnames=names, templates=captions.TEMPLATES,
        train_x=train_x[:, None],
        train_caption=lambda i, rng, colour=True: captions.caption(names[int(train_y[i])], words[i], rng),
        valid=(images[valid_idx][:, None], labels[valid_idx]),
        tests={"test": (test_x[:, None], test_y)},
        retrieval=(test_x[:n_ret, None], ret_caps),
        examples=(test_x[first][:, None], [ret_caps[i] if i < n_ret else names[int(test_y[i])] for i in first]),
        info={"attribute_thresholds": {"columns": ["area", "tone", "texture"], "per_class": thresholds.tolist()}},
    )


def to_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0)


def caption_corpus(data: ClipData, seed: int, n: int = 30000) -> list[str]:
    """Training-caption variants (the tokenizer's training text): never a test caption or a zero-shot prompt."""
    rng = random.Random(seed)
    count = data.train_x.shape[0]
    return [data.train_caption(rng.randrange(count), rng) for _ in range(n)]


def epoch_batches(data: ClipData, tok: Tokenizer, recipe: ClipRecipe, epoch: int):
    """Shuffled (pictures, caption ids) batches; captions drawn anew each epoch; randomness seeded by (seed, epoch)."""
    g = torch.Generator().manual_seed(recipe.seed * 1_000_003 + epoch)
    rng = random.Random(recipe.seed * 1_000_003 + epoch)
    order = torch.randperm(data.train_x.shape[0], generator=g)
    for start in range(0, order.shape[0], recipe.batch_size):
        idx = order[start : start + recipe.batch_size]
        x = data.train_x[idx]
        grey = torch.zeros(idx.shape[0], dtype=torch.bool)
        if data.channels == 3 and recipe.grey_share > 0:  # scenes: some pictures in grey, their captions colour-free
            grey = torch.rand(idx.shape[0], generator=g) < recipe.grey_share
            x = torch.where(grey[:, None, None, None], scenes.to_grey(x), x)
        x = to_float(x)
        if recipe.augment and data.background == "dark":  # Fashion-MNIST only: shifts and flips keep every word true
            x = random_hflip(random_crop(x, 2, g), 0.5, g)
        texts = [data.train_caption(int(i), rng, not bool(k)) for i, k in zip(idx, grey)]
        ids = tokenize(tok, texts, CONTEXT_LENGTH)
        yield x, ids


@torch.no_grad()
def zero_shot_eval(model: CLIP, tok: Tokenizer, data: ClipData, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Zero-shot accuracy and confusion matrix (rows: true class) with the data's class names and templates."""
    weights = zero_shot_weights(model, tok, data.classnames, data.templates)
    probs = zero_shot_probs(model, embed_images(model, to_float(images)), weights)
    k = len(data.classnames)
    matrix = torch.bincount(labels * k + probs.argmax(-1), minlength=k * k).view(k, k)
    return {"accuracy": float(matrix.diag().sum()) / max(1, labels.shape[0]), "matrix": matrix}


def build_model(recipe: ClipRecipe, data: ClipData, tok: Tokenizer) -> CLIP:
    patch = recipe.patch_size or (8 if data.image_size == 32 else 4)
    stem = {}
    if recipe.vision_tokens == "conv":  # 3×3 convolutions of stride 2 (then 1) whose strides multiply to the patch size
        strides = [2] * int(math.log2(patch)) if patch & (patch - 1) == 0 else []
        if not strides:
            raise ValueError(f"--vision-tokens conv needs a power-of-two patch size, not {patch}; use --vision-tokens patch")
        strides = ([1] if len(strides) < 3 else []) + strides
        stem = dict(stem_channels=[16 * 2**i for i in range(len(strides))], stem_strides=strides)
    elif recipe.vision_tokens != "patch":
        raise ValueError(f"--vision-tokens {recipe.vision_tokens!r}: choose conv or patch")
    vision = dict(image_size=data.image_size, in_chans=data.channels, tokens=recipe.vision_tokens, patch_size=patch, **stem,
                  d_model=recipe.vision_width, n_layers=recipe.vision_layers, n_heads=recipe.vision_heads,
                  pool="mean", pixel_mean=[0.5], pixel_std=[0.5])
    cfg = CLIPConfig(embed_dim=recipe.embed_dim, vision=vision, vocab_size=tok.vocab_size, context_length=CONTEXT_LENGTH,
                     text_width=recipe.text_width, text_layers=recipe.text_layers, text_heads=recipe.text_heads,
                     text_pool=recipe.text_pool, pad_id=tok.pad_id, eos_id=tok.eos_id)
    torch.manual_seed(recipe.seed)
    return CLIP(cfg)


def plot_similarity(images: torch.Tensor, texts: list[str], sim: torch.Tensor, out: Path, title: str) -> Path:
    """The paper's zero-shot figure: cosine similarity of every caption (rows) with every picture (columns)."""
    import matplotlib.pyplot as plt

    from transmodal.viz import save_figure

    n_t, n_i = sim.shape
    width = 0.9 * n_i + 3.4  # inches: 3.2 for the captions, 0.9 per picture column
    fig = plt.figure(figsize=(width, 0.5 * n_t + 2.0))
    gs = fig.add_gridspec(2, n_i, height_ratios=[0.9, 0.5 * n_t], left=3.2 / width, right=0.99, top=0.91, bottom=0.02,
                          hspace=0.04, wspace=0.04)
    for j in range(n_i):
        ax = fig.add_subplot(gs[0, j])
        img = images[j].permute(1, 2, 0).numpy()
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
        ax.axis("off")
    ax = fig.add_subplot(gs[1, :])
    ax.imshow(sim.numpy(), cmap="viridis", aspect="auto")
    for i in range(n_t):
        for j in range(n_i):
            ax.text(j, i, f"{float(sim[i, j]):.2f}", ha="center", va="center", fontsize=8,
                    color="black" if float(sim[i, j]) > float(sim.mean()) else "white")
    ax.set_xticks([])
    ax.set_yticks(range(n_t), texts, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, out)


def run(recipe: ClipRecipe) -> dict:
    """Train, evaluate zero-shot and retrieval, write ``report.json`` and the plots in ``recipe.out``."""
    if recipe.data not in DATASETS:
        raise ValueError(f"--data {recipe.data!r}: choose one of {DATASETS}")
    if recipe.text_pool not in ("mean", "eos"):
        raise ValueError(f"--text-pool {recipe.text_pool!r}: choose mean or eos")
    out = start_run(recipe.out, recipe.threads)
    data = scenes_data(recipe) if recipe.data == "scenes" else fashion_data(recipe)
    tok = build_once(out / Tokenizer.FILENAME,
                     lambda p: train_bpe(caption_corpus(data, recipe.seed), recipe.vocab_size).save(p), Tokenizer.load)
    model = build_model(recipe, data, tok)
    meta = {"data": recipe.data, "image_size": data.image_size, "channels": data.channels,
            "background": data.background, "labels": data.classnames, "templates": list(data.templates)}

    steps_per_epoch = math.ceil(data.train_x.shape[0] / recipe.batch_size)
    max_steps = recipe.max_steps or recipe.epochs * steps_per_epoch
    eval_every = steps_per_epoch * recipe.eval_every_epochs
    train_cfg = TrainConfig(
        out_dir=str(out), max_steps=max_steps, lr=recipe.lr, schedule="cosine",
        warmup_steps=min(max_steps - 1, recipe.warmup_steps), weight_decay=recipe.weight_decay,
        betas=(0.9, 0.999), eps=1e-8, grad_clip=1.0, eval_every=eval_every, save_every=eval_every, log_every=20,
        seed=recipe.seed, progress=recipe.progress, keep_best_metric="zero_shot", keep_best_mode="max",
    )

    def loss_fn(m, batch):
        x, ids = batch
        img, txt, scale = m(x, ids)
        loss = contrastive_loss(img, txt, scale)
        with torch.no_grad():
            hit = (img @ txt.t()).argmax(-1) == torch.arange(x.shape[0], device=x.device)
        return loss, {"tokens": x.shape[0], "batch_top1": float(hit.float().mean()), "logit_scale": float(scale.detach())}

    optimizer = build_optimizer(model, train_cfg)  # decay spares the model's no_weight_decay() and every vector
    clamp_after_each_step(optimizer, model)  # the logit scale never exceeds 100
    trainer = Trainer(
        model, train_cfg,
        train_batches=lambda epoch: epoch_batches(data, tok, recipe, epoch),
        loss_fn=loss_fn,
        eval_fn=lambda m: {"zero_shot": zero_shot_eval(m, tok, data, *data.valid)["accuracy"]},
        optimizer=optimizer,
        extra_files={Tokenizer.FILENAME: tok.to_json(), META_FILE: json.dumps(meta, indent=2, ensure_ascii=False)},
    )
    best, train_seconds, _ = fit_and_load_best(trainer, model, out)
    if best is None:
        return {}  # another rank of a torchrun job
    return evaluate_and_report(best, tok, data, recipe, out, {
        "steps_this_run": trainer.step, "train_seconds_this_run": round(train_seconds, 1),
        "device": str(trainer.device), "threads": torch.get_num_threads(), "valid_best_zero_shot": trainer.best,
    })


def evaluate_and_report(model: CLIP, tok: Tokenizer, data: ClipData, recipe: ClipRecipe, out: Path, extra: dict) -> dict:
    from transmodal.vision.plot import plot_confusion_matrix

    test = {}
    for name, (x, y) in data.tests.items():
        r = zero_shot_eval(model, tok, data, x, y)
        per_class = (r["matrix"].diag().float() / r["matrix"].sum(1).clamp(min=1)).tolist()
        test[f"zero_shot_{name}"] = round(r["accuracy"], 4)
        test[f"per_class_{name}"] = {c: round(a, 4) for c, a, n in zip(data.classnames, per_class, r["matrix"].sum(1)) if n}
        plot_confusion_matrix(r["matrix"], data.classnames, out / f"confusion_matrix_{name}.png",
                              title=f"CLIP zero-shot, {recipe.data} {name}: {r['accuracy']:.2%}")
    ret_x, ret_caps = data.retrieval
    img = embed_images(model, to_float(ret_x))
    txt = embed_texts(model, tok, ret_caps)
    groups = torch.tensor([{c: i for i, c in enumerate(dict.fromkeys(ret_caps))}[c] for c in ret_caps])
    test["retrieval"] = {k: round(v, 4) for k, v in retrieval_recall(img, txt, (1, 5), groups).items()}
    test["retrieval_pairs"] = len(ret_caps)
    test["retrieval_distinct_captions"] = int(groups.max()) + 1
    ex_x, ex_caps = data.examples
    sim = embed_texts(model, tok, ex_caps) @ embed_images(model, to_float(ex_x)).t()
    plot_similarity(ex_x, ex_caps, sim, out / "similarity_matrix.png",
                    f"CLIP ({recipe.data}): cosine similarity of captions (rows) and pictures (columns)")
    report = {
        "recipe": asdict(recipe),
        "model_config": asdict(model.config),
        "parameters": count_parameters(model),
        "logit_scale": round(float(model.scale().detach()), 3),
        "vocab_size": tok.vocab_size,
        **extra,
        **data.info,
        "test": test,
        "plots": ["similarity_matrix.png", *[f"confusion_matrix_{n}.png" for n in data.tests], "training_curves.png"],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report

"""Recipe: a Vision Transformer classifying Fashion-MNIST.

    transmodal train fashion-vit --out runs/fashion-vit                  # the defaults: the shipped model's run
    transmodal train fashion-vit --out runs/tokens --compare --epochs 5 --batch-size 128 --lr 1e-3 --mix-prob 0
                                                                         # pixel vs patch 4 vs patch 7 vs conv stem

Data: Fashion-MNIST (:mod:`transmodal.vision.datasets`); a fixed random 5,000 of the 60,000 training
images are held out for validation (the best epoch by validation accuracy is kept), the 10,000 test
images are only used once, at the end.

Training: cross-entropy with label smoothing 0.1, AdamW (β = 0.9, 0.999; weight decay 0.05 on weight
matrices only — not on positions, the [class] token, biases or norms), linear warm-up then cosine
decay, gradient clipping at 1, stochastic depth. Augmentation, each image its own draw
(:mod:`transmodal.vision.augment`): random crop with 2 pixels of padding (shifts of up to ±2 px),
horizontal flip, random erasing (p = 0.25); then CutMix or mixup on a share ``mix_prob`` of the batches (default
every batch; 0 turns it off).

Default model ``fashion-conv-m`` (1.9M parameters): a convolutional stem (3×3 convs of 32, 64, 128
channels, strides 1, 2, 2) gives a 7×7 grid of 49 tokens; 6 pre-norm blocks of width 192, 4 heads,
MLP 384, mean pooling, drop path 0.1. The defaults (batch 1024, peak lr 2.8e-3, 147 epochs, mixing on every
batch) are the run that made the shipped ``fashion-vit``: 94.3 % on the test set with test-time augmentation,
93.6 % without (docs/recipes/fashion-vit.md). The long schedule is meant for a GPU.

Test-time augmentation (``tta_shift``, default 1): the prediction is the mean of the class probabilities over the
picture shifted by every (dx, dy) within ±1 px and the same shifts of its mirror image (18 views; mirrors only
when training flipped). The checkpoint's ``labels.json`` records it, so ``transmodal classify`` does the same.
Checkpoint selection uses the plain forward pass; the test set is scored both ways.

Report (``out/report.json``): test accuracy (plain and with test-time augmentation), per-class accuracy,
the confusion matrix (also drawn in ``out/confusion_matrix.png``), parameters, tokens per image, training
time and the activation memory of one training batch (bytes of the tensors autograd keeps for the backward
pass — the part of training memory that depends on the number of tokens; on CUDA also the peak allocated
memory). ``--compare`` trains the four tokenisers (``--compare-models``, default pixels, patch 4, patch 7,
conv stem) with the same options, without test-time augmentation, under ``out/compare/NAME`` and writes the
side-by-side table to ``out/comparison.md`` and ``out/comparison.json``.
"""

from __future__ import annotations

import gc
import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from transmodal.recipes.common import check_init, fashion_mnist_splits, fit_and_load_best, init_from, start_run, to_float
from transmodal.models.vit import VisionTransformer, config, count_parameters
from transmodal.recipes.fashion_vit_config import FashionViTRecipe
from transmodal.train import Trainer, TrainConfig, distributed
from transmodal.vision.augment import mix_batch, random_crop, random_erasing, random_hflip
from transmodal.vision.datasets import FASHION_MNIST_CLASSES

LABELS_FILE = "labels.json"  # class names + the preprocessing rule, saved beside the weights


def tta_options(recipe: FashionViTRecipe) -> dict | None:
    """The keyword arguments of :func:`transmodal.vision.augment.tta_views` for this recipe (None = no TTA)."""
    return None if recipe.tta_shift < 0 else {"shift_by": recipe.tta_shift, "flip": recipe.hflip}


def labels_file(tta: dict | None = None) -> str:
    """``labels.json``: class names, the preprocessing rule, and the test-time augmentation to classify with."""
    return json.dumps({"labels": list(FASHION_MNIST_CLASSES), "background": "dark", "tta": tta}, indent=2)


def epoch_batches(images: torch.Tensor, labels: torch.Tensor, recipe: FashionViTRecipe, epoch: int):
    """Shuffled, augmented batches of one epoch; all randomness from one generator seeded by (seed, epoch)."""
    g = torch.Generator().manual_seed(recipe.seed * 1_000_003 + epoch)
    order = torch.randperm(images.shape[0], generator=g)
    for start in range(0, images.shape[0], recipe.batch_size):
        idx = order[start : start + recipe.batch_size]
        x = to_float(images[idx])
        x = random_crop(x, recipe.crop_padding, g)
        if recipe.hflip:
            x = random_hflip(x, 0.5, g)
        if recipe.erasing > 0:
            x = random_erasing(x, recipe.erasing, g)
        y = labels[idx]
        if recipe.mix_prob > 0:  # labels become (B, K) distributions
            x, y = mix_batch(x, y, len(FASHION_MNIST_CLASSES), recipe.mix_prob, recipe.mixup_alpha, recipe.cutmix_alpha,
                             recipe.cutmix_prob, g)
        yield x, y


@torch.no_grad()
def evaluate(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500, tta: dict | None = None) -> dict:
    """Accuracy and confusion matrix (rows: true class, columns: predicted) of uint8 images; with ``tta`` the
    predictions average the test-time views (:func:`transmodal.models.vit.predict`)."""
    from transmodal.models.vit import predict

    device = next(model.parameters()).device
    k = model.config.num_classes
    matrix = torch.zeros(k, k, dtype=torch.long)
    for start in range(0, images.shape[0], batch_size):
        x = to_float(images[start : start + batch_size]).to(device)
        pred = predict(model, x, batch_size, tta).argmax(-1).cpu()
        matrix += torch.bincount(labels[start : start + batch_size] * k + pred, minlength=k * k).view(k, k)
    total = int(matrix.sum())
    return {"accuracy": float(matrix.diag().sum()) / max(1, total), "matrix": matrix}


def activation_bytes(model, x: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for backward in one training forward pass (parameters excluded)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    was_training = model.training
    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(model(x), y)
    del loss
    model.train(was_training)
    return sum(saved.values())


def run(recipe: FashionViTRecipe) -> dict:
    """Train, evaluate on the test set, write ``report.json`` and ``confusion_matrix.png`` in ``recipe.out``."""
    if not 0 <= recipe.mix_prob <= 1 or not 0 <= recipe.cutmix_prob <= 1 or min(recipe.mixup_alpha, recipe.cutmix_alpha) <= 0:
        raise ValueError(f"mix_prob={recipe.mix_prob} and cutmix_prob={recipe.cutmix_prob} must lie in [0, 1], and "
                         f"mixup_alpha={recipe.mixup_alpha}, cutmix_alpha={recipe.cutmix_alpha} must be > 0")
    if recipe.compare:
        return compare(recipe)
    check_init(recipe.init)
    tta = tta_options(recipe)  # written into labels.json, used on the test set
    out = start_run(recipe.out, recipe.threads)
    images, labels, train_idx, valid_idx, test_x, test_y = fashion_mnist_splits(recipe.valid_size, recipe.limit, recipe.test_limit)
    train_x, train_y = images[train_idx], labels[train_idx]
    valid_x, valid_y = images[valid_idx], labels[valid_idx]

    overrides = {} if recipe.drop_path < 0 else {"drop_path": recipe.drop_path}
    cfg = config(recipe.model, num_classes=len(FASHION_MNIST_CLASSES), **overrides)
    if (cfg.image_size, cfg.in_chans) != (28, 1):
        raise ValueError(f"model {recipe.model!r} reads {cfg.image_size}px images with {cfg.in_chans} channels; Fashion-MNIST needs 28px grey")
    torch.manual_seed(recipe.seed)
    model = VisionTransformer(cfg)
    if recipe.init:
        init_from(model, recipe.init)

    distributed.init_distributed()  # no-op unless launched by torchrun
    steps_per_epoch = math.ceil(train_x.shape[0] / recipe.batch_size)
    max_steps = recipe.max_steps or recipe.epochs * steps_per_epoch
    eval_every = steps_per_epoch * recipe.eval_every_epochs
    has_valid = valid_x.shape[0] > 0
    train_cfg = TrainConfig(
        out_dir=str(out), max_steps=max_steps, lr=recipe.lr, schedule="cosine",
        warmup_steps=min(max_steps - 1, round(recipe.warmup_epochs * steps_per_epoch)), weight_decay=recipe.weight_decay,
        betas=(0.9, 0.999), eps=1e-8, grad_clip=1.0, eval_every=eval_every, save_every=eval_every, log_every=50,
        seed=recipe.seed, progress=recipe.progress,
        keep_best_metric="accuracy" if has_valid else None, keep_best_mode="max",
    )

    def loss_fn(m, batch):
        x, y = batch
        logits = m(x)
        loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)  # y: classes, or (B, K) mixed labels
        hard = y if y.ndim == 1 else y.argmax(-1)  # a mixed picture counts as its larger part
        return loss, {"tokens": x.shape[0], "accuracy": float((logits.argmax(-1) == hard).float().mean())}

    trainer = Trainer(
        model, train_cfg,
        train_batches=lambda epoch: epoch_batches(train_x, train_y, recipe, epoch),
        loss_fn=loss_fn,
        eval_fn=(lambda m: {"accuracy": evaluate(m, valid_x, valid_y)["accuracy"]}) if has_valid else None,
        extra_files={LABELS_FILE: labels_file(tta)},
    )
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(trainer.device)
    best, train_seconds, _ = fit_and_load_best(trainer, model, out)
    if best is None:
        return {}  # another rank of a torchrun job
    plain = evaluate(best, test_x, test_y)
    test = evaluate(best, test_x, test_y, tta=tta) if tta else plain
    matrix = test["matrix"]
    from transmodal.vision.plot import plot_confusion_matrix

    plot_confusion_matrix(matrix, FASHION_MNIST_CLASSES, out / "confusion_matrix.png",
                          title=f"{recipe.model}: test accuracy {test['accuracy']:.2%}"
                          + (" (test-time augmentation)" if tta else ""))
    sample = next(epoch_batches(train_x, train_y, recipe, 0))
    act = activation_bytes(model, sample[0].to(trainer.device), sample[1].to(trainer.device))
    per_class = (matrix.diag().float() / matrix.sum(1).clamp(min=1)).tolist()
    report = {
        "recipe": asdict(recipe),
        "model_config": asdict(cfg),
        "parameters": count_parameters(best),
        "tokens_per_image": best.num_tokens(),
        "images": {"train": int(train_x.shape[0]), "valid": int(valid_x.shape[0]), "test": int(test_x.shape[0])},
        "steps_this_run": trainer.step,
        "train_seconds_this_run": round(train_seconds, 1),
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
        "activation_mib_per_batch": round(act / 2**20, 1),
        "peak_cuda_mib": round(torch.cuda.max_memory_allocated(trainer.device) / 2**20, 1) if trainer.device.type == "cuda" else None,
        "valid_best_accuracy": trainer.best,
        "test": {
            "accuracy": round(test["accuracy"], 4),  # with the test-time augmentation (when tta_shift >= 0)
            "accuracy_plain": round(plain["accuracy"], 4),  # one forward pass per picture
            "tta": tta,
            "per_class": {name: round(a, 4) for name, a in zip(FASHION_MNIST_CLASSES, per_class)},
        },
        "confusion_matrix": matrix.tolist(),
        "plots": ["confusion_matrix.png", "training_curves.png"],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report


def compare(recipe: FashionViTRecipe) -> dict:
    """Train every model of ``recipe.compare_models`` with the same options; table in comparison.md / .json."""
    out = Path(recipe.out)
    names = [n.strip() for n in recipe.compare_models.split(",") if n.strip()]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"compare_models={recipe.compare_models!r}: give distinct configuration names, comma-separated")
    for name in names:
        config(name)  # fail now on an unknown name, not after hours of training
    rows = []
    for name in names:
        report = run(replace(recipe, out=str(out / "compare" / name), model=name, compare=False, tta_shift=-1))
        gc.collect()  # free the last model's tensors (reference cycles) so the next peak-memory figure is its own
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if not report:
            continue  # non-zero rank of a torchrun job
        rows.append({
            "model": name,
            "tokens": report["model_config"]["tokens"],
            "patch_size": report["model_config"]["patch_size"],
            "tokens_per_image": report["tokens_per_image"],
            "parameters": report["parameters"],
            "test_accuracy": report["test"]["accuracy"],
            "train_seconds": report["train_seconds_this_run"],
            "seconds_per_step": round(report["train_seconds_this_run"] / max(1, report["steps_this_run"]), 4),
            "activation_mib_per_batch": report["activation_mib_per_batch"],
            "peak_cuda_mib": report["peak_cuda_mib"],
        })
    if not rows:
        return {}
    lines = [
        f"Tokenisers on Fashion-MNIST: {recipe.epochs} epochs, batch {recipe.batch_size}, same transformer "
        f"(see each compare/NAME/report.json); device {report['device']}.",
        "",
        "| model | tokens | tokens/image | params | test accuracy | training time (s) | s/step | activations/batch (MiB) | peak CUDA (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        how = "pixels" if r["tokens"] == "pixel" else "conv stem" if r["tokens"] == "conv" else f"patch {r['patch_size']}"
        lines.append(f"| {r['model']} | {how} | {r['tokens_per_image']} | {r['parameters']:,} | {r['test_accuracy']:.2%} | "
                     f"{r['train_seconds']:.0f} | {r['seconds_per_step']:.3f} | {r['activation_mib_per_batch']:.1f} | {r['peak_cuda_mib'] or '—'} |")
    (out / "comparison.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "comparison.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return {"test": {"comparison": rows}}

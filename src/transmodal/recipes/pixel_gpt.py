"""Recipe: an autoregressive pixel model (:mod:`transmodal.models.pixel_gpt`) on Fashion-MNIST.

    transmodal train pixel-gpt --out runs/pixel-gpt [--levels 16] [--palette kmeans] [--epochs 20]

Data: Fashion-MNIST training images minus a fixed 2,000 held out for validation; pixels quantised to
``levels`` grey levels (evenly spaced, or a 1-D k-means palette of 200,000 training pixels), raster order.

Training: next-pixel cross-entropy, AdamW (β = 0.9, 0.95; weight decay 0.1 on matrices), linear
warm-up and cosine decay, gradient clipping at 1. The class token is replaced by "no class" for
``class_dropout`` (10 %) of the images, so one model samples unconditionally and by class.

Report (``out/report.json``): test NLL in bits per dimension (per pixel, over the L-level alphabet;
log₂ L is a uniform guess), with the true class token and with "no class"; pictures of unconditional
samples, one row of class-conditional samples per class, and completions of test images from their
top half (original first, then samples).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from transmodal.models.pixel_gpt import PixelGPT, bits_per_dim, config
from transmodal.recipes.common import fashion_mnist_splits, fit_and_load_best, start_run, to_float
from transmodal.recipes.pixel_gpt_config import PixelGPTRecipe
from transmodal.train import Trainer, TrainConfig, distributed
from transmodal.vision.datasets import FASHION_MNIST_CLASSES
from transmodal.vision.quantize import kmeans_palette, quantize, uniform_palette

LABELS_FILE = "labels.json"


def quantize_images(images: torch.Tensor, palette: list[float], chunk: int = 5000) -> torch.Tensor:
    """uint8 (N, H, W) → levels (N, H·W) stored as uint8 (converted to long per batch)."""
    out = [quantize(to_float(images[i : i + chunk]).flatten(1), palette).to(torch.uint8) for i in range(0, images.shape[0], chunk)]
    return torch.cat(out) if out else torch.zeros(0, images[0].numel(), dtype=torch.uint8)


def epoch_batches(pixels: torch.Tensor, labels: torch.Tensor, recipe: PixelGPTRecipe, no_class: int, epoch: int):
    g = torch.Generator().manual_seed(recipe.seed * 1_000_003 + epoch)
    order = torch.randperm(pixels.shape[0], generator=g)
    for start in range(0, pixels.shape[0], recipe.batch_size):
        idx = order[start : start + recipe.batch_size]
        y = labels[idx].clone()
        y[torch.rand(y.shape[0], generator=g) < recipe.class_dropout] = no_class
        yield pixels[idx].long(), y


@torch.no_grad()
def evaluate_bpd(model: PixelGPT, pixels: torch.Tensor, labels: torch.Tensor | None, batch_size: int = 100) -> float:
    """Mean bits/dim over all pixels; ``labels=None`` → every image gets the "no class" token."""
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, pixels.shape[0], batch_size):
        x = pixels[start : start + batch_size].long().to(device)
        y = labels[start : start + batch_size].to(device) if labels is not None else None
        total += float(bits_per_dim(model(x, y), x)) * x.numel()
        count += x.numel()
    return total / max(1, count)


def run(recipe: PixelGPTRecipe) -> dict:
    out = start_run(recipe.out, recipe.threads)
    images, labels, train_idx, valid_idx, test_images, test_labels = fashion_mnist_splits(recipe.valid_size, recipe.limit, recipe.test_limit)

    if recipe.palette == "uniform":
        palette = uniform_palette(recipe.levels)
    elif recipe.palette == "kmeans":
        sample = to_float(images[train_idx[:256]]).flatten()
        palette = [round(v, 6) for v in kmeans_palette(sample, recipe.levels)]
    else:
        raise ValueError(f"palette={recipe.palette!r}: choose 'uniform' or 'kmeans'")
    cfg = config(recipe.model, levels=recipe.levels, palette=palette, num_classes=len(FASHION_MNIST_CLASSES),
                 height=images.shape[1], width=images.shape[2])
    torch.manual_seed(recipe.seed)
    model = PixelGPT(cfg)
    train_pix, train_y = quantize_images(images[train_idx], palette), labels[train_idx]
    valid_pix = quantize_images(images[valid_idx], palette)
    test_pix = quantize_images(test_images, palette)

    distributed.init_distributed()
    steps_per_epoch = math.ceil(train_pix.shape[0] / recipe.batch_size)
    max_steps = recipe.max_steps or recipe.epochs * steps_per_epoch
    has_valid = valid_pix.shape[0] > 0
    train_cfg = TrainConfig(
        out_dir=str(out), max_steps=max_steps, lr=recipe.lr, schedule="cosine", warmup_steps=min(recipe.warmup_steps, max_steps - 1),
        weight_decay=recipe.weight_decay, betas=(0.9, 0.95), eps=1e-8, grad_clip=1.0, eval_every=recipe.eval_every,
        save_every=recipe.eval_every, log_every=50, seed=recipe.seed, progress=recipe.progress,
        keep_best_metric="bpd" if has_valid else None, keep_best_mode="min",
    )

    def loss_fn(m, batch):
        x, y = batch
        logits = m(x, y)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x.reshape(-1))
        return loss, {"tokens": x.numel(), "bpd": float(loss.detach()) / math.log(2.0)}

    labels_json = json.dumps({"labels": list(FASHION_MNIST_CLASSES), "background": "dark"}, indent=2)
    trainer = Trainer(
        model, train_cfg,
        train_batches=lambda epoch: epoch_batches(train_pix, train_y, recipe, model.no_class, epoch),
        loss_fn=loss_fn,
        eval_fn=(lambda m: {"bpd": evaluate_bpd(m, valid_pix, None)}) if has_valid else None,
        extra_files={LABELS_FILE: labels_json},
    )
    best, train_seconds, _ = fit_and_load_best(trainer, model, out)
    if best is None:
        return {}  # another rank of a torchrun job
    test = {
        "bpd_no_class": round(evaluate_bpd(best, test_pix, None), 4),
        "bpd_true_class": round(evaluate_bpd(best, test_pix, test_labels), 4),
        "bpd_uniform_guess": round(math.log2(recipe.levels), 4),
    }
    plots = draw_samples(best, test_pix, recipe, out)
    report = {
        "recipe": asdict(recipe),
        "model_config": asdict(cfg),
        "parameters": sum(p.numel() for p in best.parameters()),
        "images": {"train": int(train_pix.shape[0]), "valid": int(valid_pix.shape[0]), "test": int(test_pix.shape[0])},
        "steps_this_run": trainer.step,
        "train_seconds_this_run": round(train_seconds, 1),
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
        "valid_best_bpd": trainer.best,
        "test": test,
        "plots": plots + ["training_curves.png"],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report


def draw_samples(model: PixelGPT, test_pix: torch.Tensor, recipe: PixelGPTRecipe, out: Path) -> list[str]:
    """samples_unconditional.png, samples_by_class.png (one row per class), completions.png (top half kept)."""
    from transmodal.vision.plot import save_image_grid

    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(recipe.seed)
    kw = dict(temperature=recipe.temperature, top_k=recipe.top_k or None, generator=g)
    s, k = recipe.samples, model.config.num_classes
    uncond = model.render(model.generate(n=s, **kw)).cpu()
    save_image_grid([list(uncond)], out / "samples_unconditional.png")
    by_class = model.render(model.generate(labels=torch.arange(k, device=device).repeat_interleave(s), **kw)).cpu()
    save_image_grid([list(by_class[i * s : (i + 1) * s]) for i in range(k)], out / "samples_by_class.png")
    keep = model.config.height // 2
    originals = test_pix[:4].long().to(device)
    prefix = originals[:, : keep * model.config.width].repeat_interleave(s, dim=0)
    done = model.render(model.generate(prefix=prefix, **kw)).cpu()
    rows = [[model.render(originals[i : i + 1]).cpu()[0]] + list(done[i * s : (i + 1) * s]) for i in range(originals.shape[0])]
    save_image_grid(rows, out / "completions.png", marks=[[keep] * (s + 1)] * len(rows))
    return ["samples_unconditional.png", "samples_by_class.png", "completions.png"]

"""Recipe ``imagine``: one decoder over text and image tokens (:mod:`transmodal.models.mixed_decoder`).

    transmodal train imagine --out runs/imagine [--max-steps 2000] [--classifier fashion-vit] --threads 1

Image tokens: a k-means codebook of ``codes`` (256) centres over the 4×4 patches of ``codebook_images``
training images and of their five edited versions (:mod:`transmodal.vision.image_tokens`); every
28×28 picture becomes 49 codes. The codebook is stored in the model's weights (a buffer).

Training sequences, drawn afresh for every batch from Fashion-MNIST training images (minus a fixed
``valid_size`` held out):

* caption → image (1 − ``edit_share``): ``<bos> a dark ankle boot <boi> codes <eoi>``. The tone word is
  measured from the pixels: the mean grey of the object (pixels > 0.1) is compared with the tertiles of
  its class; the darkest third is "dark", the lightest "light". A dark/light image's caption names its
  tone with probability ``attribute_share``, otherwise (and for the middle third) it is just "a coat",
  so a plain caption means "any tone".
* image + instruction → edited image (``edit_share``): ``<bos> <boi> codes <eoi> mirror it <boi> codes′ <eoi>``,
  the instruction uniform among "make it darker" (grey × ``darker``), "make it lighter" (grey ÷ ``darker``,
  clipped at 1), "mirror it" (horizontal flip), "move it left" / "move it right" (shift by ``shift`` = 4
  pixels, one patch, filling with black). The edit is applied to the pixels and the result quantised.

Loss: cross-entropy on every next token (text, specials and both images of an edit), equally weighted,
padding excluded. AdamW (β = 0.9, 0.95, weight decay on matrices), warm-up then cosine decay,
gradient clipping at 1. Model selection: image-token NLL of ``valid_sequences`` held-out sequences.

Report (``out/report.json``): test NLL of the image tokens (nats per code; the caption's image, and the
edited image given the source and the instruction); the codebook's reconstruction error; images drawn
from "a/an CLASS" prompts classified by the Fashion-MNIST classifier (``--classifier``; its accuracy on
the real and on the quantised test images is given as the ceiling); the object grey of images drawn
from "a dark …" and "a light …" prompts; edit accuracy with greedy decoding (codes equal to the target's,
per-pixel mean absolute error against the edited-then-quantised picture, and the same error for
"do nothing", the source, as the baseline). Pictures: samples_by_class.png, tones.png, edits.png.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from transmodal.models.mixed_decoder import BOI, BOS, EOI, PAD, MixedDecoder, config, draw_images, image_slots
from transmodal.recipes.common import fashion_mnist_splits, fit_and_load_best, start_run, to_float
from transmodal.recipes.mixed_decoder_config import MixedDecoderRecipe
from transmodal.train import Trainer, TrainConfig, load_model
from transmodal.vision.datasets import FASHION_MNIST_CLASSES
from transmodal.vision.image_tokens import fit_codebook, image_patches

NOUNS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
TONES = ("dark", "", "light")  # tiers 0, 1, 2 (the middle third has no word)
INSTRUCTIONS = ("make it darker", "make it lighter", "mirror it", "move it left", "move it right")
FOREGROUND = 0.1  # grey above which a pixel belongs to the object


def caption(label: int, tone: str = "") -> str:
    """"a dark ankle boot", "an ankle boot"."""
    words = ([tone] if tone else []) + [NOUNS[label]]
    return ("an " if words[0][0] in "aeiou" else "a ") + " ".join(words)


def vocabulary() -> list[str]:
    """Every word of the captions and instructions, sorted."""
    texts = [caption(k, t) for k in range(len(NOUNS)) for t in TONES] + list(INSTRUCTIONS)
    return sorted({w for t in texts for w in t.split()})


def apply_edit(images: torch.Tensor, instruction: str, recipe: MixedDecoderRecipe) -> torch.Tensor:
    """Grey images (B, 1, H, W) in [0, 1] → the edited pictures."""
    s = recipe.shift
    if instruction == "make it darker":
        return images * recipe.darker
    if instruction == "make it lighter":
        return (images / recipe.darker).clamp(max=1.0)
    if instruction == "mirror it":
        return images.flip(-1)
    if instruction == "move it left":
        return F.pad(images[..., s:], (0, s))
    if instruction == "move it right":
        return F.pad(images[..., : images.shape[-1] - s], (s, 0))
    raise ValueError(f"unknown instruction {instruction!r}; choose one of {INSTRUCTIONS}")


def object_grey(images: torch.Tensor) -> torch.Tensor:
    """Mean grey of the object pixels (> FOREGROUND) of each image (B, 1, H, W) → (B,)."""
    ink = images > FOREGROUND
    return (images * ink).flatten(1).sum(1) / ink.flatten(1).sum(1).clamp(min=1)


def tone_thresholds(grey: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per class, the 1/3 and 2/3 quantiles of the object grey → (K, 2) (all images' for a class without any)."""
    q = torch.tensor([1 / 3, 2 / 3])
    return torch.stack([torch.quantile(grey[labels == k] if bool((labels == k).any()) else grey, q) for k in range(len(NOUNS))])


def tone_tiers(grey: torch.Tensor, labels: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """0 = dark, 1 = middle, 2 = light, by the image's class thresholds."""
    t = thresholds[labels]
    return (grey > t[:, 0]).long() + (grey > t[:, 1]).long()


class SequenceMaker:
    """Builds padded training/evaluation sequences from images, their codes, labels and tone tiers."""

    def __init__(self, model: MixedDecoder, recipe: MixedDecoderRecipe):
        self.model, self.recipe = model, recipe
        self.captions = {(k, t): model.text_ids(caption(k, TONES[t])) for k in range(len(NOUNS)) for t in range(3)}
        self.instructions = [model.text_ids(i) for i in INSTRUCTIONS]

    def __call__(self, images: torch.Tensor, codes: torch.Tensor, labels: torch.Tensor, tiers: torch.Tensor,
                 g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images (B, H, W), codes (B, 49) → (ids (B, T) padded with <pad>, task (B,): −1 caption, i = instruction i)."""
        r, b = self.recipe, images.shape[0]
        edit = torch.rand(b, generator=g) < r.edit_share
        task = torch.where(edit, torch.randint(len(INSTRUCTIONS), (b,), generator=g), torch.full((b,), -1))
        named = torch.rand(b, generator=g) < r.attribute_share
        targets: dict[int, torch.Tensor] = {}
        for i, instruction in enumerate(INSTRUCTIONS):
            rows = torch.nonzero(task == i).flatten()
            if rows.numel():
                targets[i] = self.model.encode_images(apply_edit(to_float(images[rows]), instruction, r)).cpu()
        off = self.model.code_offset
        seqs, seen = [], {i: 0 for i in targets}
        for j in range(b):
            src = (codes[j].long() + off).tolist()
            i = int(task[j])
            if i < 0:
                tier = int(tiers[j]) if bool(named[j]) else 1
                seqs.append([BOS, *self.captions[(int(labels[j]), tier)], BOI, *src, EOI])
            else:
                tgt = (targets[i][seen[i]] + off).tolist()
                seen[i] += 1
                seqs.append([BOS, BOI, *src, EOI, *self.instructions[i], BOI, *tgt, EOI])
        width = max(len(s) for s in seqs)
        ids = torch.full((b, width), PAD, dtype=torch.long)
        for j, s in enumerate(seqs):
            ids[j, : len(s)] = torch.tensor(s)
        return ids, task


def sequence_loss(model, ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of every next token except padding."""
    logits = model(ids[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1), ignore_index=PAD)


def last_image_mask(ids: torch.Tensor, n_image: int) -> torch.Tensor:
    """(B, T) True at the codes of each row's last image (the one a task asks for)."""
    boi = (ids == BOI).long()
    in_last = boi.cumsum(1) == boi.sum(1, keepdim=True)
    return in_last & (image_slots(ids, n_image) > 0)


@torch.no_grad()
def image_nll(model: MixedDecoder, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """Mean −ln p of the codes of the requested image (nats per code): overall, caption → image, edits."""
    model.eval()
    device = next(model.parameters()).device
    sums = {"caption": [0.0, 0], "edit": [0.0, 0]}
    for ids, task in batches:
        ids = ids.to(device)
        logits = model(ids[:, :-1]).float()
        nll = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")  # (B, T−1)
        mask = last_image_mask(ids, model.n_image)[:, 1:]
        for kind, rows in (("caption", task < 0), ("edit", task >= 0)):
            m = mask & rows.to(device)[:, None]
            sums[kind][0] += float(nll[m].sum())
            sums[kind][1] += int(m.sum())
    total = sum(s for s, _ in sums.values()) / max(1, sum(n for _, n in sums.values()))
    return {"image_nll": total, **{f"{k}_image_nll": s / max(1, n) for k, (s, n) in sums.items()}}


def fixed_batches(make: SequenceMaker, images, codes, labels, tiers, seed: int, batch_size: int = 128):
    g = torch.Generator().manual_seed(seed)
    return [make(images[i : i + batch_size], codes[i : i + batch_size], labels[i : i + batch_size], tiers[i : i + batch_size], g)
            for i in range(0, images.shape[0], batch_size)]


def encode_all(model: MixedDecoder, images: torch.Tensor, chunk: int = 5000) -> torch.Tensor:
    """uint8 (N, H, W) → codes (N, 49) int16."""
    out = [model.encode_images(to_float(images[i : i + chunk])).to(torch.int16).cpu() for i in range(0, images.shape[0], chunk)]
    return torch.cat(out)


def build_codebook(images: torch.Tensor, recipe: MixedDecoderRecipe, patch: int) -> torch.Tensor:
    """k-means centres of the patches of ``images`` (uint8) and of their edited versions."""
    x = to_float(images)
    versions = [x] + [apply_edit(x, i, recipe) for i in INSTRUCTIONS]
    patches = torch.cat([image_patches(v, patch) for v in versions])
    return fit_codebook(patches, recipe.codes, recipe.kmeans_iters, recipe.seed)


def run(recipe: MixedDecoderRecipe) -> dict:
    out = start_run(recipe.out, recipe.threads)
    load_fashion_classifier(recipe.classifier)  # fail before training, not after (loaded again at the end: it may be newer)
    images, labels, train_idx, valid_idx, test_images, test_labels = fashion_mnist_splits(recipe.valid_size, recipe.limit, recipe.test_limit)

    t0 = time.time()
    if recipe.evaluate_only:
        if not (out / "best" / "config.json").is_file():
            raise ValueError(f"--evaluate-only: {out / 'best'} holds no model; train first")
        model = load_model(out / "best")
        if model.arch != "mixed_decoder":
            raise ValueError(f"{out / 'best'} holds a {model.arch!r} model, not a text+image decoder")
        cfg = model.config
    else:
        cfg = config(recipe.model, words=vocabulary(), codes=recipe.codes)
        torch.manual_seed(recipe.seed)
        model = MixedDecoder(cfg)
        g = torch.Generator().manual_seed(recipe.seed)
        sample = train_idx[torch.randperm(train_idx.numel(), generator=g)[: recipe.codebook_images]]
        model.codebook.copy_(build_codebook(images[sample], recipe, cfg.patch))
    codebook_seconds = time.time() - t0

    train_x, train_y = images[train_idx], labels[train_idx]
    valid_x, valid_y = images[valid_idx], labels[valid_idx]
    grey = object_grey(to_float(train_x))
    thresholds = tone_thresholds(grey, train_y)
    train_tiers = tone_tiers(grey, train_y, thresholds)
    train_codes = encode_all(model, train_x) if not recipe.evaluate_only else None
    make = SequenceMaker(model, recipe)
    n_valid = min(recipe.valid_sequences, valid_x.shape[0])
    valid_batches = fixed_batches(make, valid_x[:n_valid], encode_all(model, valid_x[:n_valid]), valid_y[:n_valid],
                                  tone_tiers(object_grey(to_float(valid_x[:n_valid])), valid_y[:n_valid], thresholds), recipe.seed + 1)

    def epoch_batches(epoch: int):
        eg = torch.Generator().manual_seed(recipe.seed * 1_000_003 + epoch)
        order = torch.randperm(train_x.shape[0], generator=eg)
        for start in range(0, order.numel() - recipe.batch_size + 1, recipe.batch_size):
            idx = order[start : start + recipe.batch_size]
            yield make(train_x[idx], train_codes[idx], train_y[idx], train_tiers[idx], eg)[0]

    def loss_fn(m, ids):
        loss = sequence_loss(m, ids)
        return loss, {"tokens": int((ids[:, 1:] != PAD).sum())}

    has_valid = n_valid > 0
    train_cfg = TrainConfig(
        out_dir=str(out), max_steps=recipe.max_steps, lr=recipe.lr, schedule="cosine",
        warmup_steps=min(recipe.warmup_steps, recipe.max_steps - 1), weight_decay=recipe.weight_decay,
        betas=(0.9, 0.95), eps=1e-8, grad_clip=1.0, eval_every=recipe.eval_every, save_every=recipe.eval_every,
        log_every=25, seed=recipe.seed, progress=recipe.progress,
        keep_best_metric="image_nll" if has_valid else None, keep_best_mode="min",
    )
    trainer = Trainer(model, train_cfg, train_batches=epoch_batches, loss_fn=loss_fn,
                      eval_fn=(lambda m: image_nll(m, valid_batches)) if has_valid else None)
    if recipe.evaluate_only:  # nothing to fit: test the checkpoint checked above
        best, train_seconds = load_model(out / "best"), 0.0
    else:
        best, train_seconds, _ = fit_and_load_best(trainer, model, out)
        if best is None:
            return {}  # another rank of a torchrun job
    best.to("cpu")
    test_grey = object_grey(to_float(test_images))
    test_tiers = tone_tiers(test_grey, test_labels, thresholds)
    test_codes = encode_all(best, test_images)
    test_batches = fixed_batches(SequenceMaker(best, recipe), test_images, test_codes, test_labels, test_tiers, recipe.seed + 2)
    report = {
        "recipe": asdict(recipe),
        "model_config": asdict(cfg),
        "parameters": sum(p.numel() for p in best.parameters()),
        "images": {"train": int(train_x.shape[0]), "valid_scored": n_valid, "test": int(test_images.shape[0])},
        "steps_this_run": trainer.step,
        "train_seconds_this_run": round(train_seconds, 1),
        "codebook_seconds": round(codebook_seconds, 1),
        "threads": torch.get_num_threads(),
        "valid_best_image_nll": trainer.best,
        "tone_thresholds": {NOUNS[k]: [round(float(v), 4) for v in thresholds[k]] for k in range(len(NOUNS))},
        "test": {
            **{k: round(v, 4) for k, v in image_nll(best, test_batches).items()},
            "uniform_guess_nll": round(math.log(recipe.codes), 4),
            "reconstruction_mae": round(float((best.decode_codes(test_codes.long()) - to_float(test_images)).abs().mean()), 4),
        },
    }
    classifier = load_fashion_classifier(recipe.classifier)
    report["test"].update(evaluate_generation(best, classifier, test_images, test_labels, test_codes, recipe))
    report["plots"] = draw_pictures(best, test_images, test_codes, recipe, out) + ["training_curves.png"]
    previous = out / "report.json"
    if recipe.evaluate_only and previous.is_file():  # keep the figures of the training run
        old = json.loads(previous.read_text(encoding="utf-8"))
        for key in ("steps_this_run", "train_seconds_this_run", "codebook_seconds", "valid_best_image_nll"):
            report[key] = old.get(key, report[key])
    previous.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report


# ---------------------------------------------------------------------------------------- evaluation
def load_fashion_classifier(name: str):
    """(ViT, index map to Fashion-MNIST label ids) or None for "none"."""
    if name.lower() == "none":
        return None
    from transmodal.commands.classify import load_classifier

    try:
        model, names, _, _ = load_classifier(name)
    except ValueError as e:
        raise ValueError(f"--classifier {name!r}: {e}. Give a Fashion-MNIST ViT checkpoint directory, or 'none' to skip "
                         "the classifier check") from e
    if sorted(names) != sorted(FASHION_MNIST_CLASSES):
        raise ValueError(f"--classifier {name!r} predicts {names}, not the Fashion-MNIST classes")
    return model.eval(), torch.tensor([FASHION_MNIST_CLASSES.index(n) for n in names])


def classify(classifier, images: torch.Tensor) -> torch.Tensor:
    """Fashion-MNIST label ids of images (B, 1, 28, 28) in [0, 1]."""
    from transmodal.models.vit import predict

    model, index = classifier
    return index[predict(model, images.float(), 250).argmax(-1)]


@torch.no_grad()
def evaluate_generation(model: MixedDecoder, classifier, test_images, test_labels, test_codes, recipe) -> dict:
    g = torch.Generator().manual_seed(recipe.seed)
    kw = dict(temperature=recipe.temperature, top_k=recipe.top_k or None, generator=g)
    k = len(NOUNS)
    result: dict = {}
    drawn = []
    for label in range(k):
        prompt = torch.tensor([model.caption_prompt(caption(label))]).expand(recipe.samples_per_class, -1)
        drawn.append(model.decode_codes(draw_images(model, prompt, **kw)))
    drawn = torch.cat(drawn)
    wanted = torch.arange(k).repeat_interleave(recipe.samples_per_class)
    tones = {}
    for tone in ("dark", "light"):
        imgs = [model.decode_codes(draw_images(model, torch.tensor([model.caption_prompt(caption(label, tone))]).expand(recipe.tone_samples, -1), **kw))
                for label in range(k)]
        tones[tone] = torch.cat(imgs)
    plain_grey = object_grey(drawn)
    result["object_grey"] = {
        "plain_prompt": round(float(plain_grey.mean()), 4),
        **{f"{t}_prompt": round(float(object_grey(v).mean()), 4) for t, v in tones.items()},
        "dark_below_light_same_class": round(float(
            (object_grey(tones["dark"]).view(k, -1).mean(1) < object_grey(tones["light"]).view(k, -1).mean(1)).float().mean()), 4),
    }
    if classifier is not None:
        pred = classify(classifier, drawn)
        per_class = [(pred[wanted == c] == c).float().mean().item() for c in range(k)]
        tone_wanted = torch.arange(k).repeat_interleave(recipe.tone_samples)
        real = classify(classifier, to_float(test_images))
        recon = classify(classifier, model.decode_codes(test_codes.long()))
        result["classifier"] = {
            "name": recipe.classifier,
            "accuracy_on_real_test_images": round(float((real == test_labels).float().mean()), 4),
            "accuracy_on_quantised_test_images": round(float((recon == test_labels).float().mean()), 4),
            "generated_accuracy": round(float((pred == wanted).float().mean()), 4),
            "generated_per_class": {NOUNS[c]: round(a, 4) for c, a in enumerate(per_class)},
            "generated_accuracy_tone_prompts": round(float(torch.cat([classify(classifier, v) for v in tones.values()])
                                                     .eq(tone_wanted.repeat(2)).float().mean()), 4),
        }
    result["edits"] = evaluate_edits(model, test_images, test_codes, recipe)
    return result


@torch.no_grad()
def evaluate_edits(model: MixedDecoder, test_images, test_codes, recipe) -> dict:
    """Greedy edits of the first ``edit_images`` test images, per instruction, against the quantised edited picture."""
    n = min(recipe.edit_images, test_images.shape[0])
    x, src = to_float(test_images[:n]), test_codes[:n].long()
    src_img = model.decode_codes(src)
    out = {}
    for instruction in INSTRUCTIONS:
        target = model.encode_images(apply_edit(x, instruction, recipe))
        target_img = model.decode_codes(target)
        got = draw_images(model, model.edit_prompt(src, instruction), temperature=0.0)
        out[instruction] = {
            "code_accuracy": round(float((got == target).float().mean()), 4),
            "pixel_mae": round(float((model.decode_codes(got) - target_img).abs().mean()), 4),
            "pixel_mae_do_nothing": round(float((src_img - target_img).abs().mean()), 4),
        }
    return out


@torch.no_grad()
def draw_pictures(model: MixedDecoder, test_images, test_codes, recipe, out: Path, per_row: int = 8) -> list[str]:
    """samples_by_class.png (one row per class prompt), tones.png (dark | light per class), edits.png."""
    from transmodal.vision.plot import save_image_grid

    g = torch.Generator().manual_seed(recipe.seed + 7)
    kw = dict(temperature=recipe.temperature, top_k=recipe.top_k or None, generator=g)

    def draw(text: str, n: int) -> list[torch.Tensor]:
        return list(model.decode_codes(draw_images(model, torch.tensor([model.caption_prompt(text)]).expand(n, -1), **kw)))

    save_image_grid([draw(caption(k), per_row) for k in range(len(NOUNS))], out / "samples_by_class.png")
    save_image_grid([draw(caption(k, "dark"), per_row // 2) + draw(caption(k, "light"), per_row // 2) for k in range(len(NOUNS))],
                    out / "tones.png")
    rows = []
    src = test_codes[:6].long()
    x = to_float(test_images[:6])
    for j in range(src.shape[0]):
        made = [model.decode_codes(draw_images(model, model.edit_prompt(src[j : j + 1], i), temperature=0.0))[0] for i in INSTRUCTIONS]
        wanted = [model.decode_codes(model.encode_images(apply_edit(x[j : j + 1], i, recipe)))[0] for i in INSTRUCTIONS]
        rows += [[model.decode_codes(src[j : j + 1])[0]] + made, [x[j]] + wanted]
    save_image_grid(rows, out / "edits.png")
    return ["samples_by_class.png", "tones.png", "edits.png"]

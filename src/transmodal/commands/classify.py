"""``transmodal classify [--model NAME|PATH] IMAGE...``: label pictures with a Vision Transformer.

Prints one JSON object per image, in the order given: ``{"path": ..., "label": ..., "confidence": ...}``
(``label``: the class name, e.g. Fashion-MNIST's "Ankle boot"; ``confidence``: its softmax probability).
When the checkpoint's ``labels.json`` names a test-time augmentation (``"tta": {"shift_by": 1, "flip": true}``, as
the fashion-vit recipe writes), the probabilities are the mean over those views of each picture
(:func:`transmodal.vision.augment.tta_views`); ``--no-tta`` uses the single plain view.

Any image PIL reads, of any size or mode, is converted like the model's training images: for grey
(Fashion-MNIST) models, grey, inverted when its background is light (Fashion-MNIST pictures are light
objects on black), trimmed, padded to a square and resized to 28×28 — the rule is spelled out in
:mod:`transmodal.vision.io`. A file that is not a readable image stops the command with an error
naming it, before anything is printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_MODEL = "fashion-vit"


def _default_model() -> str:
    from transmodal.hub import DEFAULTS

    return DEFAULTS.get("classify", DEFAULT_MODEL)


def register(sub) -> None:
    p = sub.add_parser(
        "classify",
        help="classify images with a Vision Transformer (one JSON line per image)",
        description=__doc__.split("\n\n")[0] + " Images are converted to the model's input: grey models read "
        "28×28 white-on-black pictures, so light backgrounds are inverted (see transmodal.vision.io).",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)")
    p.add_argument("--model", default=None, help=f"shipped model name or checkpoint directory (default: {DEFAULT_MODEL})")
    p.add_argument("--plot-attention", metavar="PNG", help="also draw the attention rollout over each image")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default: 64)")
    p.add_argument("--no-tta", action="store_true",
                   help="one forward pass per image, ignoring the test-time augmentation the model's labels.json names")
    p.set_defaults(func=classify)


def load_classifier(name_or_path: str):
    """(model, class names, background rule, test-time augmentation or None) of a ViT checkpoint directory or
    shipped model name."""
    from transmodal.hub import load_as

    model, path = load_as(name_or_path, "vit", "an image classifier")
    names = [str(i) for i in range(model.config.num_classes)]
    background, tta = "dark", None
    meta_file = Path(path) / "labels.json"
    if meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ValueError(f"{meta_file} is not valid JSON ({e}); re-save the checkpoint") from e
        names = list(meta.get("labels", names))
        background = meta.get("background", background)
        tta = meta.get("tta")
        if tta is not None and (not isinstance(tta, dict) or set(tta) - {"shift_by", "flip"}):
            raise ValueError(f"{meta_file}: 'tta' must be null or an object with 'shift_by' and 'flip', got {tta!r}")
        if len(names) != model.config.num_classes:
            raise ValueError(f"{meta_file} names {len(names)} classes but the model has {model.config.num_classes}")
    return model, names, background, tta


def classify_images(paths: list[str], model_name: str, batch_size: int = 64, tta: bool = True) -> tuple[list[dict], object, object]:
    """One ``{"path", "label", "confidence"}`` per image (in order), plus the model and the prepared images; ``tta``
    False ignores the model's test-time augmentation."""
    from transmodal.models.vit import predict
    from transmodal.vision.io import load_images

    if batch_size < 1:
        raise ValueError(f"--batch-size {batch_size}: give at least 1")
    model, names, background, views = load_classifier(model_name)
    c = model.config
    images = load_images(paths, size=c.image_size, channels=c.in_chans, background=background)
    probs = predict(model, images, batch_size, views if tta else None)
    conf, index = probs.max(dim=-1)
    rows = [{"path": str(p), "label": names[int(i)], "confidence": round(float(q), 4)} for p, i, q in zip(paths, index, conf)]
    return rows, model, images


def classify(args) -> None:
    rows, model, images = classify_images(args.images, args.model or _default_model(), args.batch_size, not args.no_tta)
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    if args.plot_attention:
        import torch

        from transmodal.vision.plot import plot_attention_overlay

        maps = []
        for start in range(0, images.shape[0], args.batch_size):
            maps.append(model.relevance(images[start : start + args.batch_size])[1])
        titles = [f"{Path(r['path']).name}: {r['label']} ({r['confidence']:.0%})" for r in rows]
        path = plot_attention_overlay(images, torch.cat(maps), args.plot_attention, titles)
        print(f"attention rollout written to {path}", file=sys.stderr)

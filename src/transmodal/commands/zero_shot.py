"""``transmodal zero-shot [--model NAME|PATH] IMAGE... [--labels "a,b,c"]``: classify pictures by text with CLIP.

Each label is put into the model's prompt templates ("a photo of a {}." …); the normalised mean of
those text embeddings is the label's vector, and a picture's probabilities are the softmax of its
scaled cosine similarities to them (:mod:`transmodal.models.clip`). No classifier was trained for the
labels: any comma-separated words may be given. Without ``--labels`` the model's own class names are
used (Fashion-MNIST's for ``clip-fashion``).

Prints one JSON object per image, in the order given::

    {"path": "shoe.png", "label": "Sneaker", "probabilities": {"Sandal": 0.08, "Sneaker": 0.9, "Bag": 0.02}}

Pictures are converted as the model's training pictures were (:mod:`transmodal.vision.io`): grey,
white-on-black and 28×28 for ``clip-fashion``; RGB, padded to a square and resized to 32×32 for
``clip-scenes``.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_MODEL = "clip-fashion"


def _default_model() -> str:
    from transmodal.hub import DEFAULTS

    return DEFAULTS.get("zero-shot", DEFAULT_MODEL)


def register(sub) -> None:
    p = sub.add_parser(
        "zero-shot",
        help="classify images among any text labels with CLIP (one JSON line per image)",
        description=__doc__.split("\n\n")[0] + " " + __doc__.split("\n\n")[1].replace("\n", " "),
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)")
    p.add_argument("--labels", default=None, help='comma-separated labels, e.g. "Sneaker,Sandal,Bag" (default: the model\'s classes)')
    p.add_argument("--model", default=None, help=f"shipped model name or checkpoint directory (default: {DEFAULT_MODEL})")
    p.set_defaults(func=run)


def parse_labels(text: str) -> list[str]:
    """ "a, b ,c" → ["a", "b", "c"]; at least two distinct, non-empty labels."""
    labels = [t.strip() for t in text.split(",")]
    if any(not t for t in labels):
        raise ValueError(f"--labels {text!r} has an empty label; separate labels by single commas")
    if len(set(labels)) != len(labels):
        raise ValueError(f"--labels {text!r} repeats a label; give each label once")
    if len(labels) < 2:
        raise ValueError(f"--labels {text!r}: give at least two labels to choose between")
    return labels


def load_clip(name_or_path: str):
    """(model, tokenizer, meta) of a CLIP checkpoint directory or shipped model name."""
    from transmodal.hub import load_as
    from transmodal.text.tokenizers import Tokenizer
    from transmodal.vision.captions import TEMPLATES

    model, path = load_as(name_or_path, "clip", "a CLIP model",
                          "Train one with `transmodal train clip --data fashion --out DIR`.")
    tokenizer = Tokenizer.load(Path(path))
    meta = {"background": "dark", "labels": [], "templates": list(TEMPLATES)}
    meta_file = Path(path) / "clip.json"
    if meta_file.is_file():
        try:
            meta.update(json.loads(meta_file.read_text(encoding="utf-8")))
        except ValueError as e:
            raise ValueError(f"{meta_file} is not valid JSON ({e}); re-save the checkpoint") from e
    return model, tokenizer, meta


def zero_shot(paths: list[str], labels: list[str] | None, model_name: str) -> list[dict]:
    """One ``{"path", "label", "probabilities"}`` per image, in order."""
    from transmodal.models.clip import embed_images, zero_shot_probs, zero_shot_weights
    from transmodal.vision.io import load_images

    model, tokenizer, meta = load_clip(model_name)
    labels = labels or list(meta["labels"])
    if len(labels) < 2:
        raise ValueError(f"{model_name} names no classes of its own; give --labels \"a,b,c\"")
    c = model.config.vit_config()
    images = load_images(paths, size=c.image_size, channels=c.in_chans, background=meta["background"])
    weights = zero_shot_weights(model, tokenizer, labels, meta["templates"])
    probs = zero_shot_probs(model, embed_images(model, images), weights)
    return [{"path": str(p), "label": labels[int(row.argmax())],
             "probabilities": {name: round(float(q), 4) for name, q in zip(labels, row)}} for p, row in zip(paths, probs)]


def run(args) -> None:
    labels = parse_labels(args.labels) if args.labels is not None else None
    for row in zero_shot(args.images, labels, args.model or _default_model()):
        print(json.dumps(row, ensure_ascii=False))

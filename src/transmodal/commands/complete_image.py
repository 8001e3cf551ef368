"""``transmodal complete-image [--model NAME|PATH] [IMAGE] --keep-rows K --samples S --out grid.png``.

Keeps the top K pixel rows of IMAGE (converted like a Fashion-MNIST picture, see
:mod:`transmodal.vision.io`, and quantised to the model's grey levels) and lets the autoregressive
pixel model draw the rest, S times. The grid shows the quantised original first, then the S
completions side by side; a red line marks where drawing started. Without IMAGE (and with
``--keep-rows 0``) it draws S images from scratch: unconditionally, or of one class with ``--label``.
Sampling uses the model's key/value cache, with ``--temperature`` and ``--top-k``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_MODEL = "fashion-pixel-gpt"


def _default_model() -> str:
    from transmodal.hub import DEFAULTS

    return DEFAULTS.get("complete-image", DEFAULT_MODEL)


def register(sub) -> None:
    p = sub.add_parser("complete-image", help="complete the bottom of an image (or draw new ones) with the pixel model",
                       description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("image", nargs="?", metavar="IMAGE", help="image whose top rows are kept (omit to draw from scratch)")
    p.add_argument("--model", default=None, help=f"shipped model name or checkpoint directory (default: {DEFAULT_MODEL})")
    p.add_argument("--keep-rows", type=int, default=None, help="pixel rows kept from the top of IMAGE (default: half)")
    p.add_argument("--samples", type=int, default=4, help="completions to draw (default: 4)")
    p.add_argument("--out", required=True, metavar="PNG", help="where to write the grid")
    p.add_argument("--label", help="class to draw (name such as 'Sneaker', or its number); default: no class")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature; 0 = always the likeliest level (default: 1)")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest levels only (default: 0 = all)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(func=complete_image)


def _load(name_or_path: str):
    from transmodal.hub import load_as

    model, path = load_as(name_or_path, "pixel_gpt", "a pixel model")
    names, background = [str(i) for i in range(model.config.num_classes)], "dark"
    meta = Path(path) / "labels.json"
    if meta.is_file():
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ValueError(f"{meta} is not valid JSON ({e}); re-save the checkpoint") from e
        names, background = list(data.get("labels", names)), data.get("background", background)
    return model, names, background


def _class_id(label: str | None, names: list[str], num_classes: int) -> int | None:
    if label is None:
        return None
    if num_classes == 0:
        raise ValueError("--label: this model was trained without classes")
    lowered = [n.lower() for n in names]
    if label.lower() in lowered:
        return lowered.index(label.lower())
    if label.isdigit() and int(label) < num_classes:
        return int(label)
    raise ValueError(f"--label {label!r}: not a class of this model; choose one of {', '.join(names)} (or 0..{num_classes - 1})")


def complete(args) -> Path:
    import torch

    from transmodal.vision.io import load_image, prepare_image
    from transmodal.vision.plot import save_image_grid

    model, names, background = _load(args.model or _default_model())
    c = model.config
    if args.samples < 1:
        raise ValueError(f"--samples {args.samples}: give at least 1")
    if args.temperature < 0 or args.top_k < 0:
        raise ValueError("--temperature and --top-k must be >= 0")
    keep = args.keep_rows if args.keep_rows is not None else (c.height // 2 if args.image else 0)
    if not 0 <= keep < c.height:
        raise ValueError(f"--keep-rows {keep}: choose 0..{c.height - 1} (the model draws {c.height}-row images)")
    if args.image is None and keep:
        raise ValueError("--keep-rows needs an IMAGE to keep rows from")
    cls = _class_id(args.label, names, c.num_classes)
    s = args.samples
    labels = torch.full((s,), cls, dtype=torch.long) if cls is not None else None
    g = torch.Generator().manual_seed(args.seed)
    kw = dict(temperature=args.temperature, top_k=args.top_k or None, generator=g)
    if args.image is not None:
        if c.height != c.width:
            raise ValueError(f"this model draws {c.height}×{c.width} images; only square models can complete a picture")
        original = model.quantize(prepare_image(load_image(args.image), c.height, 1, background)[None])  # (1, H·W)
        prefix = original[:, : keep * c.width].expand(s, -1) if keep else None
        drawn = model.generate(n=s, labels=labels, prefix=prefix, **kw)
        row = [model.render(original)[0]] + list(model.render(drawn))
        marks = [[keep or None] * len(row)]
    else:
        row, marks = list(model.render(model.generate(n=s, labels=labels, **kw))), []
    return save_image_grid([row], args.out, marks=marks)


def complete_image(args) -> None:
    path = complete(args)
    print(f"grid written to {path}", file=sys.stderr)

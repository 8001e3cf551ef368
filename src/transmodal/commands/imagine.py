"""``transmodal imagine PROMPT --out grid.png`` and ``transmodal edit IMAGE INSTRUCTION --out x.png``.

Both use the text+image decoder (:mod:`transmodal.models.mixed_decoder`, shipped as ``imagine``).
``imagine`` draws ``--samples`` pictures of a caption such as "a dark ankle boot" or "a bag" and writes
them side by side (8 to a row). ``edit`` reads a picture, turns it into image tokens and writes the
picture the model makes of it for an instruction: "make it darker", "make it lighter", "mirror it",
"move it left", "move it right". Prompts may only use the words the model was trained on; an unknown
word stops the command with the list of known ones.

Input pictures are converted like the classifier's (grey, light backgrounds inverted, trimmed, padded
square, 28×28; see :mod:`transmodal.vision.io`), except that a picture already 28×28 is read as it is
(only inverted if its background is light), so an edit's output can be edited again.
"""

from __future__ import annotations

import sys

DEFAULT_MODEL = "imagine"


def _default_model() -> str:
    from transmodal.hub import DEFAULTS

    return DEFAULTS.get("imagine", DEFAULT_MODEL)


def _sampling_options(p, temperature: float) -> None:
    p.add_argument("--model", default=None, help=f"shipped model name or checkpoint directory (default: {DEFAULT_MODEL})")
    p.add_argument("--temperature", type=float, default=temperature,
                   help=f"softmax temperature; 0 = always the likeliest code (default: {temperature:g})")
    p.add_argument("--top-k", type=int, default=0, help="draw among the k likeliest codes only (default: 0 = all)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def register(sub) -> None:
    p = sub.add_parser("imagine", help="draw pictures of a caption with the text+image decoder",
                       description="Draw pictures of a caption (e.g. 'a dark ankle boot') with the text+image decoder.")
    p.add_argument("prompt", metavar="PROMPT", help="caption, e.g. 'a light bag' or 'an ankle boot'")
    p.add_argument("--out", required=True, metavar="PNG", help="where to write the grid")
    p.add_argument("--samples", type=int, default=8, help="pictures to draw (default: 8)")
    _sampling_options(p, 1.0)
    p.set_defaults(func=imagine)

    e = sub.add_parser("edit", help="edit a picture by an instruction with the text+image decoder",
                       description="Edit a picture by an instruction ('make it darker', 'make it lighter', "
                       "'mirror it', 'move it left', 'move it right') with the text+image decoder.")
    e.add_argument("image", metavar="IMAGE", help="picture to edit (PNG, JPEG, ...)")
    e.add_argument("instruction", metavar="INSTRUCTION", help="e.g. 'mirror it'")
    e.add_argument("--out", required=True, metavar="PNG", help="where to write the edited picture")
    e.add_argument("--scale", type=int, default=1, help="enlarge the 28×28 output this many times (default: 1)")
    _sampling_options(e, 0.0)
    e.set_defaults(func=edit)


def load_decoder(name_or_path: str | None):
    from transmodal.hub import load_as

    return load_as(name_or_path or _default_model(), "mixed_decoder", "a text+image decoder",
                   "Train one with `transmodal train imagine`.")[0]


def _check_sampling(args) -> None:
    if args.temperature < 0 or args.top_k < 0:
        raise ValueError("--temperature and --top-k must be >= 0")


def imagine_images(args):
    """The pictures (S, 1, 28, 28) drawn for ``args.prompt``."""
    import torch

    from transmodal.models.mixed_decoder import draw_images

    _check_sampling(args)
    if args.samples < 1:
        raise ValueError(f"--samples {args.samples}: give at least 1")
    model = load_decoder(args.model)
    prompt = torch.tensor([model.caption_prompt(args.prompt)]).expand(args.samples, -1)
    g = torch.Generator().manual_seed(args.seed)
    codes = draw_images(model, prompt, temperature=args.temperature, top_k=args.top_k or None, generator=g)
    return model.decode_codes(codes)


def imagine(args) -> None:
    from transmodal.vision.plot import save_image_grid

    images = list(imagine_images(args))
    path = save_image_grid([images[i : i + 8] for i in range(0, len(images), 8)], args.out)
    print(f"{len(images)} picture(s) of {args.prompt!r} written to {path}", file=sys.stderr)


def read_picture(path: str, size: int):
    """A picture file → (1, size, size) grey in [0, 1], dark background (see the module docstring)."""
    from transmodal.vision.io import load_image, prepare_image

    im = load_image(path)
    if im.size != (size, size):
        return prepare_image(im, size, 1, "dark")
    import torch

    x = prepare_image(im, size, 1, "keep")
    a = x[0]
    border = torch.cat([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])
    return 1.0 - x if float(border.median()) > 0.5 else x


def edit_image(args):
    """(input as the model sees it (1, 28, 28), edited picture (1, 28, 28))."""
    import torch

    from transmodal.models.mixed_decoder import draw_images

    _check_sampling(args)
    if args.scale < 1:
        raise ValueError(f"--scale {args.scale}: give at least 1")
    model = load_decoder(args.model)
    source = model.encode_images(read_picture(args.image, model.config.image_size)[None])
    prompt = model.edit_prompt(source, args.instruction)
    g = torch.Generator().manual_seed(args.seed)
    codes = draw_images(model, prompt, temperature=args.temperature, top_k=args.top_k or None, generator=g)
    return model.decode_codes(source)[0], model.decode_codes(codes)[0]


def edit(args) -> None:
    from pathlib import Path

    from transmodal.vision.io import to_pil

    _, edited = edit_image(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    to_pil(edited, args.scale).save(out)
    print(f"{args.instruction!r} applied to {args.image}: written to {out}", file=sys.stderr)

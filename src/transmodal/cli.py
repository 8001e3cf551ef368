"""The ``transmodal`` command. Each sub-command is a small function; heavy imports happen inside them."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

DEMO_SENTENCES = [
    "i like eating fish .",
    "where is the nearest hospital ?",
    "my mother is a doctor .",
    "we need to talk about your health .",
    "the children are playing in the garden .",
]


def _read_lines(args) -> list[str]:
    lines = list(args.text)
    if args.input:
        if args.input == "-":
            lines += sys.stdin.read().splitlines()
        else:
            path = Path(args.input)
            if not path.is_file():
                raise ValueError(f"--input {path}: no such file")
            try:
                lines += path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError as e:
                raise ValueError(f"--input {path}: not UTF-8 text ({e})") from e
    if not lines:
        raise ValueError("nothing to translate: give sentences as arguments or --input FILE (one per line, '-' for stdin)")
    if any(not t.strip() for t in args.text):
        raise ValueError("an empty sentence was given as an argument; give text to translate")
    return lines


def cmd_translate(args) -> None:
    from transmodal.translator import Translator

    lines = _read_lines(args)
    translator = Translator.load(args.model)
    if args.plot_attention:
        if len(lines) != 1:
            raise ValueError("--plot-attention draws one sentence: give exactly one TEXT")
        from transmodal.viz import plot_attention_heads

        src, tgt, weights = translator.cross_attention(lines[0])
        layer = weights.shape[0] - 1 if args.layer is None else args.layer
        if not -weights.shape[0] <= layer < weights.shape[0]:
            raise ValueError(f"--layer {layer}: the model has {weights.shape[0]} decoder layers (0..{weights.shape[0] - 1})")
        path = plot_attention_heads(weights[layer], tgt, src, args.plot_attention, title=f"cross-attention, decoder layer {layer % weights.shape[0]}")
        print(translator.tok.decode([translator.tok.hf.token_to_id(t) for t in tgt]))
        print(f"attention plot written to {path}", file=sys.stderr)
        return
    for line in translator.translate(lines, beam=args.beam):
        print(line, flush=False)


def cmd_demo(args) -> None:
    from transmodal.translator import Translator

    translator = Translator.load(args.model)
    for en, pt in zip(DEMO_SENTENCES, translator.translate(DEMO_SENTENCES, beam=4)):
        print(f"{en}\n  → {pt}")


def cmd_models(args) -> None:
    from transmodal.hub import ASSETS, shipped_models
    from transmodal.train import read_config

    for name in shipped_models():
        cfg = read_config(ASSETS / name)
        print(f"{name}\t{cfg['arch']}")


def cmd_train(args) -> None:
    recipe_cls, run = RECIPES[args.recipe]()
    fields = {f.name for f in dataclasses.fields(recipe_cls)}
    values = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    report = run(recipe_cls(**values))
    import json

    print(json.dumps(report.get("test", report), indent=2, ensure_ascii=False))


def _translation_recipe():
    from transmodal.recipes.translation import TranslationRecipe, run

    return TranslationRecipe, run


RECIPES = {"translation": _translation_recipe}
RECIPE_DOCS = {"translation": "English→Portuguese Transformer on Tatoeba"}


def _add_dataclass_options(parser: argparse.ArgumentParser, cls) -> None:
    """One --option per field of a recipe dataclass (defaults shown by the recipe itself)."""
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=f"(default {f.default})")
        else:
            kind = {"int": int, "float": float, "str": str}.get(str(f.type), str)
            parser.add_argument(flag, dest=f.name, type=kind, default=None, help=f"(default {f.default})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transmodal", description="Transformers for sound, images and text.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("translate", help="translate English to Portuguese (one line per input line)")
    p.add_argument("text", nargs="*", metavar="TEXT", help="lower-cased, space-tokenised English sentences")
    p.add_argument("--model", default="en-pt", help="shipped model name or checkpoint directory (default: en-pt)")
    p.add_argument("--beam", type=int, default=4, help="beam width; 1 = greedy (default: 4)")
    p.add_argument("--input", metavar="FILE", help="read sentences from FILE, one per line ('-' = stdin)")
    p.add_argument("--plot-attention", metavar="PNG", help="draw each head's cross-attention for one sentence")
    p.add_argument("--layer", type=int, default=None, help="decoder layer to draw (default: the last)")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("demo", help="the main job: translate a few sentences with the shipped model")
    p.add_argument("--model", default="en-pt")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="list the shipped models")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="run a training recipe")
    rsub = p.add_subparsers(dest="recipe", required=True, metavar="RECIPE")
    for name, loader in RECIPES.items():
        rp = rsub.add_parser(name, help=RECIPE_DOCS[name])
        _add_dataclass_options(rp, loader()[0])
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"transmodal {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `transmodal translate ... | head -1`
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

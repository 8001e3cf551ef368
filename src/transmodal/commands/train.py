"""``transmodal train RECIPE [--option value ...]``: run a recipe from :mod:`transmodal.recipes`.

Each recipe's options are the fields of its dataclass (``--max-steps`` sets ``max_steps``). The recipe
classes live in light modules so building this parser imports no model code.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json

from transmodal.recipes import RECIPES


def register(sub) -> None:
    p = sub.add_parser("train", help="run a training recipe (see `transmodal train --help`)")
    rsub = p.add_subparsers(dest="recipe", required=True, metavar="RECIPE")
    for name, (module, cls_name, doc) in RECIPES.items():
        rp = rsub.add_parser(name, help=doc, description=doc)
        _add_dataclass_options(rp, getattr(importlib.import_module(module + "_config"), cls_name))
    p.set_defaults(func=run)


def _add_dataclass_options(parser: argparse.ArgumentParser, cls) -> None:
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        help_text = f"(default: {f.default})"
        if str(f.type) in ("bool",) or f.type is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            kind = {"int": int, "float": float}.get(str(f.type).replace(" | None", ""), str)
            parser.add_argument(flag, dest=f.name, type=kind, default=None, help=help_text)


def run(args) -> None:
    module, cls_name, _ = RECIPES[args.recipe]
    cls = getattr(importlib.import_module(module + "_config"), cls_name)
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    report = importlib.import_module(module).run(cls(**values))
    if report:  # empty on the non-zero ranks of a torchrun job
        print(json.dumps(report.get("test", report), indent=2, ensure_ascii=False))

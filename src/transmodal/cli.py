"""The ``transmodal`` command: a thin dispatcher over :mod:`transmodal.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

from transmodal.commands import MODULES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transmodal", description="Transformers for sound, images and text.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in MODULES:
        importlib.import_module(name).register(sub)
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

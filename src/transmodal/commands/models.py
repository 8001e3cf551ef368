"""``transmodal models``: list the models shipped inside the package."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("models", help="list the shipped models")
    p.set_defaults(func=run)


def run(args) -> None:
    from transmodal.hub import ASSETS, shipped_models
    from transmodal.train import read_config

    for name in shipped_models():
        cfg = read_config(ASSETS / name)
        print(f"{name}\t{cfg['arch']}")

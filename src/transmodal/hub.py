"""Named models shipped inside the package, and resolution of ``--model NAME|PATH``.

A shipped model is a checkpoint directory (``config.json`` + ``model.safetensors`` + extra files such
as ``tokenizer.json``) under ``transmodal/assets/models/NAME``.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets" / "models"

# Default model per task.
DEFAULTS = {"translate": "en-pt"}


def shipped_models() -> list[str]:
    return sorted(p.name for p in ASSETS.iterdir() if (p / "config.json").is_file()) if ASSETS.is_dir() else []


def resolve(name_or_path: str) -> Path:
    """A shipped model's name, or a path to a checkpoint directory → that directory."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if (ASSETS / name_or_path / "config.json").is_file():
        return ASSETS / name_or_path
    known = ", ".join(shipped_models()) or "none"
    raise ValueError(f"no model {name_or_path!r}: not a directory and not a shipped model name (shipped: {known})")

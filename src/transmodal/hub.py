"""Named models shipped inside the package, and resolution of ``--model NAME|PATH``.

A shipped model is a checkpoint directory (``config.json`` + ``model.safetensors`` + extra files such
as ``tokenizer.json``) under ``transmodal/assets/models/NAME``.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets" / "models"

# Default model per task.
DEFAULTS = {"translate": "en-pt", "transcribe": "pt-quiz", "zero-shot": "clip-fashion"}


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


def load_as(name_or_path: str | Path, arch: str, what: str, train_hint: str = ""):
    """Resolve ``--model NAME|PATH``, load the checkpoint and check it is an ``arch`` model.

    ``what`` names that kind of model in the error message (e.g. "a translation model");
    ``train_hint`` is added when no such model exists (e.g. how to train one). Returns (model, path).
    """
    from transmodal.train import load_model

    try:
        path = resolve(str(name_or_path))
    except ValueError as e:
        if train_hint:
            raise ValueError(f"{e}. {train_hint}") from e
        raise
    model = load_model(path)
    if getattr(model, "arch", None) != arch:
        raise ValueError(f"{path} holds a {getattr(model, 'arch', '?')!r} model, not {what} ({arch})")
    return model, path

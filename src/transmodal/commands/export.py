"""``transmodal export CHECKPOINT OUT``: a training checkpoint → a small inference model directory.

Keeps ``config.json``, the weights (by default stored as float16: half the size, loaded back as
float32) and every extra file (e.g. ``tokenizer.json``); drops the trainer state. This is how the
models under ``transmodal/assets/models`` are made.
"""

from __future__ import annotations

from pathlib import Path

_INTERNAL = {"config.json", "model.safetensors", "trainer_state.pt"}


def register(sub) -> None:
    p = sub.add_parser("export", help="make an inference model directory from a training checkpoint")
    p.add_argument("checkpoint", help="checkpoint directory (e.g. runs/en-pt/best)")
    p.add_argument("out", help="destination directory (replaced atomically)")
    p.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="float16", help="storage type of the weights (default: float16)")
    p.set_defaults(func=run)


def export(checkpoint: str | Path, out: str | Path, dtype: str = "float16") -> Path:
    import torch

    from transmodal.train import load_model, read_config, save_model

    checkpoint = Path(checkpoint)
    model = load_model(checkpoint)
    meta = read_config(checkpoint).get("extra", {})
    extra = {f.name: f.read_bytes() for f in checkpoint.iterdir() if f.is_file() and f.name not in _INTERNAL}
    return save_model(out, model, extra_files=extra, extra_meta=meta, dtype=getattr(torch, dtype))


def run(args) -> None:
    path = export(args.checkpoint, args.out, args.dtype)
    size = sum(f.stat().st_size for f in path.iterdir()) / 2**20
    print(f"exported {args.checkpoint} → {path} ({size:.1f} MiB)")

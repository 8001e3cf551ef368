"""``transmodal export CHECKPOINT OUT``: a training checkpoint → a small inference model directory.

Keeps ``config.json``, the weights (by default stored as float16: half the size, loaded back as
float32) and every extra file (e.g. ``tokenizer.json``); drops the trainer state. This is how the
models under ``transmodal/assets/models`` are made.

``--average OTHER --weights 0.75,0.25`` exports instead a weight average of CHECKPOINT and OTHER (repeatable):
θ = Σ_i w_i θ_i, tensor by tensor, for models of the same configuration ("model soups", Wortsman et al. 2022:
fine-tunes of one starting point can be averaged without leaving the region of low loss). Floating-point buffers
(BatchNorm running statistics) are averaged the same way; integer buffers (batch counters) come from CHECKPOINT,
as do the extra files.
"""

from __future__ import annotations

from pathlib import Path

_INTERNAL = {"config.json", "model.safetensors", "trainer_state.pt"}


def register(sub) -> None:
    p = sub.add_parser("export", help="make an inference model directory from a training checkpoint")
    p.add_argument("checkpoint", help="checkpoint directory (e.g. runs/en-pt/best)")
    p.add_argument("out", help="destination directory (replaced atomically)")
    p.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="float16", help="storage type of the weights (default: float16)")
    p.add_argument("--average", action="append", default=[], metavar="OTHER",
                   help="average the weights with this checkpoint of the same configuration (repeatable)")
    p.add_argument("--weights", default=None,
                   help="comma-separated weights of CHECKPOINT and each OTHER, summing to 1 (default: equal)")
    p.set_defaults(func=run)


def parse_weights(text: str | None, n: int) -> list[float]:
    """``"0.75,0.25"`` → [0.75, 0.25] for ``n`` models (None: equal weights); each ≥ 0, summing to 1."""
    if text is None:
        return [1.0 / n] * n
    try:
        weights = [float(w) for w in text.split(",")]
    except ValueError:
        weights = []
    if len(weights) != n or min(weights) < 0 or abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"--weights {text!r}: give {n} non-negative numbers, comma-separated, summing to 1")
    return weights


def average_weights(models: list, weights: list[float]) -> None:
    """Overwrite ``models[0]``'s floating-point tensors with Σ_i w_i θ_i (computed in float64); integer tensors stay
    those of ``models[0]``. Every model must have the same tensor names and shapes."""
    import torch

    states = [m.state_dict() for m in models]
    first = states[0]
    for i, sd in enumerate(states[1:], 1):
        bad = [k for k in first if k not in sd or sd[k].shape != first[k].shape] + [k for k in sd if k not in first]
        if bad:
            raise ValueError(f"model {i + 1} does not have the first model's tensors (first differences: {bad[:3]}); "
                             "only models of the same configuration can be averaged")
    with torch.no_grad():
        for k, t in first.items():
            if t.is_floating_point():
                t.copy_(sum(w * sd[k].double() for w, sd in zip(weights, states)).to(t.dtype))


def export(checkpoint: str | Path, out: str | Path, dtype: str = "float16", average: list | None = None,
           weights: str | None = None) -> Path:
    import torch

    from transmodal.train import load_model, read_config, save_model

    checkpoint = Path(checkpoint)
    model = load_model(checkpoint)
    if average:
        shares = parse_weights(weights, 1 + len(average))  # a bad --weights fails before the others are read
        average_weights([model] + [load_model(Path(o)) for o in average], shares)
    elif weights is not None:
        raise ValueError("--weights needs --average: it weighs CHECKPOINT and the checkpoints to average with")
    meta = read_config(checkpoint).get("extra", {})
    extra = {f.name: f.read_bytes() for f in checkpoint.iterdir() if f.is_file() and f.name not in _INTERNAL}
    return save_model(out, model, extra_files=extra, extra_meta=meta, dtype=getattr(torch, dtype))


def run(args) -> None:
    path = export(args.checkpoint, args.out, args.dtype, args.average, args.weights)
    size = sum(f.stat().st_size for f in path.iterdir()) / 2**20
    what = " + ".join([args.checkpoint] + args.average) if args.average else args.checkpoint
    print(f"exported {what} → {path} ({size:.1f} MiB)")

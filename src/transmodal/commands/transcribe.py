"""``transmodal transcribe [--model NAME|PATH] [--choices FILE] [--beam N] [--plot out.png] AUDIO...``.

Prints one JSON object per input file, in input order: ``{"path": ..., "text": ..., "confidence": ...}``.
Without ``--choices`` the confidence is the mean best-path frame probability (uncalibrated); with
``--choices FILE`` (one allowed answer per line) the text is exactly one of those lines and the
confidence its posterior (calibrated when the checkpoint has ``calibration.json``). A checkpoint with a
``lexicon.txt`` (``en-digits``) decodes freely into sequences of its words; ``--no-lexicon`` spells characters.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("transcribe", help="speech to text: one JSON line per audio file")
    p.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files (WAV, FLAC, OGG; any sample rate)")
    p.add_argument("--model", default=None, help="shipped model name or checkpoint directory (default: hub default for 'transcribe')")
    p.add_argument("--choices", metavar="FILE", help="allowed answers, one per line (UTF-8): the text is one of them")
    p.add_argument("--beam", type=int, default=1, help="beam width of free decoding; 1 = greedy (default: 1)")
    p.add_argument("--no-lexicon", action="store_true",
                   help="ignore the model's lexicon.txt: free decoding spells any characters")
    p.add_argument("--plot", metavar="PNG", help="draw the first file's spectrogram and CTC posteriors")
    p.set_defaults(func=run)


def read_choices(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--choices {path}: no such file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"--choices {path}: not UTF-8 text ({e})") from e
    choices = [line.strip() for line in lines if line.strip()]
    if not choices:
        raise ValueError(f"--choices {path}: the file has no answers; write one allowed answer per line")
    return choices


def _model_name(args) -> str:
    if args.model:
        return args.model
    from transmodal.hub import DEFAULTS

    if "transcribe" not in DEFAULTS:
        raise ValueError("no default speech model is shipped; give --model PATH (a checkpoint directory)")
    return DEFAULTS["transcribe"]


def run(args) -> None:
    from transmodal.asr.model import Transcriber

    if args.beam < 1:
        raise ValueError(f"--beam must be ≥ 1, got {args.beam}")
    choices = read_choices(args.choices) if args.choices else None
    transcriber = Transcriber.load(_model_name(args), use_lexicon=not args.no_lexicon)
    results = transcriber.transcribe(args.audio, choices=choices, beam=args.beam, keep_log_probs=bool(args.plot))
    for r in results:
        print(json.dumps({"path": r.path, "text": r.text, "confidence": round(r.confidence, 6)}, ensure_ascii=False))
    if args.plot:
        out = plot_posteriors(transcriber, results[0], args.plot)
        print(f"plot written to {out}", file=sys.stderr)


def plot_posteriors(transcriber, result, out: str | Path) -> Path:
    """Log-mel spectrogram on top; CTC posteriors of the non-blank labels (and the best path) below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from transmodal.audio.features import LogMel

    model, vocab = transcriber.model, transcriber.vocab
    wave = transcriber.read(result.path)
    feats, _ = LogMel(model.sample_rate, model.config.n_mels)(wave[None])
    probs = result.log_probs.exp()  # (T', V)
    best = probs.argmax(-1)
    used = sorted({int(k) for k in best if int(k) != vocab.blank_id} | {int(k) for k in probs.max(0).values.topk(min(6, probs.shape[1])).indices})
    dur = wave.shape[-1] / model.sample_rate
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    a1.imshow(feats[0].T.numpy(), origin="lower", aspect="auto", extent=(0, dur, 0, model.config.n_mels), cmap="magma")
    a1.set_ylabel("mel bin")
    a1.set_title(f"{Path(result.path).name}: {result.text!r} (confidence {result.confidence:.2f})")
    t = (torch.arange(probs.shape[0]) + 0.5) * dur / max(probs.shape[0], 1)
    for k in used:
        label = "<blank>" if k == vocab.blank_id else repr(vocab.id_to_char(k))
        a2.plot(t.numpy(), probs[:, k].numpy(), label=label, lw=1.5 if k != vocab.blank_id else 1.0,
                ls="-" if k != vocab.blank_id else ":")
    for i, k in enumerate(best.tolist()):
        if k != vocab.blank_id:
            a2.annotate(vocab.id_to_char(k), (float(t[i]), float(probs[i, k])), ha="center", va="bottom", fontsize=9)
    a2.set_ylim(0, 1.1)
    a2.set_xlabel("time (s)")
    a2.set_ylabel("CTC posterior")
    a2.legend(loc="upper right", fontsize=7, ncol=4)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

"""``transmodal speech-corpus {en-digits,pt-quiz} --out DIR``: build a synthetic speech corpus with offline TTS.

Cached and resumable: run it again (after an interruption, or with more ``--variants``) and only what is
missing is synthesised. Prints the manifest paths and counts when done.
"""

from __future__ import annotations

import json
from pathlib import Path

CORPORA = ("en-digits", "pt-quiz")


def register(sub) -> None:
    p = sub.add_parser("speech-corpus", help="synthesise a speech corpus (English digits, Portuguese quiz answers) offline",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("corpus", choices=CORPORA, help="what is said: en-digits (zero … nine, 2–5 digit strings) or pt-quiz "
                   "(sim/não, Likert, frequency, zero … cento e vinte)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (WAVs, train.jsonl, holdout.jsonl)")
    p.add_argument("--variants", type=int, default=10, help="training utterances per text (default: 10)")
    p.add_argument("--holdout-variants", type=int, default=1, help="utterances per text per holdout voice (default: 1)")
    p.add_argument("--workers", type=int, default=2, help="synthesis processes; 1 = no extra processes (default: 2)")
    p.add_argument("--voices", nargs="+", metavar="VOICE", help="training voices as engine:voice (e.g. espeak-ng:pt-br+f3 "
                   "flite:slt); default: every installed voice of the corpus' language")
    p.add_argument("--holdout-voices", nargs="*", metavar="VOICE", help="voices kept out of training, written to "
                   "holdout.jsonl (none: give the flag with no voices); default: a few per language")
    p.add_argument("--sample-rate", type=int, default=16000, help="Hz (default: 16000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the plan (default: 0)")
    p.add_argument("--clean", action="store_true", help="no augmentation: the voices' own speed and pitch, no noise")
    p.add_argument("--limit", type=int, default=None, help="only the first N texts (for a quick try)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> None:
    from transmodal.audio.synth import AugmentSpec, CorpusSpec, build_corpus, generate_texts, read_manifest

    for name in ("variants", "holdout_variants"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} {getattr(args, name)}: give a count >= 0")
    if args.workers < 1:
        raise ValueError(f"--workers {args.workers}: give 1 or more (1 = synthesise in this process)")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit {args.limit}: give 1 or more texts, or leave it out for all")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder (it is created if missing)")
    texts: list[str] | str = args.corpus
    if args.limit is not None:
        texts = generate_texts(args.corpus)[: args.limit]
    spec = CorpusSpec(
        out_dir=str(out), texts=texts, voices=args.voices, holdout_voices=args.holdout_voices, variants=args.variants,
        holdout_variants=args.holdout_variants, augment=AugmentSpec.none() if args.clean else AugmentSpec(),
        sample_rate=args.sample_rate, seed=args.seed, workers=args.workers,
        language={"en-digits": "en", "pt-quiz": "pt-br"}[args.corpus], progress=args.progress)
    train = build_corpus(spec)
    holdout = train.with_name("holdout.jsonl")
    log = json.loads((train.parent / "build_log.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    for path in (train, holdout):
        lines = read_manifest(path)
        hours = sum(line["duration"] for line in lines) / 3600
        print(f"{path}: {len(lines)} utterances, {hours:.2f} h")
    print(f"synthesised {log['synthesised']}, reused {log['reused'] + log['recovered']} (cached)")

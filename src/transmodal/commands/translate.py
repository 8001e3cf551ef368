"""``transmodal translate`` and ``transmodal demo`` (the main job until the questionnaire exists)."""

from __future__ import annotations

import sys
from pathlib import Path

# The first six pairs of the translation recipe's held-out test split (file order, not picked):
# the shipped model never saw them. (English, reference Portuguese.)
DEMO_PAIRS = [
    ("tom didn t kill mary .", "o tom não matou a mary ."),
    ("tom taught himself french .", "tom aprendeu francês por conta própria ."),
    ("i think i ll go wash my hands .", "eu acho que vou lavar as minhas mãos ."),
    ("i suppose that it s a bit silly .", "suponho que seja um pouco bobo ."),
    ("this is how i met your mother .", "foi assim que conheci sua mãe ."),
    ("i ve done the same thing myself .", "fiz a mesma coisa comigo mesmo ."),
]


def register(sub) -> None:
    p = sub.add_parser("translate", help="translate English to Portuguese (one line per input line)")
    p.add_argument("text", nargs="*", metavar="TEXT", help="lower-cased, space-tokenised English sentences")
    p.add_argument("--model", default="en-pt", help="shipped model name or checkpoint directory (default: en-pt)")
    p.add_argument("--beam", type=int, default=4, help="beam width; 1 = greedy (default: 4)")
    p.add_argument("--input", metavar="FILE", help="read sentences from FILE, one per line ('-' = stdin)")
    p.add_argument("--plot-attention", metavar="PNG", help="draw each head's cross-attention for one sentence")
    p.add_argument("--layer", type=int, default=None, help="decoder layer to draw (default: the last)")
    p.set_defaults(func=translate)

    p = sub.add_parser("demo", help="the main job: translate a few sentences with the shipped model")
    p.add_argument("--model", default="en-pt", help="shipped model name or checkpoint directory (default: en-pt)")
    p.set_defaults(func=demo)


def _read_lines(args) -> list[str]:
    if any(not t.strip() for t in args.text):
        raise ValueError("an empty sentence was given as an argument; give text to translate")
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
    return lines


def translate(args) -> None:
    from transmodal.translator import Translator

    lines = _read_lines(args)
    translator = Translator.load(args.model)
    if args.plot_attention:
        if len(lines) != 1:
            raise ValueError("--plot-attention draws one sentence: give exactly one TEXT")
        from transmodal.viz import plot_attention_heads

        src, tgt, weights = translator.cross_attention(lines[0])
        n_layers = weights.shape[0]
        layer = n_layers - 1 if args.layer is None else args.layer
        if not 0 <= layer < n_layers:
            raise ValueError(f"--layer {layer}: the model has {n_layers} decoder layers (0..{n_layers - 1}, counted from 0)")
        path = plot_attention_heads(weights[layer], tgt, src, args.plot_attention, title=f"cross-attention, decoder layer {layer + 1} of {n_layers}")
        print(translator.translate(lines, beam=1)[0])
        print(f"attention plot written to {path}", file=sys.stderr)
        return
    for line in translator.translate(lines, beam=args.beam):
        print(line)


def demo(args) -> None:
    from transmodal.translator import Translator

    translator = Translator.load(args.model)
    print(f"English → Portuguese with the model {args.model!r} (beam 4), on held-out sentences it never saw:")
    outputs = translator.translate([en for en, _ in DEMO_PAIRS], beam=4)
    for (en, ref), out in zip(DEMO_PAIRS, outputs):
        print(f"  {en}\n    model:     {out}\n    reference: {ref}")
    print('Translate your own (lower case, punctuation split by spaces): .venv/bin/transmodal translate "i like fish ."')

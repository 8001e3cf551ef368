"""``transmodal audio-plot FILE --out x.png``: waveform, samples with their b-bit quantisation, log-mel spectrogram."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("audio-plot", help="draw an audio file: waveform, b-bit quantisation, log-mel spectrogram")
    p.add_argument("file", metavar="FILE", help="audio file (WAV, FLAC, OGG) or raw PCM with --encoding")
    p.add_argument("--out", metavar="PNG", help="where to write the picture (default: FILE with .png)")
    p.add_argument("--bits", type=int, default=4, help="bits of the quantisation shown in the zoom (1..16, default: 4)")
    p.add_argument("--encoding", help="FILE is headerless PCM in this encoding (s16le, mulaw, alaw, ...)")
    p.add_argument("--rate", type=int, help="sample rate of headerless PCM (Hz)")
    p.add_argument("--channels", type=int, default=1, help="interleaved channels of headerless PCM (default: 1)")
    p.set_defaults(func=audio_plot)


def audio_plot(args) -> None:
    from transmodal.audio.io import load_audio, read_pcm
    from transmodal.audio.plot import plot_audio

    if not 1 <= args.bits <= 16:
        raise ValueError(f"--bits {args.bits}: choose from 1 to 16")
    if args.encoding:
        if args.rate is None:
            raise ValueError("--encoding describes headerless PCM, which also needs --rate (e.g. --rate 8000)")
        audio = read_pcm(args.file, args.rate, args.encoding, args.channels)
    else:
        if args.rate is not None:
            raise ValueError("--rate is only for headerless PCM (with --encoding); a file's header gives its rate")
        audio = load_audio(args.file)
    out = Path(args.out) if args.out else Path(args.file).with_suffix(".png")
    path = plot_audio(audio, out, bits=args.bits, title=Path(args.file).name)
    print(f"plot written to {path}", file=sys.stderr)

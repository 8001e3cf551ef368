"""Speech benchmarks: real-time factor of a recogniser, encoder cost against audio length, training throughput.

    rtf         One 3-second answer, one CPU thread: read the WAV, log-mel features, encoder + CTC head, and
                closed-set scoring against the largest answer set (the numbers zero … cento e vinte plus "não sei"
                and "prefiro não responder"). The reference implementation, timed in the same run on the same
                features, is ONNX Runtime executing the exported encoder + head. RTF = processing time / 3 s.
                With ``--encoders``, the same pipeline is timed for each named encoder's "cpu" configuration in
                place of the model's own (untrained weights: the cost does not depend on their values), one
                after another in one process, for the encoder comparison of the pt-quiz recipe.
    length      Time and peak memory of one forward pass (eval, no grad) of each encoder's "cpu" configuration
                (≈2.6 M parameters each) over 1, 5, 10, 30 and 60 minutes of audio in one piece (log-mel frames,
                front end excluded). Each point runs in its own process with an address-space cap, so a model that
                needs more memory fails cleanly ("out of memory") instead of taking the machine down. Writes a plot.
    throughput  Training steps per second (forward, CTC loss, backward, AdamW) of the five "cpu" encoders on the
                same batch of audio, timed round-robin A B C D E … in one process so machine noise hits all alike.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_asr.py rtf --model runs/pt-quiz/best
    PYTHONPATH=src .venv/bin/python benchmarks/bench_asr.py rtf --encoders speech_cnn,conformer,zipformer
    PYTHONPATH=src .venv/bin/python benchmarks/bench_asr.py length --out benchmarks/asr_length.png
    PYTHONPATH=src .venv/bin/python benchmarks/bench_asr.py throughput --steps 8
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

ENCODERS = {  # arch → module holding its CONFIGS
    "speech_cnn": "speech_cnn",
    "speech_transformer": "speech_transformer",
    "conformer": "conformer",
    "fast_conformer": "fast_conformer",
    "zipformer": "zipformer",
}
FRAMES_PER_MINUTE = 6000  # 10 ms hop


def build_encoder(arch: str, name: str = "cpu"):
    from transmodal.models.registry import build

    cfg = importlib.import_module(f"transmodal.models.{ENCODERS[arch]}").config(name)
    return build(arch, asdict(cfg))


def machine() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads()}


def median_time(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------------- rtf
def answer_wav(folder: Path, seconds: float = 3.0, text: str = "noventa e nove") -> Path:
    """``text`` spoken by espeak-ng pt-br, padded with silence to exactly ``seconds`` at 16 kHz."""
    from transmodal.audio.io import Audio, load_audio, save_audio
    from transmodal.audio.synth.engines import EspeakNG

    raw = EspeakNG().synthesize(text, "pt-br", folder / "raw.wav")
    speech = load_audio(raw, sample_rate=16000).samples[0]
    n = int(seconds * 16000)
    wave = torch.zeros(n)
    start = (n - min(n, speech.shape[0])) // 2
    wave[start:start + min(n, speech.shape[0])] = speech[:n]
    return save_audio(folder / "answer.wav", Audio(wave[None], 16000))


def bench_rtf(args) -> dict:
    from transmodal.asr.model import SpeechRecognizer, SpeechRecognizerConfig, Transcriber

    torch.set_num_threads(args.threads)
    if not args.encoders:
        return rtf_of(Transcriber.load(args.model), args)
    rows, t = [], Transcriber.load(args.model)  # its vocabulary, front end and trimming; the encoder is swapped
    for arch in args.encoders.split(","):
        cfg = importlib.import_module(f"transmodal.models.{ENCODERS[arch]}").config("cpu")
        t.model = SpeechRecognizer(SpeechRecognizerConfig(encoder=arch, encoder_config=asdict(cfg),
                                                          vocab_size=t.vocab.vocab_size,
                                                          sample_rate=t.model.sample_rate)).eval()
        torch.manual_seed(0)
        row = rtf_of(t, args)
        row.update(encoder=arch, parameters=sum(p.numel() for p in t.model.parameters()))
        print(json.dumps({k: row[k] for k in ("encoder", "parameters", "rtf")}), file=sys.stderr)
        rows.append(row)
    return {"benchmark": "rtf per encoder (untrained weights)", "rows": rows}


def rtf_of(t, args) -> dict:
    """The RTF benchmark of one :class:`~transmodal.asr.model.Transcriber` (see the module docstring)."""
    from transmodal.asr.closed_set import ClosedSetScorer
    from transmodal.asr.onnx import export_onnx
    from transmodal.audio.synth.texts import pt_number_texts

    answers = pt_number_texts() + ["não sei", "prefiro não responder"]
    scorer = ClosedSetScorer(answers, t.vocab, temperature=t.calibrator or 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        wav = answer_wav(Path(tmp), args.seconds)

        def pipeline():
            wave = t.read(wav)
            lp = t.log_probs([wave])[0]
            return scorer(lp[None], torch.tensor([lp.shape[0]]))[0]

        result = pipeline()
        total = median_time(pipeline, args.repeats)
        wave = t.read(wav)
        if t.trim:  # the parts are timed on what the pipeline feeds the model: the speech without leading silence
            from transmodal.audio.trim import trim_silence

            wave = trim_silence(wave, t.model.sample_rate, t.model.min_samples())
        wave = wave[None]
        lengths = torch.tensor([wave.shape[1]])
        with torch.no_grad():
            feats, flen = t.model.features(wave, lengths)
            lp, lp_len = t.model.forward_features(feats, flen)
        front = median_time(lambda: t.model.features(wave, lengths), args.repeats)
        with torch.no_grad():
            enc = median_time(lambda: t.model.forward_features(feats, flen), args.repeats)
        score = median_time(lambda: scorer(lp, lp_len), args.repeats)
        onnx_s = None
        try:
            import onnxruntime as ort

            path = export_onnx(t.model, Path(tmp) / "model.onnx")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = args.threads
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            inputs = {"feats": feats.numpy(), "lengths": flen.numpy()}
            onnx_s = median_time(lambda: sess.run(None, inputs), args.repeats)
        except Exception as e:  # the reference is optional; say why it is missing
            print(f"ONNX Runtime reference skipped: {e}", file=sys.stderr)
    return {"benchmark": "rtf", "model": str(args.model), "seconds_of_audio": args.seconds, "candidates": len(answers),
            "answer": result.candidates[result.best], "confidence": round(result.confidence, 4),
            "total_s": total, "rtf": total / args.seconds,
            "parts_s": {"features": front, "encoder_and_head_torch": enc, "closed_set_scoring": score,
                        "encoder_and_head_onnxruntime": onnx_s},
            "torch_vs_onnxruntime": (enc / onnx_s) if onnx_s else None, **machine()}


# ---------------------------------------------------------------------------------------------------- length
def one_length(arch: str, minutes: float, threads: int) -> dict:
    """One forward pass of ``arch`` over ``minutes`` of frames; run inside a child process."""
    torch.set_num_threads(threads)
    model = build_encoder(arch).eval()
    n_mels = model.config.n_mels
    frames = int(minutes * FRAMES_PER_MINUTE)
    feats = torch.randn(1, frames, n_mels)
    lengths = torch.tensor([frames])
    with torch.no_grad():
        model(feats[:, :2000], torch.tensor([2000]))  # warm-up on 20 s
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        out, out_len = model(feats, lengths)
        seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"arch": arch, "minutes": minutes, "frames_out": int(out_len[0]), "seconds": seconds,
            "peak_rss_mib": peak / 1024, "peak_above_warmup_mib": (peak - base) / 1024}


def bench_length(args) -> dict:
    minutes = [float(m) for m in args.minutes.split(",")]
    rows = []
    for arch in args.encoders.split(","):
        failed = False
        for m in minutes:
            if failed:  # longer inputs cannot fit either
                rows.append({"arch": arch, "minutes": m, "status": "skipped (a shorter input already failed)"})
                continue
            cmd = [sys.executable, __file__, "_one", "--arch", arch, "--minutes", str(m), "--threads", str(args.threads),
                   "--max-gib", str(args.max_gib)]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                rows.append({"arch": arch, "minutes": m, "status": f"timeout (> {args.timeout} s)"})
                failed = True
                continue
            if p.returncode == 0:
                row = json.loads(p.stdout.strip().splitlines()[-1])
                row["status"] = "ok"
            else:
                tail = (p.stderr.strip().splitlines() or ["?"])[-1][:160]
                oom = "memory" in p.stderr.lower() or "alloc" in p.stderr.lower() or p.returncode in (-9, 137)
                row = {"arch": arch, "minutes": m, "status": f"out of memory (> {args.max_gib} GiB)" if oom else f"failed: {tail}"}
                failed = True
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        plot_length(rows, Path(args.out))
    return {"benchmark": "length", "max_gib": args.max_gib, "rows": rows, **machine()}


def plot_length(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for arch in dict.fromkeys(r["arch"] for r in rows):
        ok = [r for r in rows if r["arch"] == arch and r.get("status") == "ok"]
        if not ok:
            continue
        xs = [r["minutes"] for r in ok]
        ax_t.plot(xs, [r["seconds"] for r in ok], "o-", label=arch)
        ax_m.plot(xs, [r["peak_rss_mib"] / 1024 for r in ok], "o-", label=arch)
        last = [r for r in rows if r["arch"] == arch and r.get("status") != "ok"]
        if last:
            ax_t.annotate(last[0]["status"].split(" (")[0], (xs[-1], ok[-1]["seconds"]), fontsize=7,
                          xytext=(4, 4), textcoords="offset points")
    for ax, label in ((ax_t, "seconds (one forward pass)"), (ax_m, "peak memory (GiB, whole process)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("audio length (minutes, one piece)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    xs = sorted({r["minutes"] for r in rows})
    ref = [r for r in rows if r["arch"] == "fast_conformer" and r.get("status") == "ok"]
    if ref:  # guides: slope 1 (linear) and slope 2 (quadratic) through Fast Conformer's first point
        x0, y0 = ref[0]["minutes"], ref[0]["seconds"]
        ax_t.plot(xs, [y0 * (x / x0) for x in xs], "k:", lw=0.8, label="∝ length")
        ax_t.plot(xs, [y0 * (x / x0) ** 2 for x in xs], "k--", lw=0.8, label="∝ length²")
    ax_t.legend(fontsize=8)
    fig.suptitle("Speech encoders ('cpu' configurations, ≈2.6 M parameters): cost of one pass against audio length")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------- throughput
def bench_throughput(args) -> dict:
    from transmodal.asr.ctc import ctc_loss
    from transmodal.asr.model import SpeechRecognizer, SpeechRecognizerConfig

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    b, n = args.batch, int(args.seconds * 16000)
    waves = torch.randn(b, n) * 0.1
    lengths = torch.full((b,), n)
    targets = torch.randint(1, 42, (b, 12))
    target_lengths = torch.full((b,), 12)
    models, opts = {}, {}
    for arch in args.encoders.split(","):
        cfg = importlib.import_module(f"transmodal.models.{ENCODERS[arch]}").config("cpu")
        models[arch] = SpeechRecognizer(SpeechRecognizerConfig(encoder=arch, encoder_config=asdict(cfg), vocab_size=42)).train()
        opts[arch] = torch.optim.AdamW(models[arch].parameters(), lr=1e-4)

    def step(arch):
        lp, lp_len = models[arch](waves, lengths)
        loss = ctc_loss(lp, lp_len, targets, target_lengths)
        opts[arch].zero_grad()
        loss.backward()
        opts[arch].step()

    wall = {a: [] for a in models}
    cpu = {a: [] for a in models}
    for a in models:
        step(a)  # warm-up
    for i in range(args.steps):
        order = list(models) if i % 2 == 0 else list(reversed(models))
        for a in order:
            t0, c0 = time.perf_counter(), time.process_time()
            step(a)
            wall[a].append(time.perf_counter() - t0)
            cpu[a].append(time.process_time() - c0)
    rows = []
    for a in models:
        rows.append({"arch": a, "parameters": sum(p.numel() for p in models[a].parameters()),
                     "step_s_wall": statistics.median(wall[a]), "step_s_cpu": statistics.median(cpu[a]),
                     "audio_seconds_per_s": b * args.seconds / statistics.median(wall[a])})
    return {"benchmark": "throughput", "batch": b, "seconds_per_item": args.seconds, "steps": args.steps, "rows": rows,
            **machine()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rtf")
    r.add_argument("--model", default="pt-quiz")
    r.add_argument("--seconds", type=float, default=3.0)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--repeats", type=int, default=20)
    r.add_argument("--encoders", default="", help="comma-separated encoder archs to time in place of the model's own")
    ln = sub.add_parser("length")
    ln.add_argument("--encoders", default=",".join(ENCODERS))
    ln.add_argument("--minutes", default="1,5,10,30,60")
    ln.add_argument("--threads", type=int, default=2)
    ln.add_argument("--max-gib", type=float, default=12.0)
    ln.add_argument("--timeout", type=int, default=600)
    ln.add_argument("--out", default="benchmarks/asr_length.png")
    one = sub.add_parser("_one")  # internal: one point of `length`, in a child process
    one.add_argument("--arch")
    one.add_argument("--minutes", type=float)
    one.add_argument("--threads", type=int)
    one.add_argument("--max-gib", type=float)
    t = sub.add_parser("throughput")
    t.add_argument("--encoders", default=",".join(ENCODERS))
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--seconds", type=float, default=3.0)
    t.add_argument("--steps", type=int, default=6)
    t.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    if args.cmd == "_one":
        cap = int(args.max_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        print(json.dumps(one_length(args.arch, args.minutes, args.threads)))
        return
    result = {"rtf": bench_rtf, "length": bench_length, "throughput": bench_throughput}[args.cmd](args)
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

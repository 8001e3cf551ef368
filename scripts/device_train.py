"""Train several recipes side by side on one lent GPU machine, inside one command of fixed length.

    python3 scripts/device_train.py fashion --data .carry/fashion --out "$OUT" --deadline 560
    python3 scripts/device_train.py text    --data .carry/text    --out "$OUT" --deadline 560

This is how the GPU-trained shipped models were made (each recipe's report says which). The machine
runs one command for at most 10 minutes and sends back at most 8 files of 16 MiB, so the script:

1. unpacks the carried data into ``$TRANSMODAL_DATA`` (``*.xz`` files are decompressed; Fashion-MNIST's
   test split is *not* carried, for lack of room: a stand-in made of training images lets the
   recipes finish, and the real test figures are computed afterwards on the CPU);
2. starts every job of the group at once with its full step count (a *probe*), reads each job's
   training speed from its ``metrics.jsonl`` after ``--probe`` seconds, and stops the probes;
3. restarts each job with ``max_steps = min(cap, speed × time left × 0.85)``, so that the cosine
   schedule ends before the deadline, then runs each job's follow-up commands (``after``);
4. at the deadline stops whatever still runs and packs each job's folder (without ``last/``, the
   optimizer state) into ``OUT/NAME.tar.gz``, split into 15 MiB parts where needed.

Jobs without ``{steps}`` in their arguments skip the probe and run as given.

Room: the working tree travels with the carried data, 64 MiB in all, and the shipped models fill most of it. For
stop 18's ``vit-mix`` runs the three largest (``en-pt``, ``machado-bert``, ``machado-gpt``, which these jobs do not
need) were taken out of the index for the calls (``git rm -r --cached`` plus ``.git/info/exclude``, both undone
afterwards), which left room for all of Fashion-MNIST as ``.xz`` (26 MiB), its test split included.
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PART_BYTES = 15 * 2**20


@dataclass
class Job:
    name: str
    argv: list[str]  # `transmodal train` arguments; {out} and {steps} are filled in
    cap: int = 0  # most steps wanted (the recipe's full schedule); 0 = no probe
    overhead_s: float = 30.0  # start-up plus final evaluation, reserved out of the time left
    after: list[list[str]] = field(default_factory=list)  # follow-up `transmodal train` commands
    after_s: float = 0.0  # time reserved for them
    drop: tuple[str, ...] = ("/last",)  # paths containing one of these are not packed (last/: the optimizer state)


NO_BAR = ["--no-progress"]
# fashion-vit's defaults until stop 17 (conv stem of width 256, batch 128, no mixing): the runs made with them keep them
VIT_BEFORE_18 = ["--model", "fashion-conv", "--batch-size", "128", "--lr", "1e-3", "--mix-prob", "0"]
FINETUNED = ("/last", "/period/pretrained/best", "/period/scratch/best")  # keep the pre-trained model, not the fine-tuned ones
def mixed_vit(name: str, model: str, batch: int, lr: str, epochs: int, threads: int) -> Job:
    """A fashion-vit job with CutMix/mixup on every batch, capped at ``epochs`` of the 55,000 training images."""
    argv = ["fashion-vit", "--model", model, "--batch-size", str(batch), "--lr", lr, "--mix-prob", "1.0",
            "--out", "{out}", "--max-steps", "{steps}", "--threads", str(threads), *NO_BAR]
    return Job(name, argv, cap=epochs * -(-55000 // batch), overhead_s=45)


GROUPS: dict[str, list[Job]] = {
    "fashion": [
        Job("vit", ["fashion-vit", *VIT_BEFORE_18, "--out", "{out}", "--max-steps", "{steps}", "--threads", "2", *NO_BAR], cap=17200),
        Job("vitm", ["fashion-vit", *VIT_BEFORE_18, "--model", "fashion-conv-m", "--out", "{out}", "--max-steps", "{steps}", "--threads", "2", *NO_BAR], cap=17200),
        Job("cmp", ["fashion-vit", *VIT_BEFORE_18, "--compare", "--epochs", "5", "--out", "{out}", "--threads", "2", *NO_BAR], drop=("/last", "/best")),
        Job("clip", ["clip", "--data", "fashion", "--vision-width", "128", "--vision-layers", "4", "--epochs", "30",
                     "--out", "{out}", "--max-steps", "{steps}", "--threads", "2", *NO_BAR], cap=6450, overhead_s=40),
        Job("pixgpt", ["pixel-gpt", "--model", "fashion-small", "--test-limit", "500", "--out", "{out}",
                       "--max-steps", "{steps}", "--threads", "2", *NO_BAR], cap=18140, overhead_s=90),
        Job("imagine", ["imagine", "--model", "base", "--out", "{out}", "--max-steps", "{steps}", "--threads", "2", *NO_BAR],
            cap=12000, overhead_s=150),
    ],
    # the classifier alone, on longer schedules (the conv-stem ViT at two widths)
    "vit": [
        Job("vit40", ["fashion-vit", *VIT_BEFORE_18, "--out", "{out}", "--max-steps", "{steps}", "--threads", "4", *NO_BAR], cap=17200),
        Job("vitm40", ["fashion-vit", *VIT_BEFORE_18, "--model", "fashion-conv-m", "--out", "{out}", "--max-steps", "{steps}", "--threads", "4", *NO_BAR], cap=17200),
        Job("vitm60", ["fashion-vit", *VIT_BEFORE_18, "--model", "fashion-conv-m", "--epochs", "60", "--out", "{out}", "--max-steps", "{steps}",
                       "--threads", "4", *NO_BAR], cap=25800),
    ],
    # stop 18: long schedules with CutMix/mixup on every batch and larger batches (the GPU is idle at batch 128);
    # m512 was the best of the first three on validation, so m512L ran it alone for longer, m1024L at twice the batch
    "vit-mix": [
        mixed_vit("m512", "fashion-conv-m", 512, "2e-3", epochs=300, threads=4),
        mixed_vit("m256", "fashion-conv-m", 256, "1.5e-3", epochs=300, threads=4),
        mixed_vit("c512", "fashion-conv", 512, "1.5e-3", epochs=300, threads=4),
        mixed_vit("m512L", "fashion-conv-m", 512, "2e-3", epochs=400, threads=8),
        mixed_vit("m1024L", "fashion-conv-m", 1024, "2.8e-3", epochs=400, threads=8),
    ],
    "text": [
        Job("bert", ["bert-pretrain", "--out", "{out}/pre", "--max-steps", "{steps}", "--threads", "4", *NO_BAR], cap=6000,
            after=[["bert-finetune", "--pretrained", "{out}/pre/best", "--out", "{out}/period", "--limit-train", "2000",
                    "--threads", "4", *NO_BAR]], after_s=120, drop=FINETUNED),
        Job("berthi", ["bert-pretrain", "--lr", "1e-3", "--out", "{out}/pre", "--max-steps", "{steps}", "--threads", "4", *NO_BAR],
            cap=6000, after=[["bert-finetune", "--pretrained", "{out}/pre/best", "--out", "{out}/period", "--limit-train", "2000",
                              "--threads", "4", *NO_BAR]], after_s=120, drop=FINETUNED),
        Job("gpt", ["gpt-pretrain", "--out", "{out}", "--max-steps", "{steps}", "--threads", "4", *NO_BAR], cap=6000, overhead_s=60),
    ],
    # a few seconds of each mechanism, for checking this script on a CPU
    "smoke": [
        Job("vit", ["fashion-vit", "--model", "fashion-conv-s", "--limit", "2048", "--valid-size", "256", "--test-limit", "64",
                    "--batch-size", "32", "--out", "{out}", "--max-steps", "{steps}", "--threads", "1", *NO_BAR], cap=400, overhead_s=20),
        Job("cmp", ["fashion-vit", "--compare", "--compare-models", "fashion-p7", "--limit", "256", "--valid-size", "64",
                    "--test-limit", "64", "--epochs", "1", "--out", "{out}", "--threads", "1", *NO_BAR], drop=("/last", "/best")),
        Job("bert", ["bert-pretrain", "--model", "tiny", "--max-len", "64", "--limit-works", "4", "--batch-size", "8", "--eval-every", "20",
                     "--out", "{out}/pre", "--max-steps", "{steps}", "--threads", "1", *NO_BAR], cap=60, overhead_s=20,
            after=[["bert-finetune", "--pretrained", "{out}/pre/best", "--out", "{out}/period", "--limit-train", "64", "--max-steps", "4",
                    "--eval-every", "2", "--eval-examples", "16", "--threads", "1", *NO_BAR]], after_s=30),
    ],
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def unpack(src: Path, data: Path) -> None:
    """Copy the carried data into ``data``, decompressing ``*.xz``; fake a Fashion-MNIST test split if missing."""
    for f in sorted(src.rglob("*")):
        if f.is_dir():
            continue
        rel = f.relative_to(src)
        folder = data / ("fashion-mnist" if "idx" in f.name else "machado")
        folder.mkdir(parents=True, exist_ok=True)
        if f.suffix == ".xz":  # IDX files go back to .gz, the names the loaders look for
            raw = lzma.decompress(f.read_bytes())
            if "idx" in f.name:
                (folder / (rel.name[:-3] + ".gz")).write_bytes(gzip.compress(raw, compresslevel=1))
            else:
                (folder / rel.name[:-3]).write_bytes(raw)
        else:
            shutil.copy(f, folder / rel.name)
    fm = data / "fashion-mnist"
    if fm.is_dir() and not (fm / "t10k-images-idx3-ubyte.gz").exists():
        images = gzip.decompress((fm / "train-images-idx3-ubyte.gz").read_bytes())
        labels = gzip.decompress((fm / "train-labels-idx1-ubyte.gz").read_bytes())
        n = 2000  # stand-in test split: the first 2,000 training images (real test figures come later, on the CPU)
        (fm / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(images[:4] + n.to_bytes(4, "big") + images[8:16] + images[16:16 + n * 784]))
        (fm / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels[:4] + n.to_bytes(4, "big") + labels[8:8 + n]))
        log("Fashion-MNIST test split faked from 2,000 training images: its 'test' figures are NOT test figures")


def fill(argv: list[str], out: Path, steps: int) -> list[str]:
    return [a.replace("{out}", str(out)).replace("{steps}", str(steps)) for a in argv]


def start(argv: list[str], logfile: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "transmodal", "train", *argv]
    handle = open(logfile, "a")
    handle.write(" ".join(cmd) + "\n")
    handle.flush()
    return subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def steps_per_second(metrics: Path) -> float | None:
    """Training speed from the last log lines of a trainer's metrics.jsonl (the first line, with start-up, is skipped)."""
    if not metrics.is_file():
        return None
    rows = [r for r in map(json.loads, metrics.read_text().splitlines()) if "elapsed_s" in r]
    if len(rows) < 3:
        return None
    a, b = rows[1], rows[-1]
    return (b["step"] - a["step"]) / max(1e-6, b["elapsed_s"] - a["elapsed_s"])


def budget_steps(rate: float | None, seconds_left: float, cap: int, safety: float = 0.85) -> int:
    """Steps that fit in ``seconds_left`` at ``rate`` steps/s, at most ``cap`` (a tenth of it when the rate is unknown)."""
    if rate is None:
        return max(1, cap // 10)
    return max(1, min(cap, int(rate * seconds_left * safety)))


def pack(folder: Path, out: Path, name: str, dropped: tuple[str, ...] = ("/last",)) -> list[str]:
    """``folder`` as ``out/name.tar.gz`` (split into parts of at most 15 MiB), leaving out paths with ``dropped`` parts."""
    archive = out / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(folder, arcname=name, filter=lambda t: None if any(d in t.name for d in dropped) else t)
    if archive.stat().st_size <= PART_BYTES:
        return [archive.name]
    parts, data = [], archive.read_bytes()
    for i in range(0, len(data), PART_BYTES):
        part = out / f"{name}.tar.gz.part{i // PART_BYTES}"
        part.write_bytes(data[i : i + PART_BYTES])
        parts.append(part.name)
    archive.unlink()
    return parts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("group", choices=sorted(GROUPS))
    p.add_argument("--data", required=True, help="the carried data folder")
    p.add_argument("--out", required=True)
    p.add_argument("--deadline", type=float, default=560, help="seconds from start until everything is packed")
    p.add_argument("--probe", type=float, default=75, help="seconds of probe training before steps are chosen")
    p.add_argument("--no-probe", action="store_true", help="run every job at its cap at once (when the time surely suffices)")
    p.add_argument("--only", default="", help="comma-separated job names (default: all of the group)")
    args = p.parse_args()
    names = [j.name for j in GROUPS[args.group]]
    unknown = [n for n in args.only.split(",") if n and n not in names] if args.only else []
    if unknown:
        p.error(f"--only {args.only}: group {args.group} has no job {', '.join(unknown)} (its jobs: {', '.join(names)})")
    t0 = time.time()
    out, work = Path(args.out), Path("/tmp/device_runs")
    data = Path("/tmp/device_data")
    unpack(Path(args.data), data)
    os.environ["TRANSMODAL_DATA"] = str(data)
    os.environ["PYTHONUNBUFFERED"] = "1"
    os.environ["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")
    jobs = [j for j in GROUPS[args.group] if not args.only or j.name in args.only.split(",")]
    logs = {j.name: work / j.name / "device.log" for j in jobs}  # packed with the job's outputs
    for f in logs.values():
        f.parent.mkdir(parents=True, exist_ok=True)

    probed = [j for j in jobs if j.cap and not args.no_probe]
    probes = {j.name: start(fill(j.argv, work / "probe" / j.name, j.cap), logs[j.name]) for j in probed}
    running = {j.name: start(fill(j.argv, work / j.name, j.cap), logs[j.name]) for j in jobs if j not in probed}
    if probed:
        time.sleep(args.probe)
    for j in probed:
        rate = steps_per_second(work / "probe" / j.name / "metrics.jsonl")
        stop(probes[j.name])
        left = t0 + args.deadline - time.time() - j.overhead_s - j.after_s
        steps = budget_steps(rate, left, j.cap)
        log(f"{j.name}: {rate or 0:.2f} steps/s in the probe → {steps} steps ({left:.0f} s left for training)")
        running[j.name] = start(fill(j.argv, work / j.name, steps), logs[j.name])
    pending = {j.name: list(j.after) for j in jobs}
    while running and time.time() < t0 + args.deadline:
        for name, proc in list(running.items()):
            if proc.poll() is None:
                continue
            log(f"{name}: exit {proc.returncode} at {time.time() - t0:.0f} s")
            del running[name]
            if proc.returncode == 0 and pending[name]:
                running[name] = start(fill(pending[name].pop(0), work / name, 0), logs[name])
        time.sleep(2)
    for name, proc in running.items():
        log(f"{name}: still running at the deadline, stopped")
        stop(proc)
    for j in jobs:
        if (work / j.name).is_dir():
            tail = logs[j.name].read_text(errors="replace").splitlines()[-6:]
            print(f"--- {j.name} log tail\n" + "\n".join(t[-300:] for t in tail), flush=True)
            log(f"{j.name}: packed {', '.join(pack(work / j.name, out, j.name, j.drop))}")
    log(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

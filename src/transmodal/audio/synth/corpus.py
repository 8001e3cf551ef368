"""``build_corpus(spec)``: a cached, resumable synthetic speech corpus with train and holdout manifests.

Layout of ``spec.out_dir``::

    train.jsonl            one utterance per line (the path build_corpus returns)
    holdout.jsonl          the same texts spoken by the holdout voices (never in train.jsonl)
    wavs/<split>/<ab>/<key>.wav
    spec.json              the spec and the voices it resolved to
    build_log.jsonl        one line per build: planned / synthesised / reused counts

A manifest line::

    {"audio": "wavs/train/3f/3f9c….wav", "text": "vinte e três", "duration": 1.234,
     "voice": "espeak-ng:pt-br+f3", "engine": "espeak-ng", "augment": ["speed:1.08", "noise:pink@12.5dB"],
     "split": "train", "key": "3f9c…"}

**Planning is deterministic** (:mod:`.plan`): every utterance is decided before any is synthesised,
and its ``key``, a hash of all that decides its audio, names its WAV. **Caching/resuming:** an utterance whose WAV exists and whose key is in the
manifest is skipped; a WAV without its manifest line (a build killed between the two writes) is
re-listed without synthesis; a manifest line whose WAV was deleted is dropped and the WAV rebuilt. WAVs
are written atomically and manifest lines appended one at a time, so an interrupted build loses at most
the utterances in flight. Manifests always describe the current spec only; WAVs of other specs stay on
disk as cache.

**One build per folder at a time.** A build holds an exclusive lock on ``<out_dir>/.lock`` (``flock``) from
start to end. A second process building into the same folder (two recipes sharing ``--corpus``) says so and
waits, then finds the utterances already there instead of racing the first for the same files.

**Holdout.** ``holdout_voices`` never speak a training line. MBROLA ``br4`` is evaluation-only: it is
refused as a training voice (:func:`~transmodal.audio.synth.engines.check_training_voice`) when the
plan is made and again before any training line is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import multiprocessing
import os
import sys
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from transmodal.audio.synth.augment import apply_steps
from transmodal.audio.synth.dsp import read_wav, resample, write_wav
from transmodal.audio.synth.engines import ENGINES, Voice, check_training_voice, get_engine
from transmodal.audio.synth.plan import FORMAT_VERSION, SPLITS, CorpusSpec, Job, make_engines, plan_corpus, resolve_voices

CLEAN_PEAK = 0.5  # clean TTS output is scaled to this peak (−6 dBFS), leaving headroom for gain


# -- rendering (runs in worker processes) --------------------------------------------------------------------
_WORKER: dict = {}  # engines and a small cache of clean babble talkers, per process


def _worker_init(binaries: dict[str, str], tmp_dir: str) -> None:
    _WORKER.clear()
    _WORKER.update(engines={name: get_engine(name, binaries.get(name)) for name in ENGINES}, tmp=tmp_dir,
                   clean=OrderedDict())


def _speak(text: str, voice: str, speed: float, pitch: float, sr: int) -> np.ndarray:
    """Synthesise one clean utterance at ``sr``, peak-normalised to :data:`CLEAN_PEAK`."""
    v = Voice.parse(voice)
    tmp = Path(_WORKER["tmp"]) / f"{os.getpid()}-{uuid.uuid4().hex}.wav"
    try:
        _WORKER["engines"][v.engine].synthesize(text, v.name, tmp, speed=speed, pitch=pitch)
        x, native = read_wav(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    x = resample(x, native, sr)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak == 0.0:
        raise RuntimeError(f"{voice} produced silence for {text!r}")
    return x * (CLEAN_PEAK / peak)


def _babble_source(text: str, voice: str, sr: int) -> np.ndarray:
    cache: OrderedDict = _WORKER["clean"]
    key = (text, voice, sr)
    if key not in cache:
        cache[key] = _speak(text, voice, 1.0, 1.0, sr)
        if len(cache) > 128:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


def _render(job: Job, out_dir: str) -> tuple[str, float]:
    """Synthesise and augment ``job``, write its WAV; returns (key, duration in seconds)."""
    sr = job.sample_rate
    x = _speak(job.text, job.voice, job.speed, job.pitch, sr)
    sources = [_babble_source(t, v, sr) for t, v in job.babble]
    y = apply_steps(x, sr, job.steps, sources)
    write_wav(Path(out_dir) / job.audio, y, sr)
    return job.key, len(y) / sr


# -- the builder -----------------------------------------------------------------------------------------------
def build_corpus(spec: CorpusSpec) -> Path:
    """Synthesise what is missing of ``spec``'s corpus; returns the path of the training manifest (train.jsonl)."""
    out = Path(spec.out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    with _folder_lock(out):
        return _build_locked(spec, out)


@contextlib.contextmanager
def _folder_lock(out: Path):
    """Hold an exclusive ``flock`` on ``out/.lock``; if another process holds it, say so on stderr and wait."""
    with open(out / ".lock", "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            print(f"{out}: waiting for a build already running there ({holder})", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_locked(spec: CorpusSpec, out: Path) -> Path:
    engines = make_engines(spec)
    jobs = plan_corpus(spec, engines)
    train_voices, holdout_voices = resolve_voices(spec, engines)
    _write_json(out / "spec.json", {**_spec_dict(spec), "resolved_train_voices": train_voices,
                                    "resolved_holdout_voices": holdout_voices, "format_version": FORMAT_VERSION})
    by_key = {j.key: j for j in jobs}
    manifests = {s: out / f"{s}.jsonl" for s in SPLITS}

    # what is already there: manifest lines whose WAV exists, and WAVs whose line was never written
    listed = {}
    for path in manifests.values():
        for line in _read_jsonl(path):
            if line.get("key") in by_key and (out / line["audio"]).is_file():
                listed[line["key"]] = line
    todo, recovered = [], 0
    for job in jobs:
        if job.key in listed:
            continue
        wav = out / job.audio
        if wav.is_file():
            try:
                x, sr = read_wav(wav)
                listed[job.key] = job.manifest_line(len(x) / sr)
                recovered += 1
                continue
            except ValueError:
                wav.unlink()  # unreadable (should not happen: WAVs are written atomically)
        todo.append(job)
    reused = len(listed) - recovered
    _write_manifests(manifests, jobs, listed)

    tmp = out / "tmp"  # engines' raw output, deleted as soon as it is read
    tmp.mkdir(exist_ok=True)
    for leftover in tmp.glob("*.wav"):  # from a build that was killed (one build per folder at a time)
        leftover.unlink(missing_ok=True)
    started = time.time()
    handles = {s: open(p, "a", encoding="utf-8") for s, p in manifests.items()}
    try:
        with tqdm(total=len(todo), desc=f"synthesising {out.name}", unit="utt", disable=not spec.progress) as bar:
            for key, duration in _run_jobs(todo, spec, out, tmp):
                job = by_key[key]
                line = job.manifest_line(duration)
                _append(handles[job.split], line)
                listed[key] = line
                bar.update(1)
    finally:
        for h in handles.values():
            h.close()
    _write_manifests(manifests, jobs, listed)  # final order = plan order, whatever order workers finished in
    _remove_empty(tmp)
    stats = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "planned": len(jobs), "synthesised": len(todo), "reused": reused,
             "recovered": recovered, "seconds": round(time.time() - started, 2),
             "train": sum(j.split == "train" for j in jobs), "holdout": sum(j.split == "holdout" for j in jobs)}
    with open(out / "build_log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(stats) + "\n")
    return manifests["train"]


def _run_jobs(todo: list[Job], spec: CorpusSpec, out: Path, tmp: Path):
    """Yield (key, duration) of each rendered job, in completion order."""
    if not todo:
        return
    if spec.workers == 1 or len(todo) == 1:
        _worker_init(spec.engine_binaries, str(tmp))
        for job in todo:
            yield _render(job, str(out))
        return
    # spawn: fresh interpreters, no fork of a parent that may hold threads (torch, tqdm's monitor)
    pool = ProcessPoolExecutor(min(spec.workers, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(spec.engine_binaries, str(tmp)))
    try:
        futures = [pool.submit(_render, job, str(out)) for job in todo]
        for future in as_completed(futures):
            yield future.result()
    except BrokenProcessPool as e:
        raise RuntimeError("a synthesis worker process died. If you call build_corpus from a script, put the call "
                           "under `if __name__ == '__main__':` (workers re-import the script), or use workers=1") from e
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _append(handle, line: dict) -> None:
    if line["split"] == "train":
        check_training_voice(line["voice"])  # second guard: an evaluation-only voice never reaches train.jsonl
    handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    handle.flush()


def _write_manifests(manifests: dict[str, Path], jobs: list[Job], listed: dict[str, dict]) -> None:
    for split, path in manifests.items():
        lines = [listed[j.key] for j in jobs if j.split == split and j.key in listed]
        if split == "train":
            for line in lines:
                check_training_voice(line["voice"])
        tmp = path.with_name(path.name + ".part")
        tmp.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
        tmp.replace(path)


def _read_jsonl(path: Path) -> list[dict]:
    """Lines of a manifest; a torn last line (a build killed mid-write) is ignored."""
    if not path.is_file():
        return []
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict) and "key" in line and "audio" in line:
            out.append(line)
    return out


def read_manifest(path: str | Path) -> list[dict]:
    """The utterances of a manifest written by :func:`build_corpus`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no manifest at {path}; build one with build_corpus() or `transmodal speech-corpus`")
    return _read_jsonl(path)


def _spec_dict(spec: CorpusSpec) -> dict:
    return dataclasses.asdict(spec)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass

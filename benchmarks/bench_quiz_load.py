"""Load: N concurrent respondents answering the demo questionnaire by voice, against SQLite and PostgreSQL.

Each simulated respondent (one thread, one ``httpx.Client``) does what the respondent page does: start a
session on a link, consent by click (store answers: yes; keep audio: no; contact again: no), then for
every question that ``GET /next`` returns, upload a pre-synthesised spoken answer (espeak-ng pt-BR,
16 kHz mono 16-bit WAV, as the page sends), confirm read-backs, answer re-asks by speaking again, and
move past notes, until ``done``. All respondents start together (a barrier).

Measured per back-end:
* answers/s: answers acknowledged as stored (``stored: true``) ÷ wall time from the first request to the
  last acknowledgement;
* latency upload → stored: from the start of the upload whose answer got stored to the response that
  acknowledged it (the confirm call included when a read-back was needed); p50 / p95 / max;
* lost answers: acknowledged (session, question) pairs missing from the CSV export afterwards — must be 0;
  duplicated answers and failed requests (HTTP errors, time-outs) are counted too, and so are the
  503 "database busy" answers (nothing stored, Retry-After) that were sent again.

The server is the real one: ``transmodal serve`` subprocess(es) on free ports with a temp data dir.
``--processes 2`` starts two server processes sharing the database (clients spread over them), the
deployment PostgreSQL is for. PostgreSQL is started by the benchmark in a temp dir (Debian's
``postgresql``; installed with apt-get when missing and running as root; ``initdb``/``pg_ctl`` run as the
``postgres`` user when the benchmark runs as root) and stopped at the end.

The server needs the ``pt-quiz`` speech model (``transmodal.hub.shipped_models()``); without it every
upload is a 503 and the benchmark stops with that message.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_quiz_load.py                       # 50 respondents, both
    PYTHONPATH=src .venv/bin/python benchmarks/bench_quiz_load.py --respondents 5 --backend sqlite   # smoke
    PYTHONPATH=src .venv/bin/python benchmarks/bench_quiz_load.py --backend postgres --processes 2 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# Shared with the browser test: `transmodal serve` as a subprocess, and what respondents say (and its WAVs).
sys.path.insert(0, str(ROOT / "tests" / "quiz_browser"))
from serve_process import free_port, serve, staff_client  # noqa: E402
from voice_answers import spoken_answer, synthesise  # noqa: E402

LINK = {"municipality": "3550308", "clinic": "2077485", "team": "0001234567"}
REQUEST_TIMEOUT_S = 120
MAX_STEPS = 60  # requests per respondent before it is declared stuck


# ------------------------------------------------------------------------------------------------ servers

@contextlib.contextmanager
def quiz_servers(db_url: str | None, data_dir: Path, processes: int):
    """Start `processes` × `transmodal serve` on one database; yields their base URLs. The first one
    migrates the database and creates the admin account before the others start."""
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(serve(data_dir, db_url, log=data_dir.parent / f"server-{i}.log",
                                          name=f"transmodal serve #{i}"))
                for i in range(processes)]
        yield urls


def find_pg_bin() -> Path | None:
    """The folder of Debian's initdb/pg_ctl (newest version), or None."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


def ensure_postgres() -> Path:
    """Debian's PostgreSQL binaries; installs the `postgresql` package with apt-get when missing (as root)."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        if os.geteuid() != 0:
            raise RuntimeError("PostgreSQL is not installed and this is not root: run "
                               "`sudo apt-get install -y postgresql` first")
        print("installing Debian's postgresql with apt-get …", flush=True)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        pg_bin = find_pg_bin()
        if pg_bin is None:
            raise RuntimeError("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl was found")
    return pg_bin


@contextlib.contextmanager
def postgres_server(workdir: Path):
    """A throw-away PostgreSQL cluster in `workdir` (trust auth, 127.0.0.1 only); yields its SQLAlchemy URL."""
    pg_bin = ensure_postgres()
    data = workdir / "pgdata"
    data.mkdir(parents=True)
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the cluster as the postgres user
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    log = workdir / "postgres.log"
    subprocess.run([*as_postgres, str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8"], check=True, stdout=subprocess.DEVNULL)
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on"
    subprocess.run([*as_postgres, str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w",
                    "start"], check=True, stdout=subprocess.DEVNULL)
    try:
        subprocess.run([*as_postgres, str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                        "postgres", "quiz"], check=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/quiz"
    finally:
        subprocess.run([*as_postgres, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       stdout=subprocess.DEVNULL, check=False)


# ------------------------------------------------------------------------------------------------ staff side

def make_link(staff: httpx.Client) -> tuple[str, str]:
    """(form_id, link token) for the demo form (the first form listed when the demo is not there)."""
    forms = staff.get("/api/forms").raise_for_status().json()["forms"]
    if not forms:
        raise RuntimeError("the server has no questionnaire; `transmodal serve` should have imported the demo")
    form = next((f for f in forms if "satisfacao" in f["form_id"]), forms[0])
    r = staff.post("/api/links", json={"form_id": form["form_id"], **LINK}).raise_for_status()
    return form["form_id"], r.json()["token"]


def stored_answers(staff: httpx.Client, form_id: str) -> list[tuple[str, str]]:
    """(session_id, question) of every answer row in the CSV export."""
    r = staff.get("/api/export/answers.csv", params={"form_id": form_id}).raise_for_status()
    return [(row["session_id"], row["question"]) for row in csv.DictReader(io.StringIO(r.text))]


# ------------------------------------------------------------------------------------------------ respondents

class NoSpeechModel(RuntimeError):
    """The server answered 503 to a voice upload: no speech model there."""


@dataclass
class RespondentResult:
    session_id: str | None = None
    stored: list[str] = field(default_factory=list)            # questions acknowledged as stored
    latencies: list[float] = field(default_factory=list)       # s, upload start → stored acknowledgement
    uploads: int = 0
    confirms: int = 0
    give_ups: int = 0
    retries: int = 0                                            # 503 "database busy" answers sent again
    errors: list[str] = field(default_factory=list)
    first_request: float = 0.0
    last_ack: float = 0.0


class WavBank:
    """Spoken answers synthesised once per distinct text (thread-safe), as WAV bytes."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = threading.Lock()
        self._bytes: dict[str, bytes] = {}

    def answer_wav(self, question: dict) -> bytes:
        text = spoken_answer(question).text
        with self._lock:
            if text not in self._bytes:
                self._bytes[text] = synthesise(text, self.folder).read_bytes()
            return self._bytes[text]


def post(client: httpx.Client, url: str, out: RespondentResult, **kwargs) -> httpx.Response:
    """POST; a 503 "database busy" (with Retry-After, nothing stored) is sent again, up to 5 times, and
    counted in out.retries; a 503 about speech recognition means the server has no model."""
    for _ in range(5):
        res = client.post(url, **kwargs)
        if res.status_code != 503:
            return res
        is_json = res.headers.get("content-type", "").startswith("application/json")
        detail = res.json().get("detail", "") if is_json else ""
        if "speech recognition" in detail:
            raise NoSpeechModel(detail)
        out.retries += 1
        time.sleep(float(res.headers.get("retry-after", "1")))
    return res


def respond(base_url: str, token: str, bank: WavBank, barrier: threading.Barrier, out: RespondentResult) -> None:
    """One respondent, start to finish; every failure is recorded in out.errors (never raised)."""
    client = httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S)
    try:
        barrier.wait()
        out.first_request = time.perf_counter()
        r = client.post(f"/api/r/{token}/sessions").raise_for_status().json()
        out.session_id = r["session_id"]
        client.headers["X-Session-Secret"] = r["session_secret"]
        base = f"/api/sessions/{out.session_id}"
        for prompt in r["consent_prompts"]:
            granted = prompt["purpose"] == "store_answers"
            client.post(f"{base}/consent", json={"purpose": prompt["purpose"], "granted": granted,
                                                  "mode": "click"}).raise_for_status()
        upload_started = 0.0
        for _ in range(MAX_STEPS):
            nxt = client.get(f"{base}/next").raise_for_status().json()
            if nxt["done"]:
                return
            q = nxt["question"]
            name = q["name"]
            if q["type"] == "note":
                client.post(f"{base}/answers/{name}/choose", json={}).raise_for_status()
                continue
            if nxt.get("pending_confirmation"):
                res = post(client, f"{base}/answers/{name}/confirm", out, json={"accept": True})
                out.confirms += 1
            else:
                upload_started = time.perf_counter()
                res = post(client, f"{base}/answers/{name}", out,
                           files={"audio": (f"{name}.wav", bank.answer_wav(q), "audio/wav")})
                out.uploads += 1
            res.raise_for_status()
            body = res.json()
            if body.get("stored"):
                now = time.perf_counter()
                out.latencies.append(now - upload_started)
                out.stored.append(name)
                out.last_ack = now
                out.give_ups += body.get("decision") == "give_up"
        out.errors.append(f"stuck after {MAX_STEPS} steps")
    except NoSpeechModel:
        raise
    except httpx.HTTPStatusError as e:
        out.errors.append(f"HTTP {e.response.status_code} on {e.request.url.path}: {e.response.text[:200]}")
    except httpx.HTTPError as e:
        out.errors.append(f"{type(e).__name__}: {e}")
    finally:
        client.close()


def run_respondents(urls: list[str], token: str, n: int, bank: WavBank) -> list[RespondentResult]:
    results = [RespondentResult() for _ in range(n)]
    barrier = threading.Barrier(n)
    failures: list[BaseException] = []

    def target(i: int):
        try:
            respond(urls[i % len(urls)], token, bank, barrier, results[i])
        except NoSpeechModel as e:
            failures.append(e)
            barrier.abort()
        except threading.BrokenBarrierError:
            pass

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise NoSpeechModel(f"the server cannot recognise speech: {failures[0]}")
    return results


# ------------------------------------------------------------------------------------------------ one run

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def measure(backend: str, n: int, processes: int, workdir: Path, bank: WavBank) -> dict:
    """Start the database and server(s), warm up the speech model, run `n` respondents, check the store."""
    with contextlib.ExitStack() as stack:
        db_url = None
        if backend == "postgres":
            db_url = stack.enter_context(postgres_server(workdir / "pg"))
        data_dir = workdir / f"data-{backend}"
        data_dir.mkdir(parents=True)
        urls = stack.enter_context(quiz_servers(db_url, data_dir, processes))
        staff = staff_client(urls[0], REQUEST_TIMEOUT_S)
        form_id, token = make_link(staff)
        # Warm-up: one respondent per server process, so model loading is not counted as latency.
        run_respondents(urls, token, len(urls), bank)
        before = set(stored_answers(staff, form_id))
        started = time.perf_counter()
        results = run_respondents(urls, token, n, bank)
        wall = time.perf_counter() - started
        rows = [r for r in stored_answers(staff, form_id) if r not in before]
    acked = [(r.session_id, q) for r in results for q in r.stored]
    stored = set(rows)
    lat = [x for r in results for x in r.latencies]
    first = min((r.first_request for r in results if r.first_request), default=started)
    last = max((r.last_ack for r in results), default=first)
    return {
        "backend": backend, "processes": processes, "respondents": n,
        "answers_stored": len(acked), "uploads": sum(r.uploads for r in results),
        "confirms": sum(r.confirms for r in results), "give_ups": sum(r.give_ups for r in results),
        "busy_retries": sum(r.retries for r in results),
        "answers_per_s": len(acked) / (last - first) if last > first else float("nan"),
        "latency_p50_ms": 1000 * percentile(lat, 50), "latency_p95_ms": 1000 * percentile(lat, 95),
        "latency_max_ms": 1000 * max(lat, default=float("nan")),
        "lost_answers": len(set(acked) - stored),
        "duplicate_rows": len(rows) - len(stored),
        "failed_respondents": sum(1 for r in results if r.errors),
        "errors": [e for r in results for e in r.errors][:10],
        "wall_s": wall,
    }


def markdown(rows: list[dict]) -> str:
    head = ("| back-end | server processes | respondents | answers stored | answers/s | p50 ms | p95 ms | max ms "
            "| lost | duplicates | failed respondents |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [f"| {r['backend']} | {r['processes']} | {r['respondents']} | {r['answers_stored']} | "
             f"{r['answers_per_s']:.2f} | {r['latency_p50_ms']:.0f} | {r['latency_p95_ms']:.0f} | "
             f"{r['latency_max_ms']:.0f} | {r['lost_answers']} | {r['duplicate_rows']} | {r['failed_respondents']} |"
             for r in rows]
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--respondents", type=int, default=50)
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--processes", type=int, default=1, help="server processes sharing the database")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases) and print it")
    args = p.parse_args(argv)
    if args.respondents < 1 or args.processes < 1:
        p.error("--respondents and --processes must be at least 1")

    from transmodal.hub import shipped_models
    if "pt-quiz" not in shipped_models():
        print("model pt-quiz not available (transmodal.hub.shipped_models() lacks it): the server cannot "
              "recognise spoken answers; train and ship pt-quiz first", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="bench-quiz-"))
    workdir.chmod(0o755)  # the postgres user must reach its cluster below (synthetic data only in here)
    try:
        bank = WavBank(workdir / "wavs")
        backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
        rows = []
        for backend in backends:
            print(f"{backend}: {args.respondents} respondents, {args.processes} server process(es) …", flush=True)
            rows.append(measure(backend, args.respondents, args.processes, workdir / backend, bank))
            print(json.dumps(rows[-1], indent=1), flush=True)
        print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.2f}\n")
        print(markdown(rows))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        return 0 if all(r["lost_answers"] == 0 for r in rows) else 1
    except NoSpeechModel as e:
        print(str(e), file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

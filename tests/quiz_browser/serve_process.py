"""`transmodal serve` as a subprocess on a free port with its own data folder, for the browser test and the
load benchmark. The admin password is set through $TRANSMODAL_ADMIN_PASSWORD; the server's output goes to
a log file whose tail is shown when it fails to start."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "test-admin-password"
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    """Poll `check()` every 0.2 s until it is true; a dead `proc` or the timeout is an error naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with status {proc.returncode} before it was ready:\n{tail}")
        with contextlib.suppress(httpx.HTTPError, OSError):
            if check():
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} was not ready after {timeout:.0f} s")


@contextlib.contextmanager
def serve(data_dir: Path, db_url: str | None = None, log: Path | None = None, name: str = "transmodal serve"):
    """Run `transmodal serve` until the block ends; yields its base URL once /healthz answers."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = log or data_dir / "server.log"
    port = free_port()
    cmd = [sys.executable, "-m", "transmodal", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir)]
    if db_url:
        cmd += ["--db", db_url]
    env = dict(os.environ, TRANSMODAL_ADMIN_PASSWORD=ADMIN_PASSWORD, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200, START_TIMEOUT_S, name, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def staff_client(url: str, timeout: float = 120) -> httpx.Client:
    """An httpx client logged in as the admin created on first start."""
    client = httpx.Client(base_url=url, timeout=timeout)
    r = client.post("/api/staff/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return client

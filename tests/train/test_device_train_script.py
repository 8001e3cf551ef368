"""scripts/device_train.py: the arithmetic that sizes each GPU job, and the packing of its results."""

import importlib.util
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "device_train.py"


@pytest.fixture(scope="module")
def dt():
    spec = importlib.util.spec_from_file_location("device_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_speed_comes_from_the_log_lines_after_the_first(tmp_path, dt):
    rows = [{"step": 50, "elapsed_s": 30.0}, {"step": 100, "elapsed_s": 32.0}, {"eval/accuracy": 0.5, "step": 100},
            {"step": 150, "elapsed_s": 34.0}, {"step": 200, "elapsed_s": 36.0}]
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("\n".join(map(json.dumps, rows)))
    assert dt.steps_per_second(metrics) == pytest.approx(25.0)  # (200 − 100) / (36 − 32); the start-up line is skipped
    metrics.write_text("\n".join(map(json.dumps, rows[:2])))
    assert dt.steps_per_second(metrics) is None  # too few lines to tell
    assert dt.steps_per_second(tmp_path / "missing.jsonl") is None


def test_budget_fits_the_time_left_and_never_exceeds_the_cap(dt):
    assert dt.budget_steps(20.0, 100.0, cap=10_000) == 1700  # 20 steps/s × 100 s × 0.85
    assert dt.budget_steps(20.0, 100.0, cap=1_000) == 1000
    assert dt.budget_steps(None, 100.0, cap=1_000) == 100  # unknown speed: a tenth of the schedule
    assert dt.budget_steps(20.0, -5.0, cap=1_000) == 1


def test_pack_leaves_out_optimizer_state_and_splits_large_archives(tmp_path, dt, monkeypatch):
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    (run / "last").mkdir()
    weights = os.urandom(16_384)  # incompressible, like trained weights
    (run / "best" / "model.safetensors").write_bytes(weights)
    (run / "last" / "optimizer.pt").write_bytes(b"x" * 1000)
    (run / "report.json").write_text("{}")
    out = tmp_path / "out"
    out.mkdir()
    assert dt.pack(run, out, "job") == ["job.tar.gz"]
    with tarfile.open(out / "job.tar.gz") as tar:
        names = tar.getnames()
    assert "job/best/model.safetensors" in names and "job/report.json" in names
    assert not any("/last" in n for n in names)

    monkeypatch.setattr(dt, "PART_BYTES", 5000)
    parts = dt.pack(run, out, "big")
    assert len(parts) >= 4 and not (out / "big.tar.gz").exists()
    assert all((out / p).stat().st_size <= 5000 for p in parts)
    joined = tmp_path / "joined.tar.gz"
    joined.write_bytes(b"".join((out / p).read_bytes() for p in parts))
    with tarfile.open(joined) as tar:
        assert tar.extractfile("big/best/model.safetensors").read() == weights

    assert dt.pack(run, out, "small", ("/last", "/best")) == ["small.tar.gz"]  # reports and plots only
    with tarfile.open(out / "small.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["small", "small/report.json"]


def test_every_job_fills_its_step_count_or_runs_as_given(dt):
    for group, jobs in dt.GROUPS.items():
        for job in jobs:
            uses_steps = any("{steps}" in a for a in job.argv)
            assert uses_steps == bool(job.cap), (group, job.name)
            assert len({j.name for j in jobs}) == len(jobs)


def test_an_unknown_job_name_is_refused_before_anything_runs(dt, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dt.sys, "argv", ["device_train.py", "smoke", "--data", str(tmp_path), "--out", str(tmp_path), "--only", "vit,nope"])
    with pytest.raises(SystemExit) as e:
        dt.main()
    assert e.value.code == 2
    assert "no job nope" in capsys.readouterr().err

"""Training metrics: running sums between log lines, a JSON-lines log, and a PNG of the curves."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transmodal.train.atomic import atomic_write_bytes


@dataclass
class RunningStats:
    """Sums over the batches and steps since the last log line (one per process, merged at log time)."""

    batches: int = 0  # micro-batches seen
    loss_sum: float = 0.0  # sum of their (unscaled) losses
    tokens: float = 0.0  # sum of stats["tokens"] (1 per batch when absent)
    counted_tokens: bool = False  # whether loss_fn reported "tokens"
    stat_sums: dict[str, float] = field(default_factory=dict)  # other loss_fn stats
    steps: int = 0
    grad_norm_sum: float = 0.0
    seconds: float = 0.0  # time spent in training steps
    lr: float = 0.0  # learning rate of the latest step

    def add_batch(self, loss: float, stats: dict[str, Any]) -> None:
        self.batches += 1
        self.loss_sum += loss
        if "tokens" in stats:
            self.tokens += float(stats["tokens"])
            self.counted_tokens = True
        else:
            self.tokens += 1.0
        for name, value in stats.items():
            if name != "tokens":
                self.stat_sums[name] = self.stat_sums.get(name, 0.0) + float(value)

    def add_step(self, grad_norm: float, lr: float, seconds: float) -> None:
        self.steps += 1
        self.grad_norm_sum += grad_norm
        self.lr = lr
        self.seconds += seconds

    @staticmethod
    def merge(parts: list[RunningStats]) -> RunningStats:
        """Combine the stats of all ranks: batch sums add up; step quantities are rank 0's."""
        out = dataclasses.replace(parts[0], stat_sums=dict(parts[0].stat_sums))
        for p in parts[1:]:
            out.batches += p.batches
            out.loss_sum += p.loss_sum
            out.tokens += p.tokens
            for name, value in p.stat_sums.items():
                out.stat_sums[name] = out.stat_sums.get(name, 0.0) + value
        return out

    def summary(self) -> dict[str, float]:
        """``loss`` = mean batch loss; ``grad_norm`` = mean over steps; throughput per second of stepping."""
        n = max(self.batches, 1)
        record = {
            "loss": self.loss_sum / n,
            "lr": self.lr,
            "grad_norm": self.grad_norm_sum / max(self.steps, 1),
            "tokens_per_s": self.tokens / self.seconds if self.seconds > 0 else 0.0,
        }
        record.update({f"train/{k}": v / n for k, v in self.stat_sums.items()})
        return record

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunningStats:
        return cls(**values)


class MetricsLogger:
    """Appends one JSON object per line to ``path`` and keeps the records in memory.

    On creation, records with ``step > keep_until_step`` are dropped (a resumed run repeats those
    steps), so the file always describes one consistent run.
    """

    def __init__(self, path: str | os.PathLike, keep_until_step: int = 0):
        self.path = Path(path)
        self.records: list[dict[str, Any]] = [r for r in read_metrics(self.path) if r.get("step", 0) <= keep_until_step]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, b"".join(_line(r) for r in self.records))

    def log(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        with open(self.path, "ab") as f:
            f.write(_line(record))

    def summary(self) -> dict[str, Any]:
        """The latest train record merged with the latest eval record."""
        out: dict[str, Any] = {}
        train = [r for r in self.records if "loss" in r]
        evals = [r for r in self.records if any(k.startswith("eval/") for k in r)]
        for r in train[-1:] + evals[-1:]:
            out.update(r)
        if self.records:
            out["step"] = max(r["step"] for r in self.records)
        return out


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record) + "\n").encode("utf-8")


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl file ([] if missing); a torn last line (crash) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def plot_curves(records: list[dict[str, Any]], png_path: str | os.PathLike) -> None:
    """Write a PNG: train loss vs step (left) and every ``eval/*`` metric vs step (right).

    Uses matplotlib's Agg canvas directly, so no display and no global pyplot state is needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax_train, ax_eval = fig.subplots(1, 2)

    train = [r for r in records if "loss" in r and _finite(r["loss"])]
    if train:
        losses = [r["loss"] for r in train]
        ax_train.plot([r["step"] for r in train], losses, label="train loss")
        if min(losses) > 0 and max(losses) > 10 * min(losses):  # spans a decade: log scale reads better
            ax_train.set_yscale("log")
    ax_train.set(title="training loss", xlabel="step", ylabel="loss")
    ax_train.grid(alpha=0.3)

    names = sorted({k for r in records for k in r if k.startswith("eval/")})
    for name in names:
        points = [r for r in records if name in r and _finite(r[name])]
        if points:
            steps, values = [r["step"] for r in points], [r[name] for r in points]
            ax_eval.plot(steps, values, marker="o", label=name.removeprefix("eval/"))
    ax_eval.set(title="evaluation", xlabel="step")
    ax_eval.grid(alpha=0.3)
    if names:
        ax_eval.legend()
    else:
        ax_eval.text(0.5, 0.5, "no evaluation yet", ha="center", va="center", transform=ax_eval.transAxes)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.9, wspace=0.22)  # cheaper than tight_layout

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write_bytes(png_path, buffer.getvalue())


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)

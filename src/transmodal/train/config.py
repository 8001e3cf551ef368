"""`TrainConfig`: every knob of the training loop in one dataclass (saved inside training checkpoints)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

SCHEDULES = ("noam", "cosine", "constant")
BEST_MODES = ("min", "max")


@dataclass
class TrainConfig:
    """Settings of one training run.

    Steps are *optimizer* steps: with ``grad_accum = k`` and ``W`` data-parallel processes, one step
    consumes ``k · W`` batches of ``train_batches(epoch)``.
    """

    out_dir: str  # checkpoints (last/, best/), metrics.jsonl and training_curves.png go here
    max_steps: int  # number of optimizer steps to train for
    lr: float = 1e-3  # peak learning rate; for schedule="noam" a scale factor (1.0 = the paper)
    schedule: Literal["noam", "cosine", "constant"] = "cosine"
    warmup_steps: int = 100  # linear warm-up length (noam: the step of the peak)
    weight_decay: float = 0.0  # AdamW decay, applied only to parameters with ndim >= 2
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-9
    grad_clip: float | None = 1.0  # max global L2 norm of the gradients; None = no clipping
    grad_accum: int = 1  # batches accumulated into one optimizer step
    eval_every: int = 0  # steps between evaluations; 0 = only at the end
    save_every: int = 0  # steps between saves of out_dir/last; 0 = only at the end
    log_every: int = 10  # steps between lines in metrics.jsonl
    seed: int = 0
    device: str = "auto"  # "auto" = CUDA if available, else CPU
    amp: bool = True  # bf16 autocast; only takes effect on CUDA
    compile: bool = False  # wrap the model with torch.compile
    progress: bool = True  # tqdm progress bar (rank 0 only)
    keep_best_metric: str | None = None  # eval_fn key; when set, out_dir/best keeps the best model
    keep_best_mode: Literal["min", "max"] = "min"
    d_model: int | None = None  # for schedule="noam"; None = read model.config.d_model

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # lists come back from JSON / torch.load
        problems = []
        if self.max_steps < 1:
            problems.append(f"max_steps={self.max_steps} must be >= 1")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule={self.schedule!r} is unknown; choose one of {', '.join(SCHEDULES)}")
        if self.warmup_steps < 0:
            problems.append(f"warmup_steps={self.warmup_steps} must be >= 0")
        if self.lr <= 0:
            problems.append(f"lr={self.lr} must be > 0")
        if self.grad_accum < 1:
            problems.append(f"grad_accum={self.grad_accum} must be >= 1 (1 = no accumulation)")
        if self.grad_clip is not None and self.grad_clip <= 0:
            problems.append(f"grad_clip={self.grad_clip} must be > 0, or None to disable clipping")
        for name in ("eval_every", "save_every"):
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)} must be >= 0 (0 = only at the end)")
        if self.log_every < 1:
            problems.append(f"log_every={self.log_every} must be >= 1")
        if self.keep_best_mode not in BEST_MODES:
            problems.append(f"keep_best_mode={self.keep_best_mode!r} must be 'min' or 'max'")
        if len(self.betas) != 2:
            problems.append(f"betas={self.betas} must be a pair (beta1, beta2)")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"TrainConfig has no fields {unknown}; valid fields are {sorted(names)}")
        return cls(**values)

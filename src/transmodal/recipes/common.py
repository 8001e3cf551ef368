"""What every recipe does before training: thread count, output folder, artifacts built once per job."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

import torch

from transmodal.train import distributed

T = TypeVar("T")


def start_run(out: str | Path, threads: int = 0) -> Path:
    """Set PyTorch's thread count (0 = keep its default) and create the run's output folder."""
    if threads:
        torch.set_num_threads(threads)
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_once(path: Path, build: Callable[[Path], None], load: Callable[[Path], T]) -> T:
    """An artifact (e.g. a tokenizer) built by rank 0 of a torchrun job only if ``path`` is missing, then loaded by all.

    Keeping an existing file matters when resuming: the checkpoint was trained with that vocabulary.
    """
    distributed.init_distributed()  # no-op unless launched by torchrun
    if distributed.is_main_process() and not path.is_file():
        build(path)
    distributed.barrier()
    return load(path)

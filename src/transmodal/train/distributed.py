"""Helpers for data-parallel training launched by ``torchrun`` (one process per device).

``torchrun --nproc-per-node N script.py`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``; `init_distributed` reads them. Without them (a plain
``python script.py``) every helper behaves as a single process of rank 0.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True once a process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's global rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """This process's rank on its machine, which picks its GPU (``LOCAL_RANK``)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True on rank 0, the process that logs, evaluates and saves."""
    return rank() == 0


def init_distributed() -> bool:
    """Join the process group when launched with ``WORLD_SIZE > 1``; returns whether distributed.

    Uses the "nccl" backend when CUDA is available (and selects GPU ``LOCAL_RANK``), else "gloo".
    Calling it again, or in a single process, is harmless.
    """
    if is_distributed():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed support")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(
            f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {', '.join(missing)} is not set; "
            "launch the script with `torchrun --nproc-per-node N script.py`"
        )
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend)
    return True


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if is_distributed():
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Picklable ``obj`` of every rank, in rank order (``[obj]`` when not distributed)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def destroy_distributed() -> None:
    """Leave the process group (call once at the end of a torchrun script)."""
    if is_distributed():
        dist.destroy_process_group()

"""Learning-rate schedules, written as multipliers of the base learning rate ``lr``.

Every schedule is a function of the optimizer step ``s`` counted from 1 (the first update is
``s = 1``) returning ``m(s)``; update ``s`` then uses the learning rate ``lr · m(s)``.
`lr_lambda` adapts them to `torch.optim.lr_scheduler.LambdaLR`, which calls its function with the
number of updates already done (0, 1, 2, ...), i.e. with ``s - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from transmodal.train.config import SCHEDULES, TrainConfig


def noam(step: int, d_model: int, warmup_steps: int) -> float:
    """The schedule of "Attention Is All You Need" (Vaswani et al., 2017, eq. 3)::

        lrate(step) = d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)

    It grows linearly for ``warmup_steps`` steps, peaks at ``step == warmup_steps`` with the value
    ``(d_model · warmup_steps)^-0.5`` and then decays as ``step^-0.5``. Returned as a multiplier:
    with ``TrainConfig.lr = 1.0`` the trainer reproduces the paper's learning rate exactly.
    """
    if step < 1:
        raise ValueError(f"noam schedule steps count from 1, got step={step}")
    if warmup_steps < 1:
        raise ValueError("the noam schedule needs warmup_steps >= 1 (the paper uses 4000)")
    return d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


def cosine(step: int, warmup_steps: int, max_steps: int, final_ratio: float = 0.1) -> float:
    """Linear warm-up, then cosine decay to ``final_ratio`` (0.1) at ``max_steps``::

    m(s) = s / warmup_steps                                  if s <= warmup_steps
    m(s) = r + (1 - r) · (1 + cos(π · p)) / 2                 otherwise,
           p = (s - warmup_steps) / (max_steps - warmup_steps) clipped to [0, 1], r = final_ratio
    """
    if step <= warmup_steps:
        return step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    return final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def constant(step: int, warmup_steps: int) -> float:
    """Linear warm-up, then constant: ``m(s) = min(1, s / warmup_steps)`` (1 when warmup_steps = 0)."""
    return 1.0 if step >= warmup_steps else step / warmup_steps


def lr_lambda(config: TrainConfig, d_model: int | None = None) -> Callable[[int], float]:
    """The multiplier function for ``LambdaLR`` chosen by ``config.schedule``.

    ``d_model`` is needed for "noam" only (``config.d_model`` takes precedence).
    """
    warmup, max_steps = config.warmup_steps, config.max_steps
    if config.schedule == "noam":
        width = config.d_model or d_model
        if not width:
            raise ValueError(
                "schedule='noam' needs the model width: set TrainConfig.d_model, or give the model's "
                "config a `d_model` field"
            )
        noam(1, width, warmup)  # validates warmup_steps before training starts

        def fn(done: int) -> float:
            return noam(done + 1, width, warmup)

    elif config.schedule == "cosine":

        def fn(done: int) -> float:
            return cosine(done + 1, warmup, max_steps)

    elif config.schedule == "constant":

        def fn(done: int) -> float:
            return constant(done + 1, warmup)

    else:
        raise ValueError(f"unknown schedule {config.schedule!r}; choose one of {', '.join(SCHEDULES)}")
    return fn

"""`Trainer`: the one training loop of transmodal (single process or torchrun data-parallel)."""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR
from tqdm.auto import tqdm

from transmodal.train import distributed as dist_utils
from transmodal.train.checkpoint import (
    TRAINER_STATE,
    CheckpointError,
    ExtraFile,
    load_trainer_state,
    load_weights,
    model_identity,
    save_model,
    save_training_checkpoint,
    unwrap_model,
)
from transmodal.train.config import TrainConfig
from transmodal.train.metrics import MetricsLogger, RunningStats, plot_curves
from transmodal.train.optim import build_optimizer
from transmodal.train.schedules import lr_lambda
from transmodal.train.utils import get_rng_state, move_to_device, seed_everything, set_rng_state

BatchesFn = Callable[[int], Iterable[Any]]  # epoch -> that epoch's batches, in a fixed order
LossFn = Callable[[nn.Module, Any], tuple[torch.Tensor, dict[str, float]]]
EvalFn = Callable[[nn.Module], dict[str, float]]


class Trainer:
    """Trains a registered model for ``config.max_steps`` optimizer steps.

    * ``train_batches(epoch)`` returns epoch ``epoch``'s batches (any nesting of tensors, dicts,
      lists, tuples) in a deterministic order; epochs 0, 1, 2, ... are consumed until max_steps.
    * ``loss_fn(model, batch) -> (loss, stats)``: a scalar loss tensor and a dict of floats; a
      ``"tokens"`` entry counts items for the throughput (else 1 per batch); other entries are
      averaged into ``train/<name>`` in metrics.jsonl. ``model`` may be the DDP / torch.compile
      wrapper: call it (``model(...)``); reach custom methods through `unwrap_model(model)`.
    * ``eval_fn(model) -> dict[str, float]`` gets the plain model in eval mode under
      ``torch.no_grad()``, every ``eval_every`` steps and at the end (rank 0 only).
    * ``optimizer`` defaults to `build_optimizer` (AdamW); the LR schedule always wraps it.

    Launched by ``torchrun`` with ``WORLD_SIZE > 1``, the model is wrapped in
    DistributedDataParallel and rank ``r`` takes batches ``r, r + W, r + 2W, ...`` of each epoch, so
    one step over W ranks equals one step on the W batches joined. Only rank 0 logs, evaluates and
    saves; ``out_dir`` must be on storage every rank can read (for resuming).
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        train_batches: BatchesFn,
        loss_fn: LossFn,
        eval_fn: EvalFn | None = None,
        extra_files: dict[str, ExtraFile] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
    ):
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        if config.keep_best_metric and eval_fn is None:
            raise ValueError(f"keep_best_metric={config.keep_best_metric!r} needs an eval_fn that returns it")
        self.config = config
        self.model = unwrap_model(model)
        model_identity(self.model)  # fail now rather than at the first save
        self.train_batches, self.loss_fn, self.eval_fn = train_batches, loss_fn, eval_fn
        self.extra_files = dict(extra_files or {})
        self.out_dir = Path(config.out_dir)

        self.distributed = dist_utils.init_distributed()
        self.rank, self.world_size = dist_utils.rank(), dist_utils.world_size()
        self.is_main = self.rank == 0
        self.device = _resolve_device(config.device)
        self.model.to(self.device)
        self.optimizer = optimizer if optimizer is not None else build_optimizer(self.model, config)
        self.scheduler = LambdaLR(self.optimizer, lr_lambda(config, getattr(self.model.config, "d_model", None)))

        self._ddp: DistributedDataParallel | None = None
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self._ddp = DistributedDataParallel(self.model, device_ids=ids)
        wrapped = self._ddp if self._ddp is not None else self.model
        self.train_model: nn.Module = torch.compile(wrapped) if config.compile else wrapped

        # Training position; all of it is saved in trainer_state.pt.
        self.step = 0  # optimizer steps done
        self.epoch = 0  # epoch of the latest consumed batch
        self.batch_in_epoch = 0  # batches of train_batches(epoch) consumed (all ranks together)
        self.best: float | None = None  # best keep_best_metric so far
        self.elapsed = 0.0  # wall-clock seconds of training, summed over resumed runs
        self.window = RunningStats()  # sums since the latest log line
        self.metrics: MetricsLogger | None = None  # rank 0 only
        self._smooth_loss: float | None = None
        self._plotted_step = -1

    # ------------------------------------------------------------------------------------ public

    def fit(self, resume: bool = True, stop_after: int | None = None) -> dict[str, Any]:
        """Train until ``config.max_steps``; returns the last train and eval metrics (on rank 0).

        With ``resume=True`` and a training checkpoint in ``out_dir/last``, the weights, optimizer,
        scheduler, data position and RNG states are restored and training continues exactly as if
        never interrupted (metrics.jsonl lines after the checkpoint's step are dropped).
        ``stop_after=N`` stops after step N, saving ``out_dir/last`` first — a planned interruption
        (e.g. before a job's time limit); call ``fit()`` again to continue.
        """
        cfg = self.config
        last = self.out_dir / "last"
        if resume and (last / TRAINER_STATE).is_file():
            self._restore(last)
        else:
            seed_everything(cfg.seed + self.rank)
        if self.is_main:
            self.metrics = MetricsLogger(self.out_dir / "metrics.jsonl", keep_until_step=self.step)
        target = cfg.max_steps if stop_after is None else min(stop_after, cfg.max_steps)

        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        self._clock_start = time.perf_counter() - self.elapsed
        bar = tqdm(
            total=cfg.max_steps,
            initial=self.step,
            unit="step",
            dynamic_ncols=True,
            disable=not (cfg.progress and self.is_main),
        )
        batches = self._local_batches()
        try:
            while self.step < target:
                self._train_step(batches)
                bar.update(1)
                self._after_step(bar, stop_after)
        finally:
            bar.close()
        if not self.is_main:
            return {"step": self.step}
        self._plot()
        return self.metrics.summary()

    # ------------------------------------------------------------------------------ the loop

    def _local_batches(self) -> Iterator[tuple[int, int, Any]]:
        """Yield ``(epoch, position, batch)`` for this rank forever, from the saved position on.

        Each group of ``world_size`` consecutive batches is split one per rank (rank r takes the
        r-th); an incomplete last group is dropped so that all ranks step together. ``position`` is
        the index in ``train_batches(epoch)`` just after the group.
        """
        epoch, skip = self.epoch, self.batch_in_epoch
        while True:
            batches = self.train_batches(epoch)
            if not isinstance(batches, Iterable):
                raise TypeError(
                    f"train_batches({epoch}) returned {type(batches).__name__}; it must return an "
                    "iterable of batches (a list, a generator, a DataLoader, ...)"
                )
            group: list[Any] = []
            count, used = skip, False
            for index, batch in enumerate(itertools.islice(batches, skip, None), start=skip):
                count = index + 1
                group.append(batch)
                if len(group) == self.world_size:
                    used = True
                    yield epoch, index + 1, group[self.rank]
                    group = []
            if not used and skip == 0:
                raise ValueError(
                    f"train_batches({epoch}) yielded {count} batches, but each step needs at least "
                    f"{self.world_size} (one per process); check that the data is not empty"
                )
            epoch, skip = epoch + 1, 0

    def _train_step(self, batches: Iterator[tuple[int, int, Any]]) -> None:
        """One optimizer step over ``grad_accum`` batches: Σ (loss_i / grad_accum) backward, clip, step."""
        cfg = self.config
        started = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        for micro in range(cfg.grad_accum):
            epoch, position, batch = next(batches)
            batch = move_to_device(batch, self.device)
            sync = self._ddp is None or micro == cfg.grad_accum - 1  # all-reduce on the last one only
            with nullcontext() if sync else self._ddp.no_sync():
                with self._autocast():
                    out = self.loss_fn(self.train_model, batch)
                loss, stats = out if isinstance(out, tuple) else (out, {})
                value = self._check_loss(loss, epoch, position)
                (loss / cfg.grad_accum).backward()
            self.epoch, self.batch_in_epoch = epoch, position
            self.window.add_batch(value, stats or {})
        grad_norm = self._clip_gradients()
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.window.add_step(grad_norm, lr, time.perf_counter() - started)

    def _after_step(self, bar: tqdm, stop_after: int | None) -> None:
        cfg, step = self.config, self.step
        final = step == cfg.max_steps
        if step % cfg.log_every == 0 or final:
            self._log(bar)
        if self.eval_fn is not None and (final or (cfg.eval_every and step % cfg.eval_every == 0)):
            self._evaluate()
        if final or (cfg.save_every and step % cfg.save_every == 0) or step == stop_after:
            self._save_last()

    def _check_loss(self, loss: Any, epoch: int, position: int) -> float:
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError(
                "loss_fn must return (loss, stats) with loss a scalar tensor; got "
                f"{type(loss).__name__}{tuple(loss.shape) if isinstance(loss, torch.Tensor) else ''}"
            )
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(
                f"loss is {value} at step {self.step + 1} (epoch {epoch}, batch {position - 1}); lower the "
                "lr, keep grad_clip on, or check that batch and loss_fn"
            )
        return value

    def _clip_gradients(self) -> float:
        """Clip the global L2 norm ‖g‖ = sqrt(Σ_p ‖g_p‖²) to ``grad_clip``; returns ‖g‖ before clipping."""
        params = [p for p in self.model.parameters() if p.grad is not None]
        if not params:
            raise RuntimeError("no parameter received a gradient; check that loss_fn's loss depends on the model")
        norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grads_with_norm_(params, self.config.grad_clip, norm)
        value = float(norm)
        if not math.isfinite(value):
            raise FloatingPointError(
                f"gradient norm is {value} at step {self.step + 1}; lower the lr or check the loss for overflow"
            )
        return value

    def _autocast(self):
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _elapsed(self) -> float:
        return time.perf_counter() - self._clock_start

    # ------------------------------------------------------------------- logging, eval, saving

    def _log(self, bar: tqdm) -> None:
        parts = dist_utils.all_gather_object(self.window)
        self.window = RunningStats()
        if not self.is_main:
            return
        merged = RunningStats.merge(parts)
        summary = merged.summary()
        record = {"step": self.step, "epoch": self.epoch}
        record.update({k: summary.pop(k) for k in ("loss", "lr", "grad_norm", "tokens_per_s")})
        record["elapsed_s"] = round(self._elapsed(), 3)
        record.update(summary)  # train/<stat> means
        self.metrics.log(record)
        loss = record["loss"]
        self._smooth_loss = loss if self._smooth_loss is None else 0.7 * self._smooth_loss + 0.3 * loss
        unit = "tok/s" if merged.counted_tokens else "it/s"
        bar.set_postfix(
            {"loss": f"{self._smooth_loss:.4g}", "lr": f"{record['lr']:.3g}", unit: f"{record['tokens_per_s']:.4g}"},
            refresh=False,
        )

    def _evaluate(self) -> None:
        if self.is_main:
            self.model.eval()
            try:
                with torch.no_grad(), self._autocast():
                    results = self.eval_fn(self.model)
            finally:
                self.model.train()
            if not isinstance(results, Mapping):
                raise TypeError(f"eval_fn must return a dict of metric name -> float, got {type(results).__name__}")
            results = {k: float(v) for k, v in results.items()}
            self.metrics.log({"step": self.step, **{f"eval/{k}": v for k, v in results.items()}})
            if self.config.keep_best_metric:
                self._keep_best(results)
            self._plot()
        dist_utils.barrier()

    def _keep_best(self, results: dict[str, float]) -> None:
        name, mode = self.config.keep_best_metric, self.config.keep_best_mode
        if name not in results:
            raise ValueError(
                f"keep_best_metric={name!r} is not among the eval_fn results {sorted(results)}; "
                "set keep_best_metric to one of them"
            )
        value = results[name]
        if math.isnan(value):
            return
        if self.best is None or (value < self.best if mode == "min" else value > self.best):
            self.best = value
            meta = {"step": self.step, "metric": name, "value": value}
            save_model(self.out_dir / "best", self.model, self.extra_files, extra_meta=meta)

    def _plot(self) -> None:
        if self._plotted_step != self.step and self.metrics is not None and self.metrics.records:
            plot_curves(self.metrics.records, self.out_dir / "training_curves.png")
            self._plotted_step = self.step

    def _save_last(self) -> None:
        rng_states = dist_utils.all_gather_object(get_rng_state())
        windows = dist_utils.all_gather_object(self.window.to_dict())
        if self.is_main:
            self.elapsed = self._elapsed()
            state = {
                "step": self.step,
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": rng_states,  # one per rank
                "running_stats": windows,  # one per rank
                "best": self.best,
                "elapsed_s": self.elapsed,
                "world_size": self.world_size,
                "config": self.config.to_dict(),
            }
            meta = {"step": self.step, "epoch": self.epoch}
            save_training_checkpoint(self.out_dir / "last", self.model, state, self.extra_files, extra_meta=meta)
        dist_utils.barrier()

    def _restore(self, path: Path) -> None:
        state = load_trainer_state(path)
        load_weights(self.model, path)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (ValueError, KeyError) as e:
            raise CheckpointError(
                f"the optimizer state in {path / TRAINER_STATE} does not fit this optimizer ({e}); resume "
                "with the same model and optimizer, or call fit(resume=False) to start over"
            ) from e
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        self.best, self.elapsed = state["best"], state["elapsed_s"]
        own = self.rank
        if state["world_size"] != self.world_size:
            own = 0
            warnings.warn(
                f"resuming a {state['world_size']}-process run with {self.world_size} processes: the data "
                "order is kept, but random draws (dropout) differ from an uninterrupted run",
                stacklevel=3,
            )
        self.window = RunningStats.from_dict(state["running_stats"][own])
        set_rng_state(state["rng"][own])


def _resolve_device(name: str) -> torch.device:
    """ "auto" → this process's GPU if CUDA is available, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={name!r} but CUDA is not available; use device='cpu' or 'auto'")
        if device.index is None:
            device = torch.device("cuda", dist_utils.local_rank())
    return device

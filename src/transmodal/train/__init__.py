"""Training: the `Trainer` loop, its `TrainConfig`, checkpoints, LR schedules and metrics.

Typical use::

    from transmodal.train import TrainConfig, Trainer, load_model

    config = TrainConfig(out_dir="runs/demo", max_steps=10_000, lr=3e-4, eval_every=500)
    Trainer(model, config, train_batches, loss_fn, eval_fn).fit()   # resumes if interrupted
    model = load_model("runs/demo/last")
"""

from transmodal.train import distributed
from transmodal.train.checkpoint import (
    CheckpointError,
    load_model,
    load_trainer_state,
    load_weights,
    read_config,
    save_model,
    save_training_checkpoint,
    unwrap_model,
)
from transmodal.train.config import TrainConfig
from transmodal.train.metrics import MetricsLogger, plot_curves, read_metrics
from transmodal.train.optim import build_optimizer
from transmodal.train.schedules import constant, cosine, lr_lambda, noam
from transmodal.train.trainer import Trainer
from transmodal.train.utils import move_to_device, seed_everything

__all__ = [
    "CheckpointError",
    "MetricsLogger",
    "TrainConfig",
    "Trainer",
    "build_optimizer",
    "constant",
    "cosine",
    "distributed",
    "load_model",
    "load_trainer_state",
    "load_weights",
    "lr_lambda",
    "move_to_device",
    "noam",
    "plot_curves",
    "read_config",
    "read_metrics",
    "save_model",
    "save_training_checkpoint",
    "seed_everything",
    "unwrap_model",
]

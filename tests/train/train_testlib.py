"""Tiny registered models, data and a data-parallel worker shared by the tests of transmodal.train."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.models.registry import register
from transmodal.train import TrainConfig, Trainer, seed_everything


@dataclass
class MLPConfig:
    d_in: int = 4
    d_hidden: int = 16
    d_out: int = 2
    dropout: float = 0.0


@register("_test_mlp", MLPConfig)
class MLP(nn.Module):
    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        self.inp = nn.Linear(config.d_in, config.d_hidden)
        self.norm = nn.LayerNorm(config.d_hidden)
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.d_hidden, config.d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, d_in) -> (B, d_out)
        return self.out(self.drop(torch.tanh(self.norm(self.inp(x)))))


@dataclass
class TiedConfig:
    vocab: int = 11
    d_model: int = 6


@register("_test_tied", TiedConfig)
class TiedLM(nn.Module):
    """Embedding and output projection share one weight matrix."""

    def __init__(self, config: TiedConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab, config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, vocab)
        return self.head(self.embed(ids))


def make_data(n: int, d_in: int = 4, d_out: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d_in, generator=g)
    y = torch.randn(n, d_out, generator=g)
    return x, y


def epoch_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True):
    """train_batches(epoch): the data split into batches, shuffled with a generator seeded by epoch."""

    def train_batches(epoch: int):
        order = (
            torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch)) if shuffle else torch.arange(len(x))
        )
        for i in range(0, len(x) - batch_size + 1, batch_size):
            idx = order[i : i + batch_size]
            yield {"x": x[idx], "y": y[idx]}

    return train_batches


def mse_loss(model: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    loss = F.mse_loss(model(batch["x"]), batch["y"])
    return loss, {"tokens": float(batch["x"].shape[0])}


def make_config(out_dir, **overrides) -> TrainConfig:
    values = dict(
        out_dir=str(out_dir),
        max_steps=4,
        lr=1e-2,
        schedule="constant",
        warmup_steps=0,
        log_every=1,
        progress=False,
        device="cpu",
    )
    values.update(overrides)
    return TrainConfig(**values)


def ddp_worker(rank: int, world_size: int, port: int, out_dir: str, n: int, batch_size: int, steps: int) -> None:
    """One process of the data-parallel test: gloo on CPU, rank r takes batches r, r+W, ..."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    from transmodal.train import distributed

    try:
        seed_everything(0)
        model = MLP(MLPConfig())
        x, y = make_data(n)
        config = make_config(out_dir, max_steps=steps, weight_decay=0.1, grad_clip=0.5)
        Trainer(model, config, epoch_batches(x, y, batch_size, shuffle=False), mse_loss).fit()
        assert distributed.is_distributed() and distributed.world_size() == world_size
        assert distributed.rank() == rank and distributed.is_main_process() == (rank == 0)
    finally:
        distributed.destroy_distributed()

import random
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import torch

from transmodal.train import distributed, move_to_device, seed_everything
from transmodal.train.utils import get_rng_state, set_rng_state

Pair = namedtuple("Pair", "a b")


@dataclass
class Batch:
    x: torch.Tensor
    name: str


def test_move_to_device_walks_nested_structures():
    batch = {
        "x": torch.ones(2),
        "list": [torch.zeros(1), 3],
        "tuple": (torch.ones(1),),
        "pair": Pair(torch.ones(1), "s"),
        "dc": Batch(torch.ones(1), "n"),
        "none": None,
    }
    moved = move_to_device(batch, "meta")
    assert moved["x"].device.type == "meta"
    assert moved["list"][0].device.type == "meta" and moved["list"][1] == 3
    assert isinstance(moved["tuple"], tuple) and moved["tuple"][0].device.type == "meta"
    assert isinstance(moved["pair"], Pair) and moved["pair"].a.device.type == "meta" and moved["pair"].b == "s"
    assert moved["dc"].x.device.type == "meta" and moved["dc"].name == "n"
    assert moved["none"] is None


def _draw():
    return random.random(), float(np.random.rand()), torch.rand(1).item()


def test_seed_everything_and_rng_snapshots_are_reproducible():
    seed_everything(3)
    first = _draw()
    seed_everything(3)
    assert _draw() == first
    state = get_rng_state()
    after = _draw()
    _draw()
    set_rng_state(state)
    assert _draw() == after


def test_distributed_helpers_in_a_single_process(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.init_distributed() is False
    assert not distributed.is_distributed()
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main_process()
    distributed.barrier()  # no-op
    assert distributed.all_gather_object({"a": 1}) == [{"a": 1}]


def test_init_distributed_explains_missing_torchrun_variables(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    try:
        distributed.init_distributed()
    except RuntimeError as e:
        assert "torchrun" in str(e) and "RANK" in str(e)
    else:
        raise AssertionError("expected a RuntimeError")

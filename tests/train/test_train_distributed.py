import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from train_testlib import MLP, MLPConfig, ddp_worker, epoch_batches, make_config, make_data, mse_loss

from transmodal.train import Trainer, load_model, read_metrics, seed_everything

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs gloo")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process_on_the_joined_batches(tmp_path):
    torch.set_num_threads(1)
    n, batch_size, steps = 16, 4, 2
    mp.spawn(ddp_worker, args=(2, _free_port(), str(tmp_path / "ddp"), n, batch_size, steps), nprocs=2, join=True)

    # Step k of the two ranks uses batches 2k (rank 0) and 2k+1 (rank 1) = one batch of 2·batch_size.
    seed_everything(0)
    model = MLP(MLPConfig())
    x, y = make_data(n)
    config = make_config(tmp_path / "single", max_steps=steps, weight_decay=0.1, grad_clip=0.5)
    Trainer(model, config, epoch_batches(x, y, 2 * batch_size, shuffle=False), mse_loss).fit()

    ddp_model = load_model(tmp_path / "ddp" / "last")  # saved by rank 0
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(ddp_model.state_dict()[name], tensor, atol=1e-6, rtol=0)
    ddp_log, single_log = (read_metrics(tmp_path / d / "metrics.jsonl") for d in ("ddp", "single"))
    assert [r["step"] for r in ddp_log] == [1, 2]  # only rank 0 wrote
    for a, b in zip(ddp_log, single_log, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)  # mean over both ranks' batches

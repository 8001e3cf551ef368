import math

import pytest
import torch
import torch.nn.functional as F
from train_testlib import MLP, MLPConfig, epoch_batches, make_config, make_data, mse_loss

from transmodal.train import (
    CheckpointError,
    Trainer,
    load_model,
    load_trainer_state,
    read_config,
    read_metrics,
    seed_everything,
)


def _fresh_model(dropout=0.0, seed=0):
    seed_everything(seed)
    return MLP(MLPConfig(dropout=dropout))


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_overfits_a_fixed_batch(tmp_path):
    model = _fresh_model()
    x, y = make_data(16)
    before = F.mse_loss(model(x), y).item()
    config = make_config(tmp_path, max_steps=150, lr=2e-2, log_every=50)
    result = Trainer(model, config, lambda epoch: [{"x": x, "y": y}], mse_loss).fit()
    after = F.mse_loss(model(x), y).item()
    assert after < 0.1 * before
    assert result["step"] == 150 and result["loss"] < 0.1 * before


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_grad_accumulation_equals_one_big_batch(tmp_path, optimizer):
    x, y = make_data(16)
    finals = []
    for accum, batch_size in ((2, 4), (1, 8)):
        model = _fresh_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1) if optimizer == "sgd" else None
        config = make_config(tmp_path / f"a{accum}", max_steps=2, grad_accum=accum, grad_clip=None, weight_decay=0.1)
        Trainer(model, config, epoch_batches(x, y, batch_size, shuffle=False), mse_loss, optimizer=opt).fit()
        finals.append(_params(model))
    for name in finals[0]:
        torch.testing.assert_close(finals[0][name], finals[1][name], atol=1e-6, rtol=0)


def test_metrics_curves_eval_and_best_checkpoint(tmp_path):
    x, y = make_data(32)
    calls = []

    def eval_fn(model):
        assert not model.training and not torch.is_grad_enabled()
        calls.append(1)
        return {"mse": F.mse_loss(model(x), y).item(), "const": 1.0}

    model = _fresh_model(dropout=0.1)
    config = make_config(tmp_path, max_steps=6, log_every=2, eval_every=3, keep_best_metric="mse")
    result = Trainer(
        model, config, epoch_batches(x, y, 8), mse_loss, eval_fn, extra_files={"tokenizer.json": "{}"}
    ).fit()
    assert model.training  # back in train mode after evaluating
    assert len(calls) == 2

    records = read_metrics(tmp_path / "metrics.jsonl")
    train = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval/mse" in r]
    assert [r["step"] for r in train] == [2, 4, 6] and [r["step"] for r in evals] == [3, 6]
    for r in train:
        assert {"step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"} <= set(r)
        assert r["tokens_per_s"] > 0 and r["grad_norm"] > 0
    assert train[-1]["epoch"] == 1  # 4 batches per epoch
    assert result["eval/mse"] == evals[-1]["eval/mse"] and result["loss"] == train[-1]["loss"]

    png = (tmp_path / "training_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    for name in ("last", "best"):
        assert (tmp_path / name / "tokenizer.json").read_text() == "{}"
        load_model(tmp_path / name)
    assert (tmp_path / "last" / "trainer_state.pt").exists() and not (tmp_path / "best" / "trainer_state.pt").exists()
    best = read_config(tmp_path / "best")["extra"]
    assert best["metric"] == "mse" and best["value"] == min(r["eval/mse"] for r in evals)


def test_keep_best_metric_must_be_returned_by_eval(tmp_path):
    x, y = make_data(8)
    config = make_config(tmp_path, max_steps=1, keep_best_metric="acc")
    trainer = Trainer(_fresh_model(), config, epoch_batches(x, y, 4), mse_loss, lambda m: {"mse": 1.0})
    with pytest.raises(ValueError, match="keep_best_metric='acc' is not among the eval_fn results"):
        trainer.fit()
    with pytest.raises(ValueError, match="needs an eval_fn"):
        Trainer(_fresh_model(), config, epoch_batches(x, y, 4), mse_loss)


def test_clear_errors_for_bad_inputs(tmp_path):
    x, y = make_data(8)
    config = make_config(tmp_path, max_steps=2)
    with pytest.raises(ValueError, match="yielded 0 batches"):
        Trainer(_fresh_model(), config, lambda epoch: [], mse_loss).fit()
    with pytest.raises(TypeError, match="scalar tensor"):
        Trainer(_fresh_model(), config, epoch_batches(x, y, 4), lambda m, b: (m(b["x"]), {})).fit()
    with pytest.raises(FloatingPointError, match="loss is nan at step 1"):
        Trainer(_fresh_model(), config, epoch_batches(x, y, 4), lambda m, b: (m(b["x"]).sum() * math.nan, {})).fit()
    with pytest.raises(CheckpointError, match="register"):
        Trainer(torch.nn.Linear(2, 2), config, epoch_batches(x, y, 4), mse_loss)


# --------------------------------------------------------------------------------- exact resume


class Crash(Exception):
    pass


def _resume_run(out_dir, stop_after=None, crash_at_batch=None, grad_accum=1, model_seed=0):
    x, y = make_data(7 * 4)  # 7 batches per epoch, so the interruption falls mid-epoch
    calls = [0]

    def loss_fn(model, batch):
        calls[0] += 1
        if calls[0] == crash_at_batch:
            raise Crash()
        return mse_loss(model, batch)

    model = _fresh_model(dropout=0.3, seed=model_seed)
    config = make_config(
        out_dir,
        max_steps=20,
        save_every=5,
        schedule="cosine",
        warmup_steps=5,
        lr=1e-2,
        weight_decay=0.01,
        grad_accum=grad_accum,
    )
    return Trainer(model, config, epoch_batches(x, y, 4), loss_fn).fit(stop_after=stop_after)


@pytest.mark.parametrize("interruption, grad_accum", [("stop_after", 1), ("crash", 2)])
def test_exact_resume(tmp_path, interruption, grad_accum):
    _resume_run(tmp_path / "a", grad_accum=grad_accum)
    if interruption == "stop_after":
        _resume_run(tmp_path / "b", stop_after=10, grad_accum=grad_accum)
        assert load_trainer_state(tmp_path / "b" / "last")["step"] == 10
    else:  # dies in the middle of step 13; the last checkpoint is from step 10
        with pytest.raises(Crash):
            _resume_run(tmp_path / "b", crash_at_batch=12 * grad_accum + 2, grad_accum=grad_accum)
        assert max(r["step"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl")) == 12
    _resume_run(tmp_path / "b", grad_accum=grad_accum, model_seed=123)  # fresh weights, restored from last/

    runs = [read_metrics(tmp_path / name / "metrics.jsonl") for name in ("a", "b")]
    steps = [[r["step"] for r in records] for records in runs]
    assert steps[0] == steps[1] == list(range(1, 21))
    for key in ("loss", "lr", "grad_norm", "epoch"):
        assert [r[key] for r in runs[0]] == [r[key] for r in runs[1]], key
    a, b = load_model(tmp_path / "a" / "last"), load_model(tmp_path / "b" / "last")
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name


def test_resume_false_starts_over(tmp_path):
    _resume_run(tmp_path, stop_after=5)
    x, y = make_data(28)
    config = make_config(tmp_path, max_steps=3)
    Trainer(_fresh_model(), config, epoch_batches(x, y, 4), mse_loss).fit(resume=False)
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 3]
    assert load_trainer_state(tmp_path / "last")["step"] == 3

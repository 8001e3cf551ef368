import math

import pytest
import torch

from transmodal.train import TrainConfig, constant, cosine, lr_lambda, noam


def _paper(step: int, d_model: int, warmup: int) -> float:
    return d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


@pytest.mark.parametrize("step", [1, 2, 10, 399, 400, 401, 1000, 100_000])
def test_noam_matches_the_paper_formula(step):
    assert noam(step, 512, 400) == pytest.approx(_paper(step, 512, 400), rel=1e-12)


def test_noam_peaks_at_warmup():
    values = [noam(s, 64, 50) for s in range(1, 200)]
    assert max(range(len(values)), key=values.__getitem__) + 1 == 50
    assert noam(50, 64, 50) == pytest.approx((64 * 50) ** -0.5)


def test_noam_rejects_bad_arguments():
    with pytest.raises(ValueError, match="from 1"):
        noam(0, 64, 10)
    with pytest.raises(ValueError, match="warmup_steps >= 1"):
        noam(1, 64, 0)


def test_cosine_warms_up_then_decays_to_a_tenth():
    assert cosine(5, 10, 100) == pytest.approx(0.5)
    assert cosine(10, 10, 100) == pytest.approx(1.0)
    assert cosine(55, 10, 100) == pytest.approx(0.1 + 0.9 * 0.5)
    assert cosine(100, 10, 100) == pytest.approx(0.1)
    assert cosine(1000, 10, 100) == pytest.approx(0.1)  # clipped past max_steps
    assert cosine(1, 0, 100) == pytest.approx(1.0 - 0.9 * 0.5 * (1 - math.cos(math.pi / 100)))


def test_constant_warms_up_then_stays():
    assert [constant(s, 4) for s in (1, 2, 4, 5, 100)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert constant(1, 0) == 1.0


def test_lambda_lr_uses_step_one_for_the_first_update(tmp_path):
    config = TrainConfig(out_dir=str(tmp_path), max_steps=100, lr=1.0, schedule="noam", warmup_steps=10, d_model=16)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(config))
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([_paper(s, 16, 10) for s in range(1, 21)])


def test_lr_scales_the_noam_curve(tmp_path):
    config = TrainConfig(out_dir=str(tmp_path), max_steps=10, lr=2.0, schedule="noam", warmup_steps=4)
    assert lr_lambda(config, d_model=32)(3) == pytest.approx(_paper(4, 32, 4))  # LambdaLR multiplies by lr


def test_noam_needs_d_model(tmp_path):
    config = TrainConfig(out_dir=str(tmp_path), max_steps=10, schedule="noam")
    with pytest.raises(ValueError, match="d_model"):
        lr_lambda(config)


def test_config_validation_explains_the_problem(tmp_path):
    with pytest.raises(ValueError, match="schedule='linear' is unknown; choose one of noam, cosine, constant"):
        TrainConfig(out_dir=str(tmp_path), max_steps=10, schedule="linear")
    with pytest.raises(ValueError, match="grad_accum=0 must be >= 1"):
        TrainConfig(out_dir=str(tmp_path), max_steps=10, grad_accum=0)
    with pytest.raises(ValueError, match="keep_best_mode"):
        TrainConfig(out_dir=str(tmp_path), max_steps=10, keep_best_mode="lowest")
    with pytest.raises(ValueError, match="no fields"):
        TrainConfig.from_dict({"out_dir": "x", "max_steps": 1, "learning_rate": 1})
    config = TrainConfig(out_dir=str(tmp_path), max_steps=10, betas=[0.9, 0.99])
    assert TrainConfig.from_dict(config.to_dict()) == config

"""`transmodal export --average`: a weight average of checkpoints of one configuration, with clear refusals."""

import pytest
import torch

from transmodal.cli import main
from transmodal.commands.export import export, parse_weights
from transmodal.models.vit import VisionTransformer, config
from transmodal.train import load_model, save_model

CONV = dict(tokens="conv", patch_size=4, stem_channels=[4, 8], stem_strides=[2, 2])  # has BatchNorm buffers


def saved(tmp_path, name, seed, **overrides):
    torch.manual_seed(seed)
    model = VisionTransformer(config("micro", **overrides))
    with torch.no_grad():  # distinct BatchNorm statistics and batch counters per model
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(seed + 10)
    return save_model(tmp_path / name, model, extra_files={"labels.json": f"{seed}"})


def test_the_average_is_the_weighted_sum_of_every_float_tensor(tmp_path, capsys):
    a, b = saved(tmp_path, "a", 0, **CONV), saved(tmp_path, "b", 1, **CONV)
    assert main(["export", str(a), str(tmp_path / "soup"), "--average", str(b), "--weights", "0.75,0.25",
                 "--dtype", "float32"]) == 0
    assert "a + " in capsys.readouterr().out
    sa, sb = load_model(a).state_dict(), load_model(b).state_dict()
    soup = load_model(tmp_path / "soup").state_dict()
    assert any("running_mean" in k for k in soup)
    for k, t in soup.items():
        if t.is_floating_point():
            torch.testing.assert_close(t, 0.75 * sa[k] + 0.25 * sb[k], msg=k)
        else:
            assert torch.equal(t, sa[k]), k  # batch counters: the first checkpoint's
    assert (tmp_path / "soup" / "labels.json").read_text() == "0"  # extra files: the first checkpoint's
    # equal weights by default, and a model averaged with itself is itself
    export(a, tmp_path / "self", "float32", [a])
    for k, t in load_model(tmp_path / "self").state_dict().items():
        torch.testing.assert_close(t, sa[k], msg=k)


def test_bad_weights_and_different_models_are_refused(tmp_path, capsys):
    a, b = saved(tmp_path, "a", 0), saved(tmp_path, "b", 1)
    other = saved(tmp_path, "c", 2, **CONV)
    with pytest.raises(ValueError, match="give 2 non-negative numbers"):
        parse_weights("0.5,0.6", 2)
    with pytest.raises(ValueError, match="give 3 non-negative numbers"):
        parse_weights("0.5,0.5", 3)
    assert parse_weights(None, 4) == [0.25] * 4
    assert main(["export", str(a), str(tmp_path / "x"), "--average", str(other)]) == 2
    assert "only models of the same configuration can be averaged" in capsys.readouterr().err
    assert main(["export", str(a), str(tmp_path / "y"), "--weights", "1"]) == 2
    assert "--weights needs --average" in capsys.readouterr().err
    assert main(["export", str(a), str(tmp_path / "z"), "--average", str(b), "--weights", "a,b"]) == 2
    assert not (tmp_path / "z").exists()

import json
import os

import pytest
import torch
from train_testlib import MLP, MLPConfig, TiedConfig, TiedLM

from transmodal.train import CheckpointError, load_model, read_config, save_model


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_round_trip_with_extra_files_and_meta(tmp_path):
    model = MLP(MLPConfig(dropout=0.1))
    writer_calls = []

    def write_vocab(path):
        writer_calls.append(path)
        path.write_text("a\nb\n")

    out = tmp_path / "ckpt"
    save_model(
        out,
        model,
        extra_files={"tokenizer.json": '{"v": 1}', "blob.bin": b"\x00\x01", "sub/vocab.txt": write_vocab},
        extra_meta={"note": "hi"},
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "blob.bin",
        "config.json",
        "model.safetensors",
        "sub",
        "tokenizer.json",
    ]
    assert (out / "tokenizer.json").read_text() == '{"v": 1}' and (out / "blob.bin").read_bytes() == b"\x00\x01"
    assert (out / "sub" / "vocab.txt").read_text() == "a\nb\n"
    config = read_config(out)
    assert config["arch"] == "_test_mlp" and config["config"]["dropout"] == 0.1
    assert config["extra"] == {"note": "hi"} and "transmodal_version" in config
    loaded = load_model(out)
    assert isinstance(loaded, MLP) and not loaded.training and _same_weights(model, loaded)
    assert _leftovers(tmp_path) == []


def test_tied_weights_are_stored_once_and_stay_tied(tmp_path):
    model = TiedLM(TiedConfig())
    save_model(tmp_path / "tied", model)
    loaded = load_model(tmp_path / "tied")
    assert loaded.head.weight is loaded.embed.weight
    assert _same_weights(model, loaded)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "tied" / "model.safetensors"), "pt") as f:
        assert len(list(f.keys())) == 1


def test_half_precision_weights_load_back_as_float32(tmp_path):
    model = MLP(MLPConfig())
    save_model(tmp_path / "half", model, dtype=torch.float16)
    size_half = (tmp_path / "half" / "model.safetensors").stat().st_size
    save_model(tmp_path / "full", model)
    assert size_half < (tmp_path / "full" / "model.safetensors").stat().st_size
    loaded = load_model(tmp_path / "half")
    for name, tensor in loaded.state_dict().items():
        assert tensor.dtype == torch.float32
        torch.testing.assert_close(tensor, model.state_dict()[name].half().float())


def test_overwrite_is_atomic_and_failed_save_keeps_previous(tmp_path):
    out = tmp_path / "ckpt"
    first = MLP(MLPConfig())
    save_model(out, first)
    second = MLP(MLPConfig())
    save_model(out, second)  # replaces the existing directory
    assert _same_weights(load_model(out), second)

    def broken_writer(path):
        path.write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_model(out, MLP(MLPConfig()), extra_files={"tokenizer.json": broken_writer})
    assert _same_weights(load_model(out), second)
    assert not (out / "tokenizer.json").exists()
    assert _leftovers(tmp_path) == []


def test_bad_extra_files_are_rejected(tmp_path):
    with pytest.raises(CheckpointError, match="reserved"):
        save_model(tmp_path / "c", MLP(MLPConfig()), extra_files={"config.json": "{}"})
    with pytest.raises(CheckpointError, match="relative path"):
        save_model(tmp_path / "c", MLP(MLPConfig()), extra_files={"../x": "{}"})
    with pytest.raises(CheckpointError, match="give str, bytes"):
        save_model(tmp_path / "c", MLP(MLPConfig()), extra_files={"x": 3})
    assert not (tmp_path / "c").exists()


def test_unregistered_model_cannot_be_saved(tmp_path):
    with pytest.raises(CheckpointError, match="register"):
        save_model(tmp_path / "c", torch.nn.Linear(2, 2))


# ----------------------------------------------------------------------- CheckpointError cases


@pytest.fixture
def ckpt(tmp_path):
    save_model(tmp_path / "ckpt", MLP(MLPConfig()))
    return tmp_path / "ckpt"


def _expect_error(path, *fragments):
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    assert isinstance(info.value, ValueError)
    for fragment in (str(path), *fragments):
        assert fragment in str(info.value)


def test_missing_directory(tmp_path):
    _expect_error(tmp_path / "nope", "does not exist")


def test_directory_without_config(ckpt):
    (ckpt / "config.json").unlink()
    _expect_error(ckpt, "has no config.json")


def test_unparseable_config(ckpt):
    (ckpt / "config.json").write_text("{not json")
    _expect_error(ckpt, "not valid JSON")


def test_config_without_arch(ckpt):
    (ckpt / "config.json").write_text(json.dumps({"config": {}}))
    _expect_error(ckpt, '"arch"')


def test_unknown_arch(ckpt):
    data = read_config(ckpt)
    data["arch"] = "_no_such_arch"
    (ckpt / "config.json").write_text(json.dumps(data))
    _expect_error(ckpt, "_no_such_arch", "import the module")


def test_truncated_weights(ckpt):
    file = ckpt / "model.safetensors"
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])
    _expect_error(ckpt, "truncated or corrupt")


def test_garbage_weights(ckpt):
    (ckpt / "model.safetensors").write_bytes(os.urandom(64))
    _expect_error(ckpt, "truncated or corrupt")


def test_missing_weights(ckpt):
    (ckpt / "model.safetensors").unlink()
    _expect_error(ckpt, "no model.safetensors")


def test_mismatched_weights(ckpt):
    data = read_config(ckpt)
    data["config"]["d_hidden"] = 32  # the stored weights have d_hidden=16
    (ckpt / "config.json").write_text(json.dumps(data))
    _expect_error(ckpt, "do not match", "size mismatch")


def test_missing_keys(tmp_path):
    save_model(tmp_path / "tied", TiedLM(TiedConfig()))
    data = read_config(tmp_path / "tied")
    data["arch"], data["config"] = "_test_mlp", {"d_in": 4, "d_hidden": 16, "d_out": 2, "dropout": 0.0}
    (tmp_path / "tied" / "config.json").write_text(json.dumps(data))
    _expect_error(tmp_path / "tied", "do not match", "Missing key")

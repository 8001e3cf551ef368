"""The `transmodal translate` contract, on a tiny checkpoint made by the recipe."""

import json
import subprocess
import sys

import pytest
import torch

from transmodal.cli import main
from transmodal.recipes.translation import TranslationRecipe, run


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("en-pt-tiny")
    run(TranslationRecipe(out=str(out), model="tiny", vocab_size=300, max_tokens=512, max_steps=4, warmup=2,
                          eval_every=0, save_every=0, limit=300, beam=1, progress=False, threads=1))
    return out / "last"


def test_one_line_per_input_in_order(tiny_model, tmp_path, capsys):
    inp = tmp_path / "in.txt"
    inp.write_text("i like fish .\n\nwhere is tom ?\n", encoding="utf-8")
    assert main(["translate", "--model", str(tiny_model), "--beam", "2", "--input", str(inp)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[1] == ""
    # the same sentences one at a time give the same translations
    for i in (0, 2):
        main(["translate", "--model", str(tiny_model), "--beam", "2", inp.read_text().splitlines()[i]])
        assert capsys.readouterr().out.splitlines() == [lines[i]]


def test_plot_attention_writes_png(tiny_model, tmp_path, capsys):
    png = tmp_path / "attn.png"
    assert main(["translate", "--model", str(tiny_model), "--plot-attention", str(png), "i like fish ."]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["translate", ""], "empty"),
        (["translate"], "nothing to translate"),
        (["translate", "--model", "no-such-model", "hello ."], "no model 'no-such-model'"),
        (["translate", "--input", "/nonexistent/file.txt"], "no such file"),
        (["translate", "--beam", "0", "hello ."], "beam"),
    ],
)
def test_bad_input_fails_with_clear_message(argv, message, tiny_model, capsys):
    if "--model" not in argv:
        argv = argv[:1] + ["--model", str(tiny_model)] + argv[1:]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_corrupt_checkpoint_fails_clearly(tiny_model, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in tiny_model.iterdir():
        if f.is_file():
            (bad / f.name).write_bytes(f.read_bytes())
    weights = bad / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: len(weights.read_bytes()) // 2])
    assert main(["translate", "--model", str(bad), "hello ."]) == 2
    assert str(bad) in capsys.readouterr().err


def test_cross_attention_weights_are_distributions(tiny_model):
    from transmodal.translator import Translator

    src, tgt, w = Translator.load(tiny_model).cross_attention("i like fish .")
    assert w.shape[-2:] == (len(tgt), len(src))
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


def test_console_script_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "transmodal", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("translate", "train", "demo", "models"):
        assert cmd in out


def test_export_halves_the_weights_and_keeps_the_translator_working(tiny_model, tmp_path, capsys):
    from transmodal.commands.export import export
    from transmodal.translator import Translator

    out = export(tiny_model, tmp_path / "exported")
    assert sorted(f.name for f in out.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert (out / "model.safetensors").stat().st_size < 0.6 * (tiny_model / "model.safetensors").stat().st_size
    a, b = Translator.load(tiny_model), Translator.load(out)
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert q.dtype == torch.float32
        torch.testing.assert_close(q, p, atol=1e-3, rtol=1e-3, msg=name)

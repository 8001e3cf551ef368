"""`transmodal speech-corpus`: options reach the builder; bad options are clear errors."""

import argparse

import pytest

from transmodal.audio.synth.corpus import read_manifest
from transmodal.audio.synth.engines import EspeakNG
from transmodal.commands import speech_corpus


def parse(argv):
    parser = argparse.ArgumentParser(prog="transmodal")
    speech_corpus.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["speech-corpus", *argv])


@pytest.mark.skipif(not EspeakNG().available(), reason="Debian package espeak-ng is not installed")
def test_small_pt_quiz_corpus(tmp_path, capsys):
    out = tmp_path / "quiz"
    argv = [str(x) for x in ("pt-quiz", "--out", out, "--limit", 2, "--variants", 2, "--workers", 1, "--no-progress",
                             "--voices", "pt-br+m1", "pt-br+f2", "--holdout-voices", "pt-br+f4", "--clean")]
    args = parse(argv)
    args.func(args)
    printed = capsys.readouterr().out
    assert "train.jsonl: 4 utterances" in printed and "holdout.jsonl: 2 utterances" in printed
    train = read_manifest(out / "train.jsonl")
    assert [line["text"] for line in train] == ["sim", "sim", "não", "não"]
    assert {line["voice"] for line in train} == {"espeak-ng:pt-br+m1", "espeak-ng:pt-br+f2"}
    assert all(line["augment"] == [] for line in train)  # --clean
    args.func(args)
    assert "synthesised 0, reused 6" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["--workers", "0"], "--workers 0"),
    (["--variants", "-1"], "--variants -1"),
    (["--limit", "0"], "--limit 0"),
])
def test_bad_options(tmp_path, argv, message):
    args = parse(["en-digits", "--out", str(tmp_path), *argv])
    with pytest.raises(ValueError, match=message):
        args.func(args)


def test_out_must_be_a_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    args = parse(["en-digits", "--out", str(tmp_path / "f")])
    with pytest.raises(ValueError, match="is a file"):
        args.func(args)


def test_unknown_corpus_is_rejected_by_the_parser():
    with pytest.raises(SystemExit):
        parse(["klingon", "--out", "x"])

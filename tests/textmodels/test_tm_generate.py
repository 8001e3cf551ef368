"""`transmodal generate`: a tiny GPT checkpoint with a cased byte-level BPE, through the command's parser."""

import argparse
import unicodedata

import pytest
import torch

from transmodal.commands import generate as gen_cmd
from transmodal.models.gpt import GPT, config
from transmodal.text.bytebpe import decode_exact, train_byte_bpe
from transmodal.train import save_model

TEXTS = [
    "Honório olhou para o chão e viu uma carteira.",
    "- É verdade - concordou Honório envergonhado.",
    "Dona Amélia não sabia nada; ele não contava nada à mulher.\nÀ noite, ia ao piano.",
]


@pytest.fixture(scope="module")
def tok():
    return train_byte_bpe(TEXTS * 5, vocab_size=300)


@pytest.fixture(scope="module")
def checkpoint(tok, tmp_path_factory):
    torch.manual_seed(0)
    model = GPT(config("tiny", vocab_size=tok.vocab_size, eos_id=tok.eos_id))
    out = tmp_path_factory.mktemp("gpt") / "model"
    save_model(out, model, extra_files={tok.FILENAME: tok.to_json()})
    return out


def call(argv, capsys):
    parser = argparse.ArgumentParser()
    gen_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["generate", *argv])
    args.func(args)
    return capsys.readouterr().out


@pytest.mark.parametrize("text", TEXTS + ["Ação, coração — ÁGUA!  Dois  espaços.\n\tTab"])
def test_byte_bpe_round_trip_is_exact_with_accents_case_and_spacing(tok, text):
    assert decode_exact(tok, tok.encode(text)) == text
    nfd = unicodedata.normalize("NFD", text)
    assert decode_exact(tok, tok.encode(nfd)) == text  # read as NFC


def test_generate_prints_prompt_and_continuation(checkpoint, capsys):
    out = call(["--model", str(checkpoint), "--max-new-tokens", "12", "--seed", "1", "Honório", "olhou"], capsys)
    assert out.startswith("Honório olhou")
    again = call(["--model", str(checkpoint), "--max-new-tokens", "12", "--seed", "1", "Honório", "olhou"], capsys)
    assert out == again  # a seed makes the sample repeatable


def test_cache_does_not_change_the_text(checkpoint, capsys):
    common = ["--model", str(checkpoint), "--max-new-tokens", "30", "--temperature", "0", "Dona Amélia"]
    assert call(common, capsys) == call(common + ["--no-cache"], capsys)


def test_task_prompt_prints_one_answer_line(checkpoint, capsys):
    out = call(["--model", str(checkpoint), "--task", "quem fala", "--max-new-tokens", "10", "--temperature", "0",
                "- É verdade - concordou Honório."], capsys)
    assert out.count("\n") == 1


def test_errors_are_explained(checkpoint, tmp_path, capsys):
    with pytest.raises(ValueError, match="gpt-pretrain"):
        call(["--model", str(tmp_path / "nothing"), "oi"], capsys)
    with pytest.raises(ValueError, match="top-p"):
        call(["--model", str(checkpoint), "--top-p", "1.5", "oi"], capsys)
    with pytest.raises(ValueError, match="unknown task"):
        call(["--model", str(checkpoint), "--task", "resumir", "oi"], capsys)

"""The `transmodal transcribe` JSON contract on a tiny randomly initialised checkpoint."""

import json

import pytest
from am_testlib import save_checkpoint, write_wav

import transmodal.cli as cli
from transmodal.asr.vocab import CharVocab

CHOICES = ["zero", "one", "two", "três"]


@pytest.fixture(autouse=True)
def _with_transcribe(monkeypatch):
    # The command is listed in transmodal.commands.MODULES by the maintainers; make sure it is here.
    if "transmodal.commands.transcribe" not in cli.MODULES:
        monkeypatch.setattr(cli, "MODULES", [*cli.MODULES, "transmodal.commands.transcribe"])


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("am") / "ckpt")


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    d = tmp_path_factory.mktemp("wavs")
    return [write_wav(d / f"a{i}.wav", s, rate=r, freq=f, seed=i)
            for i, (s, r, f) in enumerate([(0.9, 8000, 300.0), (0.4, 16000, 700.0), (1.3, 8000, 1200.0)])]


def _run(capsys, *argv):
    code = cli.main(["transcribe", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_one_json_line_per_input_in_order(ckpt, wavs, capsys):
    order = [wavs[2], wavs[0], wavs[1], wavs[0]]
    code, rows, _ = _run(capsys, "--model", ckpt, *order)
    assert code == 0
    assert [r["path"] for r in rows] == [str(p) for p in order]
    for r in rows:
        assert set(r) == {"path", "text", "confidence"}
        assert isinstance(r["text"], str) and 0.0 <= r["confidence"] <= 1.0
    assert rows[1] == rows[3]  # the same file twice gives the same answer


def test_choices_text_is_exactly_one_line(ckpt, wavs, tmp_path, capsys):
    f = tmp_path / "choices.txt"
    f.write_text("\n".join(CHOICES[:2]) + "\n\n" + "\n".join(CHOICES[2:]) + "\n", encoding="utf-8")
    code, rows, _ = _run(capsys, "--model", ckpt, "--choices", f, *wavs)
    assert code == 0 and len(rows) == len(wavs)
    for r in rows:
        assert r["text"] in CHOICES
        assert 0.0 < r["confidence"] <= 1.0 + 1e-9


def test_calibration_changes_confidence_not_answer(ckpt, wavs, tmp_path, capsys):
    import shutil

    from transmodal.asr.closed_set import Calibrator

    f = tmp_path / "choices.txt"
    f.write_text("\n".join(CHOICES), encoding="utf-8")
    _, raw, _ = _run(capsys, "--model", ckpt, "--choices", f, *wavs)
    cal_dir = tmp_path / "cal"
    shutil.copytree(ckpt, cal_dir)
    (cal_dir / "calibration.json").write_text(Calibrator(temperature=50.0).to_json(), encoding="utf-8")
    _, cal, _ = _run(capsys, "--model", cal_dir, "--choices", f, *wavs)
    assert [r["text"] for r in cal] == [r["text"] for r in raw]
    # a very high temperature pulls every posterior towards 1/N
    assert all(abs(c["confidence"] - 1 / len(CHOICES)) < abs(r["confidence"] - 1 / len(CHOICES)) + 1e-9 for c, r in zip(cal, raw))
    assert all(abs(c["confidence"] - 1 / len(CHOICES)) < 0.05 for c in cal)


def test_empty_choices_file_is_a_clear_error(ckpt, wavs, tmp_path, capsys):
    f = tmp_path / "empty.txt"
    f.write_text("\n  \n", encoding="utf-8")
    code, rows, err = _run(capsys, "--model", ckpt, "--choices", f, wavs[0])
    assert code == 2 and not rows
    assert "no answers" in err and "empty.txt" in err


@pytest.mark.parametrize("kind", ["missing", "garbage", "empty"])
def test_bad_audio_exit_2_names_the_file(ckpt, wavs, tmp_path, capsys, kind):
    bad = tmp_path / f"bad_{kind}.wav"
    if kind == "garbage":
        bad.write_bytes(b"this is not audio at all" * 10)
    elif kind == "empty":
        bad.write_bytes(b"")
    code, rows, err = _run(capsys, "--model", ckpt, wavs[0], bad)
    assert code == 2
    assert not rows  # nothing half-printed: every file is read before any output
    assert f"bad_{kind}.wav" in err


def test_not_a_speech_model_is_refused(tmp_path, wavs, capsys):
    code, _, err = _run(capsys, "--model", tmp_path / "nowhere", wavs[0])
    assert code == 2 and "nowhere" in err


def test_plot_written(ckpt, wavs, tmp_path, capsys):
    png = tmp_path / "post.png"
    code, rows, err = _run(capsys, "--model", ckpt, "--beam", "3", "--plot", png, wavs[0])
    assert code == 0 and len(rows) == 1
    assert png.is_file() and png.stat().st_size > 5000


def test_beam_and_greedy_agree_on_text_type(ckpt, wavs, capsys):
    _, g, _ = _run(capsys, "--model", ckpt, *wavs)
    _, b, _ = _run(capsys, "--model", ckpt, "--beam", "4", *wavs)
    vocab = CharVocab()
    for r in g + b:
        assert all(ch in vocab.chars for ch in r["text"])
    assert [r["confidence"] for r in g] == [r["confidence"] for r in b]  # best-path confidence is beam-independent


def _posteriors(vocab: CharVocab, frames: list[dict[str, float]]):
    """(T, V) log-probabilities: each frame's named characters ("" = blank, " " = space) get their mass, the rest share 1e-3."""
    import torch

    lp = torch.full((len(frames), vocab.vocab_size), 1e-3)
    for t, frame in enumerate(frames):
        for ch, p in frame.items():
            lp[t, vocab.blank_id if ch == "" else vocab.space_id if ch == " " else vocab.encode(ch)[0]] = p
    return (lp / lp.sum(-1, keepdim=True)).log()


def test_lexicon_decoding_spells_only_lexicon_words_and_characters_otherwise():
    from transmodal.asr.model import Transcriber
    from am_testlib import tiny_model

    vocab = CharVocab()
    lexicon = ["two", "four", "zero"]
    with_lexicon = Transcriber(tiny_model(), vocab, lexicon=lexicon)
    chars = Transcriber(tiny_model(), vocab)
    twgo = _posteriors(vocab, [{"t": 0.9}, {"w": 0.9}, {"g": 0.6, "": 0.35}, {"o": 0.9}])
    assert chars._free(twgo, 1)[0] == "twgo"
    assert with_lexicon._free(twgo, 1)[0] == "two"
    two_two = _posteriors(vocab, [{"t": .9}, {"w": .9}, {"o": .9}, {" ": .9}, {"t": .9}, {"w": .9}, {"o": .9}])
    assert with_lexicon._free(two_two, 1)[0] == "two two"  # any number of words, not one choice
    assert with_lexicon._free(_posteriors(vocab, [{"": 0.99}] * 5), 1)[0] == ""  # nothing said is allowed


def test_checkpoint_lexicon_is_used_unless_no_lexicon(wavs, tmp_path, capsys):
    from am_testlib import tiny_model

    from transmodal.asr.model import LEXICON, Transcriber
    from transmodal.train import save_model

    path = save_model(tmp_path / "lex", tiny_model(), extra_files={CharVocab.FILENAME: CharVocab().to_json(),
                                                                    LEXICON: "zero\none\n\ntwo\n"})
    assert Transcriber.load(path).lexicon == ["zero", "one", "two"]
    assert Transcriber.load(path, use_lexicon=False).lexicon is None
    code, rows, _ = _run(capsys, "--model", path, *wavs)
    assert code == 0 and all(set(r["text"].split()) <= {"zero", "one", "two"} for r in rows)
    code, rows_chars, _ = _run(capsys, "--model", path, "--no-lexicon", *wavs)
    assert code == 0 and len(rows_chars) == len(wavs)
    (path / LEXICON).write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match="no words"):
        Transcriber.load(path)

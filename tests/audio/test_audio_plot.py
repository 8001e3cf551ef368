"""`transmodal audio-plot` writes a PNG and reports bad input as a clear error."""

import argparse

import numpy as np
import pytest
import torch
from audio_testutil import pack_ints, tone, wav_bytes

from transmodal.audio import AudioError, encode_pcm
from transmodal.audio.plot import zoom_window
from transmodal.commands import audio_plot

PNG = b"\x89PNG\r\n\x1a\n"


def run(argv):
    parser = argparse.ArgumentParser(prog="transmodal")
    audio_plot.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.func(args)


@pytest.fixture(scope="module")
def speechlike(tmp_path_factory):
    x = tone(220.0, 22050, 0.6) * torch.hann_window(13230, dtype=torch.float64) + 0.2 * tone(1800.0, 22050, 0.6)
    path = tmp_path_factory.mktemp("plot") / "hello.wav"
    path.write_bytes(wav_bytes(pack_ints(np.round(x.numpy() * 32767).astype(np.int64), 16), 22050, 1, 16))
    return path


def test_audio_plot_writes_a_png(speechlike, tmp_path, capsys):
    out = tmp_path / "pics" / "hello.png"
    run(["audio-plot", str(speechlike), "--out", str(out), "--bits", "3"])
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 10_000
    assert str(out) in capsys.readouterr().err


def test_audio_plot_reads_raw_telephone_pcm(tmp_path):
    raw = tmp_path / "call.ulaw"
    raw.write_bytes(encode_pcm(tone(440.0, 8000, 0.3)[None], "mulaw"))
    run(["audio-plot", str(raw), "--encoding", "mulaw", "--rate", "8000"])
    assert (tmp_path / "call.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("argv, error, message", [
    (["--bits", "0"], ValueError, "--bits 0: choose from 1 to 16"),
    (["--encoding", "s16le"], ValueError, "also needs --rate"),
    (["--rate", "8000"], ValueError, "only for headerless PCM"),
])
def test_bad_options_fail_clearly(argv, error, message, speechlike, tmp_path):
    with pytest.raises(error, match=message):
        run(["audio-plot", str(speechlike), "--out", str(tmp_path / "x.png")] + argv)


def test_bad_file_is_an_audio_error(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(AudioError, match="notes.wav: not a readable audio file"):
        run(["audio-plot", str(bad), "--out", str(tmp_path / "x.png")])
    assert not (tmp_path / "x.png").exists()


def test_zoom_goes_where_the_sound_is():
    x = torch.zeros(1000)
    x[600:640] = 0.5
    start = zoom_window(x, 48)
    assert start <= 600 and start + 48 >= 640

"""Reading audio: WAV of every sample width and float, FLAC/OGG, raw PCM, channels, resampling, and every
kind of bad input failing with a message that says what is wrong."""

import math
import struct

import numpy as np
import pytest
import torch
from audio_testutil import pack_ints, peak_frequency, tone, wav_bytes

from transmodal.audio import Audio, AudioError, check_not_silent, encode_pcm, level_dbfs, load_audio, read_pcm, save_audio

RNG = np.random.default_rng(0)


def _full_range_ints(bits: int, n: int) -> np.ndarray:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return np.concatenate([[lo, hi, 0, -1, 1], RNG.integers(lo, hi, n, endpoint=True)])


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
def test_integer_wav_round_trip(bits, write_wav):
    ints = _full_range_ints(bits, 995)
    path = write_wav(f"int{bits}.wav", pack_ints(ints, bits), rate=8000, bits=bits)
    audio = load_audio(path)
    assert audio.sample_rate == 8000 and audio.samples.shape == (1, 1000) and audio.samples.dtype == torch.float32
    expected = torch.from_numpy(ints / 2.0 ** (bits - 1))
    assert torch.allclose(audio.samples[0].double(), expected, rtol=0, atol=2.0**-24)
    assert audio.samples.min().item() == -1.0


@pytest.mark.parametrize("bits, dtype", [(32, "<f4"), (64, "<f8")])
def test_float_wav_round_trip(bits, dtype, write_wav):
    values = RNG.uniform(-1, 1, 999).astype(dtype)
    path = write_wav(f"float{bits}.wav", values.tobytes(), rate=22050, bits=bits, float_format=True)
    audio = load_audio(path)
    assert torch.allclose(audio.samples[0].double(), torch.from_numpy(values.astype(np.float64)), atol=1e-7)


def test_float_wav_beyond_full_scale_is_clipped(write_wav):
    values = np.array([0.5, 1.5, -3.0, -0.25], dtype="<f4")
    audio = load_audio(write_wav("hot.wav", values.tobytes(), bits=32, float_format=True))
    assert audio.samples[0].tolist() == [0.5, 1.0, -1.0, -0.25]


def test_stereo_mixdown_and_keep_channels(write_wav):
    left = np.round(tone(440.0, 16000, 0.25).numpy() * 32767).astype(np.int64)
    right = np.round(tone(1000.0, 16000, 0.25, amplitude=0.2).numpy() * 32767).astype(np.int64)
    interleaved = np.stack([left, right], axis=1)
    path = write_wav("stereo.wav", pack_ints(interleaved, 16), channels=2)
    both = load_audio(path, mono=False)
    assert both.channels == 2 and both.num_samples == 4000 and math.isclose(both.duration, 0.25)
    assert torch.allclose(both.samples[0].double(), torch.from_numpy(left / 32768), atol=1e-7)
    assert torch.allclose(both.samples[1].double(), torch.from_numpy(right / 32768), atol=1e-7)
    mono = load_audio(path)
    assert mono.samples.shape == (1, 4000)
    assert torch.allclose(mono.samples[0].double(), torch.from_numpy((left + right) / 2 / 32768), atol=1e-7)


def test_resampling_on_load(write_wav):
    ints = np.round(tone(1500.0, 48000).numpy() * 32767).astype(np.int64)
    audio = load_audio(write_wav("tone48k.wav", pack_ints(ints, 16), rate=48000), sample_rate=16000)
    assert audio.sample_rate == 16000 and audio.num_samples == 16000
    assert abs(peak_frequency(audio.samples[0], 16000) - 1500.0) <= 1.0


@pytest.mark.parametrize("suffix, subtype", [(".flac", "PCM_16"), (".ogg", "VORBIS"), (".wav", "PCM_24")])
def test_flac_and_ogg_through_libsndfile(suffix, subtype, tmp_path):
    x = tone(600.0, 16000, amplitude=0.4).float()
    path = save_audio(tmp_path / f"a{suffix}", Audio(x[None], 16000), subtype=subtype)
    audio = load_audio(path)
    assert audio.sample_rate == 16000 and abs(audio.num_samples - 16000) <= 0
    assert abs(peak_frequency(audio.samples[0], 16000) - 600.0) <= 1.0
    if subtype.startswith("PCM"):              # lossless: exact up to the sample width
        bits = int(subtype[4:])
        assert (audio.samples[0] - x).abs().max().item() <= 2.0 ** -(bits - 1) / 2 + 1e-7


# ---------------------------------------------------------------- raw PCM

@pytest.mark.parametrize("encoding, bound", [("s8", 2**-8), ("u8", 2**-8), ("s16le", 2**-16), ("s24le", 2**-24),
                                             ("s32le", 2**-24), ("f32le", 2**-24), ("f64le", 2**-24)])  # output is float32
def test_pcm_round_trip_within_half_a_step(encoding, bound):
    x = torch.from_numpy(RNG.uniform(-1, 1 - 2**-7, (2, 500)))
    audio = read_pcm(encode_pcm(x, encoding), 8000, encoding, channels=2, mono=False)
    assert audio.samples.shape == (2, 500)
    assert (audio.samples.double() - x).abs().max().item() <= bound + 1e-9


@pytest.mark.parametrize("encoding, raw, expected", [
    ("s16le", struct.pack("<3h", 32767, -32768, -1), [32767 / 32768, -1.0, -1 / 32768]),
    ("s24le", b"\xff\xff\x7f" + b"\x00\x00\x80" + b"\xff\xff\xff" + b"\x01\x00\x00", [1 - 2**-23, -1.0, -(2**-23), 2**-23]),
    ("u8", bytes([0x80, 0x00, 0xFF]), [0.0, -1.0, 127 / 128]),
    ("s8", bytes([0x80, 0x7F, 0x00]), [-1.0, 127 / 128, 0.0]),
    ("s32le", struct.pack("<2i", -(2**31), 2**30), [-1.0, 0.5]),
    ("f32le", struct.pack("<2f", 0.25, -0.5), [0.25, -0.5]),
    ("mulaw", bytes([0xFF, 0x80, 0x00]), [0.0, 32124 / 32768, -32124 / 32768]),
    ("alaw", bytes([0xD5, 0xAA, 0x2A]), [8 / 32768, 32256 / 32768, -32256 / 32768]),
])
def test_pcm_decodes_known_byte_patterns(encoding, raw, expected):
    assert read_pcm(raw, 8000, encoding).samples[0].tolist() == pytest.approx(expected, abs=1e-9)


def test_pcm_many_channels_kept_or_mixed(tmp_path):
    ints = RNG.integers(-30000, 30000, (1000, 5))                 # frames × channels, interleaved
    path = tmp_path / "five.raw"
    path.write_bytes(pack_ints(ints, 16))
    kept = read_pcm(path, 16000, "s16le", channels=5, mono=False)
    assert torch.allclose(kept.samples.double(), torch.from_numpy(ints.T / 32768), atol=1e-7)
    mixed = read_pcm(path, 16000, "s16le", channels=5)
    assert torch.allclose(mixed.samples[0].double(), torch.from_numpy(ints.mean(1) / 32768), atol=1e-7)


def test_telephone_mulaw_resampled_to_16k():
    raw = encode_pcm(tone(440.0, 8000, amplitude=0.5)[None], "mulaw")
    audio = read_pcm(raw, 8000, "mulaw", target_rate=16000)
    assert audio.sample_rate == 16000 and audio.num_samples == 16000
    assert abs(peak_frequency(audio.samples[0], 16000) - 440.0) <= 1.0


def test_silence_is_allowed_by_default_and_refused_when_asked(write_wav):
    path = write_wav("zeros.wav", bytes(3200))
    assert load_audio(path).samples.abs().max().item() == 0.0
    with pytest.raises(AudioError, match="silent .all zeros"):
        load_audio(path, allow_silence=False)
    quiet = tone(440.0, 16000, 0.1, amplitude=10 ** (-90 / 20) * math.sqrt(2))     # −90 dBFS RMS
    assert level_dbfs(quiet) == pytest.approx(-90.0, abs=0.01)
    with pytest.raises(AudioError, match=r"-90.0 dBFS, below -80"):
        check_not_silent(quiet)
    assert check_not_silent(quiet * 1000) == pytest.approx(-30.0, abs=0.01)


# ---------------------------------------------------------------- bad input

def _bad_file(kind: str, tmp_path):
    good = wav_bytes(pack_ints(np.arange(-400, 400) * 40, 16), 16000, 1, 16)
    path = tmp_path / f"{kind}.wav"
    if kind == "text":
        path.write_text("this is a shopping list, not a recording\n" * 20)
    elif kind == "header_cut":
        path.write_bytes(good[:30])
    elif kind == "data_cut":
        path.write_bytes(good[:1001])
    elif kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "no_frames":
        path.write_bytes(wav_bytes(b"", 16000, 1, 16))
    elif kind in ("nan", "inf"):
        values = np.full(100, 0.1, dtype="<f4")
        values[37] = np.nan if kind == "nan" else np.inf
        path.write_bytes(wav_bytes(values.tobytes(), 16000, 1, 32, float_format=True))
    elif kind == "directory":
        path.mkdir()
    elif kind == "zero_rate":
        path.write_bytes(wav_bytes(bytes(200), 0, 1, 16))
    elif kind == "absurd_rate":
        path.write_bytes(wav_bytes(bytes(200), 1_000_000, 1, 16))
    return path


@pytest.mark.parametrize("kind, message", [
    ("missing", "no such file"),
    ("directory", "not a file"),
    ("text", "not a readable audio file .*Format not recognised"),
    ("header_cut", "not a readable audio file"),
    ("data_cut", "truncated WAV file: its header promises 1600 bytes of samples but only 957"),
    ("zero_bytes", r"empty file \(0 bytes\)"),
    ("no_frames", r"contains no samples"),
    ("nan", "1 of 100 samples are NaN or Inf"),
    ("inf", "1 of 100 samples are NaN or Inf"),
    ("zero_rate", "not a readable audio file"),
    ("absurd_rate", "sample rate in the file header 1000000 Hz is absurd"),
])
def test_bad_files_fail_with_their_message(kind, message, tmp_path):
    path = _bad_file(kind, tmp_path)
    with pytest.raises(AudioError, match=message) as info:
        load_audio(path)
    assert str(path) in str(info.value)                  # the message names the file
    assert isinstance(info.value, ValueError)            # so the CLI prints it instead of a traceback


def test_too_long_says_how_long(write_wav):
    path = write_wav("long.wav", bytes(2 * 16000 * 3))
    with pytest.raises(AudioError, match=r"3\.0 s long .*limit of 2 s"):
        load_audio(path, max_seconds=2)
    assert load_audio(path, max_seconds=3).duration == 3.0


@pytest.mark.parametrize("rate, message", [(0, "must be positive"), (-16000, "must be positive"),
                                           (500_000, "absurd"), (float("nan"), "whole number")])
def test_bad_requested_rate(rate, message, write_wav):
    with pytest.raises(AudioError, match=message):
        load_audio(write_wav("ok.wav", bytes(320)), sample_rate=rate)


@pytest.mark.parametrize("call, message", [
    (lambda: read_pcm(bytes(1001), 8000, "s16le"), "wrongly described: 1001 bytes is not a whole number of frames"),
    (lambda: read_pcm(bytes(12), 8000, "s24le", channels=3), r"12 bytes .* 3 channel\(s\) × 3 byte"),
    (lambda: read_pcm(bytes(10), 8000, "pcm16"), "unknown PCM encoding 'pcm16'; choose one of s8, u8, s16le"),
    (lambda: read_pcm(bytes(10), 0, "s16le"), "must be positive"),
    (lambda: read_pcm(bytes(10), 1_000_000, "s16le"), "absurd"),
    (lambda: read_pcm(bytes(10), 8000, "s16le", channels=0), "channels must be a whole number"),
    (lambda: read_pcm(b"", 8000, "mulaw"), "empty"),
    (lambda: read_pcm(struct.pack("<3f", 0.1, float("nan"), 0.2), 8000, "f32le"), "1 of 3 samples are NaN"),
    (lambda: read_pcm(bytes(8000 * 2 * 5), 8000, "s16le", max_seconds=4), r"5\.0 s long"),
    (lambda: read_pcm("/nonexistent/call.raw", 8000, "alaw"), "no such file"),
    (lambda: read_pcm(bytes(100), 8000, "alaw", allow_silence=False), None),
    (lambda: read_pcm(bytes([0xFF] * 100), 8000, "mulaw", allow_silence=False), "silent"),
    (lambda: read_pcm(bytes(10), 8000, "s16le", target_rate=-1), "must be positive"),
])
def test_bad_pcm_fails_with_its_message(call, message):
    if message is None:                                  # A-law byte 0x00 is −5504, not silence
        assert call().num_samples == 100
        return
    with pytest.raises(AudioError, match=message):
        call()

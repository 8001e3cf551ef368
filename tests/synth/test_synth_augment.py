"""Each augmentation does what it says: measured on the signal, not trusted from the parameters."""

import numpy as np
import pytest

from transmodal.audio.synth.augment import (AugmentSpec, add_noise, apply_gain, apply_steps, pink_noise, reverb, snr_db,
                                            synthetic_rir, telephone, telephone_decode, telephone_encode)
from transmodal.audio.synth.dsp import (band_pass, float_to_pcm16, mulaw_decode, mulaw_encode, read_wav, resample,
                                        write_wav)

SR = 16000


def band_energy(x, sr, lo, hi):
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return spec[(f >= lo) & (f < hi)].sum()


def speechlike(seconds=1.0, seed=0):
    """Harmonics of a wandering 120–220 Hz fundamental under a syllable-rate envelope: broadband, speech-like."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 170 + 50 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 40))
    x *= 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    x += 0.05 * np.random.default_rng(seed).standard_normal(len(t))
    return 0.5 * x / np.abs(x).max()


def test_telephone_removes_everything_above_3400_hz_and_keeps_the_rate():
    x = 0.3 * np.random.default_rng(0).standard_normal(SR)  # white: as much energy above 3.4 kHz as possible
    y = telephone(x, SR)
    assert y.shape == x.shape  # same rate (16 kHz in, 16 kHz out), same length
    above_in, above_out = band_energy(x, SR, 3400, SR / 2), band_energy(y, SR, 3400, SR / 2)
    assert 10 * np.log10(above_in / above_out) > 30
    below_in, below_out = band_energy(x, SR, 0, 300), band_energy(y, SR, 0, 300)
    assert 10 * np.log10(below_in / below_out) > 30
    mid_in, mid_out = band_energy(x, SR, 500, 3000), band_energy(y, SR, 500, 3000)
    assert abs(10 * np.log10(mid_in / mid_out)) < 1.0  # the voice band passes


def test_telephone_line_carries_8_bit_mulaw_at_8_khz():
    x = speechlike(1.5)
    codes = telephone_encode(x, SR)
    assert codes.dtype == np.uint8 and len(codes) == len(x) * 8000 // SR
    assert len(np.unique(codes)) > 100  # the whole code range is in use, not a handful of levels
    assert np.allclose(telephone(x, SR), telephone_decode(codes, SR)[: len(x)])
    for rate in (8000, 22050, 44100):
        assert len(telephone(np.zeros(rate), rate)) == rate  # back at the caller's rate, whatever it is


def test_telephone_is_quantised_through_mulaw_at_8_khz():
    # A 1 kHz tone survives at 1 kHz; the 8-bit mu-law round trip leaves noise ~35–40 dB down, not 90 dB.
    t = np.arange(SR) / SR
    x = 0.5 * np.sin(2 * np.pi * 1000 * t)
    y = telephone(x, SR)
    assert np.fft.rfftfreq(len(y), 1 / SR)[np.argmax(np.abs(np.fft.rfft(y)))] == pytest.approx(1000, abs=2)
    err = snr_db(x[800:-800], (y - x)[800:-800])
    assert 25 < err < 50
    # the same tone band-passed but not companded is far cleaner: the difference is the codec
    clean = band_pass(x, SR, 300, 3400)
    assert snr_db(x[800:-800], (clean - x)[800:-800]) > 60


def test_mulaw_codec_values():
    codes = np.array([0xFF, 0xFE, 0x80, 0x00, 0x7F], dtype=np.uint8)
    assert mulaw_decode(codes).tolist() == [0, 8, 32124, -32124, 0]
    assert mulaw_encode(np.array([0, 32767, -32768], dtype=np.int16)).tolist() == [0xFF, 0x80, 0x00]
    pcm = np.arange(-32768, 32768, dtype=np.int16)
    back = mulaw_decode(mulaw_encode(pcm))
    assert len(np.unique(mulaw_encode(pcm))) == 256
    big = np.abs(pcm.astype(int)) > 256
    assert (np.abs(back.astype(int) - pcm)[big] / np.abs(pcm[big])).max() < 0.07  # ~6 % steps: logarithmic
    assert np.array_equal(mulaw_decode(mulaw_encode(back)), back)  # decoded values are fixed points
    with pytest.raises(ValueError, match="int16"):
        mulaw_encode(np.zeros(3))


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_noise_snr_is_what_was_asked_after_writing_16_bit(kind, snr, tmp_path):
    x = speechlike()
    sources = [speechlike(0.7, seed=s) for s in range(1, 5)]
    y = add_noise(x, snr, kind, np.random.default_rng(1), sources=sources)
    path = write_wav(tmp_path / "noisy.wav", y / np.abs(y).max() * 0.9, SR)
    z, sr = read_wav(path)
    z *= np.abs(y).max() / 0.9
    assert sr == SR
    assert abs(snr_db(x, z - x) - snr) < 0.5


def test_noise_colours():
    n = 2**16
    white, pink = np.random.default_rng(0).standard_normal(n), pink_noise(n, np.random.default_rng(0))
    octaves = [(250, 500), (1000, 2000), (4000, 8000)]
    w = [band_energy(white, SR, *o) for o in octaves]
    p = [band_energy(pink, SR, *o) for o in octaves]
    assert 10 * np.log10(w[2] / w[0]) == pytest.approx(10 * np.log10(16), abs=0.5)  # white: +3 dB per octave
    assert abs(10 * np.log10(p[2] / p[0])) < 0.5 and abs(10 * np.log10(p[1] / p[0])) < 0.5  # pink: flat per octave
    with pytest.raises(ValueError, match="babble"):
        add_noise(speechlike(), 10, "babble", np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown noise"):
        add_noise(speechlike(), 10, "brown", np.random.default_rng(0))


def decay_time(y, start, sr, drop_db=40.0):
    """Seconds after ``start`` until the 10 ms energy envelope stays ``drop_db`` below its level just before."""
    hop = sr // 100
    env = np.array([np.mean(y[i:i + hop] ** 2) for i in range(0, len(y) - hop, hop)]) + 1e-20
    ref = env[start // hop - 2]
    after = np.arange(len(env)) > start // hop
    loud = np.nonzero(after & (env > ref * 10 ** (-drop_db / 10)))[0]
    return 0.0 if len(loud) == 0 else (loud[-1] + 1) * hop / sr - start / sr


def test_reverb_lengthens_the_decay():
    burst = np.zeros(int(1.5 * SR))
    burst[: SR // 5] = np.random.default_rng(0).standard_normal(SR // 5) * 0.3
    dry = decay_time(burst, SR // 5, SR)
    wet = [decay_time(reverb(burst, SR, rt, np.random.default_rng(1)), SR // 5, SR) for rt in (0.3, 0.9)]
    assert dry < 0.02
    assert 0.1 < wet[0] < wet[1]  # longer with reverb, and longer the larger the RT60
    assert len(reverb(burst, SR, 0.5, np.random.default_rng(0))) == len(burst) + int(0.5 * SR) - 1  # the tail is kept


@pytest.mark.parametrize("rt60", [0.3, 0.8])
def test_rir_decays_60_db_in_rt60(rt60):
    h = synthetic_rir(rt60, SR, np.random.default_rng(0))
    assert np.sum(h**2) == pytest.approx(1.0)
    edc = 10 * np.log10(np.cumsum(h[::-1] ** 2)[::-1] / np.sum(h**2))  # Schroeder integration
    # slope between -5 and -25 dB, extrapolated to 60 dB (the T20 estimate), away from the end effect
    i5, i25 = np.argmax(edc < -5), np.argmax(edc < -25)
    t20 = (i25 - i5) / SR * 3
    assert t20 == pytest.approx(rt60, rel=0.15)
    with pytest.raises(ValueError, match="rt60"):
        synthetic_rir(9.0, SR, np.random.default_rng(0))


def test_gain():
    x = speechlike()
    assert np.sqrt(np.mean(apply_gain(x, 6.0) ** 2) / np.mean(x**2)) == pytest.approx(10 ** (6 / 20))
    assert np.sqrt(np.mean(apply_gain(x, -20.0) ** 2) / np.mean(x**2)) == pytest.approx(0.1)
    loud = apply_steps(x, SR, [{"kind": "gain", "db": 30.0}])
    assert np.abs(loud).max() <= 0.99  # never clips


def test_resample_keeps_frequency_and_duration():
    t = np.arange(22050) / 22050
    x = 0.5 * np.sin(2 * np.pi * 1000 * t)
    y = resample(x, 22050, SR)
    assert len(y) == SR
    assert np.fft.rfftfreq(len(y), 1 / SR)[np.argmax(np.abs(np.fft.rfft(y)))] == pytest.approx(1000, abs=1)
    ref = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)
    assert np.abs(y - ref)[1000:-1000].max() < 0.02
    assert float_to_pcm16(np.array([1.5, -1.5])).tolist() == [32767, -32767]


def test_augment_spec_validates_and_draws_deterministically():
    spec = AugmentSpec(p_noise=1, p_reverb=1, p_telephone=1, p_gain=1)
    a, b = spec.draw(np.random.default_rng(5)), spec.draw(np.random.default_rng(5))
    assert a == b and [s["kind"] for s in a] == ["reverb", "noise", "telephone", "gain"]
    assert AugmentSpec.none().draw(np.random.default_rng(0)) == []
    with pytest.raises(ValueError, match="p_noise=1.5"):
        AugmentSpec(p_noise=1.5)
    with pytest.raises(ValueError, match="snr_db"):
        AugmentSpec(snr_db=(30, 5))
    with pytest.raises(ValueError, match="noise_kinds"):
        AugmentSpec(noise_kinds=("brown",))

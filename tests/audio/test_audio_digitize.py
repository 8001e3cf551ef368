"""Sampling, uniform quantisation (error ≤ Δ/2, 6.02·b + 1.76 dB), Whittaker–Shannon reconstruction, SNR."""

import math

import numpy as np
import pytest
import torch

from transmodal.audio import AudioError, mulaw_decode, mulaw_encode
from transmodal.audio.digitize import quantize, reconstruct, sample, snr_db


def test_sample_takes_the_function_at_n_over_rate():
    t, x = sample(lambda t: torch.cos(2 * math.pi * 3 * t), rate=50, duration=2.0, start=0.5)
    assert t.shape == x.shape == (100,)
    assert t[0] == 0.5 and math.isclose(t[1] - t[0], 0.02) and math.isclose(t[-1], 0.5 + 99 / 50)
    expected = [math.cos(2 * math.pi * 3 * (0.5 + n / 50)) for n in range(100)]
    assert torch.allclose(x, torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("bits", [1, 3, 8, 16])
def test_mid_rise_error_at_most_half_a_step_everywhere(bits):
    x = torch.linspace(-1, 1, 20001, dtype=torch.float64)
    q = quantize(x, bits, "mid-rise")
    step = 2 / 2**bits
    assert q.step == step
    assert (q.values - x).abs().max().item() <= step / 2 + 1e-12
    assert q.codes.min().item() == -(2 ** (bits - 1)) and q.codes.max().item() == 2 ** (bits - 1) - 1
    assert torch.equal(q.values, (q.codes.double() + 0.5) * step)
    if bits <= 8:                                          # the grid is fine enough to hit every level
        expected = -1 + step / 2 + step * torch.arange(2**bits, dtype=torch.float64)
        assert torch.allclose(torch.unique(q.values), expected, atol=1e-12)
    assert not (q.values == 0).any()                       # mid-rise: zero is a threshold, not a level


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_mid_tread_is_twos_complement_pcm(bits):
    step = 2 / 2**bits
    x = torch.linspace(-1, 1 - step / 2, 10001, dtype=torch.float64)
    q = quantize(x, bits, "mid-tread")
    assert (q.values - x).abs().max().item() <= step / 2 + 1e-12
    assert quantize(torch.zeros(3), bits, "mid-tread").values.tolist() == [0.0, 0.0, 0.0]
    assert torch.equal(q.values, q.codes.double() * step)
    # 16-bit mid-tread is what a WAV file stores: round(x · 32768)
    y = torch.tensor([0.1, -0.3, 0.99999, -1.0], dtype=torch.float64)
    assert quantize(y, 16, "mid-tread").codes.tolist() == [round(v * 32768) for v in [0.1, -0.3]] + [32767, -32768]


@pytest.mark.parametrize("bits", [8, 12])
def test_full_scale_sine_snr_is_6_02_bits_plus_1_76_db(bits):
    _, x = sample(lambda t: torch.sin(2 * math.pi * 997 * t + 0.1), rate=48000, duration=1.0)
    q = quantize(x, bits, "mid-rise")
    assert abs(snr_db(x, q.values) - (6.02 * bits + 1.76)) < 1.0


def test_each_bit_buys_about_6_db():
    _, x = sample(lambda t: 0.9 * torch.sin(2 * math.pi * 441.3 * t), rate=16000, duration=1.0)
    snrs = [snr_db(x, quantize(x, b).values) for b in range(6, 12)]
    assert np.allclose(np.diff(snrs), 6.02, atol=0.5)


def test_reconstruction_is_exact_on_the_grid_and_accurate_between_samples_away_from_the_ends():
    rate = 100.0

    def signal(t):   # band-limited: all components below the Nyquist frequency of 50 Hz
        return (0.5 * torch.sin(2 * math.pi * 3.3 * t) + 0.3 * torch.cos(2 * math.pi * 17.1 * t + 1)
                + 0.2 * torch.sin(2 * math.pi * 41.7 * t))
    t, x = sample(signal, rate, duration=10.0)
    assert torch.allclose(reconstruct(x, rate, t[::7]), x[::7], atol=1e-12)
    query = 3.0 + 4.0 * torch.rand(500, generator=torch.Generator().manual_seed(0), dtype=torch.float64)   # off-grid
    err = (reconstruct(x, rate, query) - signal(query)).abs().max().item()
    assert err < 1e-2
    # near the ends the truncated sum is visibly worse: the error is the missing samples beyond them
    edge = torch.tensor([0.013, 9.985], dtype=torch.float64)
    assert (reconstruct(x, rate, edge) - signal(edge)).abs().max().item() > err


def test_reconstruction_cannot_recover_an_aliased_tone():
    # 70 Hz sampled at 100 Hz is indistinguishable from 30 Hz: reconstruction returns the alias
    t, x = sample(lambda t: torch.cos(2 * math.pi * 70 * t), 100.0, duration=10.0)
    query = torch.linspace(4.0, 6.0, 301, dtype=torch.float64)
    y = reconstruct(x, 100.0, query)
    assert (y - torch.cos(2 * math.pi * 30 * query)).abs().max() < 2e-2
    assert (y - torch.cos(2 * math.pi * 70 * query)).abs().max() > 0.5


def test_snr_db_of_known_noise():
    ref = torch.ones(100, dtype=torch.float64)
    assert snr_db(ref, ref + 0.1) == pytest.approx(20.0)
    assert snr_db(ref, ref) == math.inf


def test_mulaw_tools_are_g711():
    assert mulaw_encode(torch.tensor([0.0])).item() == 0xFF
    assert mulaw_decode(torch.tensor([0x80], dtype=torch.uint8)).item() == 32124 / 32768


@pytest.mark.parametrize("call, message", [
    (lambda: quantize(torch.zeros(3), 0), "bits must be a whole number from 1 to 32"),
    (lambda: quantize(torch.zeros(3), 4, "mid-air"), "unknown quantiser mode"),
    (lambda: sample(torch.sin, rate=0, duration=1), "rate must be positive"),
    (lambda: reconstruct(torch.zeros(2, 5), 10, torch.zeros(3)), "one channel"),
    (lambda: snr_db(torch.zeros(3), torch.zeros(4)), "same shape"),
])
def test_bad_arguments_fail_clearly(call, message):
    with pytest.raises(AudioError, match=message):
        call()

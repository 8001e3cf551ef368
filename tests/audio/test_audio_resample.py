"""Band-limited resampling: tones keep their frequency and level, band-limited signals match their formula,
and what lies above the new Nyquist frequency is removed."""

import importlib
import math

import numpy as np
import pytest
import torch
from audio_testutil import peak_frequency, tone

from transmodal.audio.errors import AudioError
from transmodal.audio.resample import resample

RATIOS = [(8000, 16000), (48000, 16000), (44100, 16000)]


@pytest.mark.parametrize("orig, new", RATIOS)
def test_tone_keeps_its_frequency_and_level(orig, new):
    x = tone(1000.0, orig, amplitude=0.5)
    y = resample(x.float(), orig, new)
    assert y.dtype == torch.float32 and y.shape == (math.ceil(len(x) * new / orig),)
    assert abs(peak_frequency(y, new) - 1000.0) <= 1.0          # 1 s of signal: 1 Hz FFT bins
    rms = y[new // 10: -new // 10].double().pow(2).mean().sqrt().item()
    assert abs(20 * math.log10(rms / (0.5 / math.sqrt(2)))) < 0.01


@pytest.mark.parametrize("orig, new", RATIOS + [(16000, 22050)])
def test_band_limited_signal_matches_its_formula_at_the_new_instants(orig, new):
    freqs = [120.0, 1234.5, 0.3 * min(orig, new)]                # all well inside the pass band
    n_in = orig // 2
    t_in = torch.arange(n_in, dtype=torch.float64) / orig
    x = sum(0.3 * torch.sin(2 * math.pi * f * t_in + k) for k, f in enumerate(freqs))
    y = resample(x, orig, new)
    t_out = torch.arange(y.shape[0], dtype=torch.float64) / new
    ref = sum(0.3 * torch.sin(2 * math.pi * f * t_out + k) for k, f in enumerate(freqs))
    inner = slice(new // 20, -new // 20)                         # away from the zero-padded ends
    assert (y - ref)[inner].abs().max() < 1e-4


@pytest.mark.parametrize("orig, new, freq", [(48000, 16000, 10000.0), (44100, 16000, 9000.0), (16000, 8000, 5000.0),
                                             (48000, 16000, 20000.0)])
def test_tone_above_the_new_nyquist_is_attenuated_by_more_than_40_db(orig, new, freq):
    x = tone(freq, orig, amplitude=0.9)
    y = resample(x, orig, new)
    inner = y[new // 10: -new // 10]
    ratio_db = 20 * math.log10(inner.pow(2).mean().sqrt().item() / (0.9 / math.sqrt(2)))
    assert ratio_db < -40


def test_channels_and_batch_dimensions_are_independent():
    x = torch.stack([tone(440.0, 8000, 0.2), tone(880.0, 8000, 0.2, amplitude=0.2)]).reshape(2, 1, -1)
    y = resample(x, 8000, 11025)
    assert y.shape == (2, 1, math.ceil(1600 * 11025 / 8000))
    for i in range(2):
        assert torch.allclose(y[i, 0], resample(x[i, 0], 8000, 11025), atol=1e-12)


def test_phases_computed_on_the_fly_equal_the_table(monkeypatch):
    x = tone(700.0, 44100, 0.1)
    table = resample(x, 44100, 16000)
    monkeypatch.setattr(importlib.import_module("transmodal.audio.resample"), "_TABLE_LIMIT", 0)
    assert torch.allclose(resample(x, 44100, 16000), table, atol=1e-12)


def test_equal_rates_are_the_identity_and_impulse_sums_to_one():
    x = torch.randn(1000, dtype=torch.float64)
    assert resample(x, 16000, 16000) is x
    impulse = torch.zeros(4000, dtype=torch.float64)
    impulse[2000] = 1.0
    # DC gain 1: the kernel's samples on the output grid sum to new/orig
    assert abs(resample(impulse, 48000, 16000).sum().item() - 1 / 3) < 1e-4
    assert abs(resample(impulse, 8000, 16000).sum().item() - 2.0) < 1e-4
    spectrum = np.abs(np.fft.rfft(resample(impulse, 16000, 8000).numpy()))
    assert spectrum[: int(0.8 * len(spectrum))].min() > 0.5 * 0.99       # flat pass band (gain 1/2 per output sample)


@pytest.mark.parametrize("args, message", [((16000, 0), "must be positive"), ((16000, 500000), "absurd"),
                                           ((-8000, 16000), "must be positive"), ((16000.5, 8000), "whole number")])
def test_bad_rates_fail_clearly(args, message):
    with pytest.raises(AudioError, match=message):
        resample(torch.zeros(10), *args)


def test_integer_samples_are_refused():
    with pytest.raises(AudioError, match="float samples"):
        resample(torch.zeros(10, dtype=torch.int16), 8000, 16000)

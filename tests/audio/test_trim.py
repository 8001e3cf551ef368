"""Silence trimming before recognition: the span found, its margins, noisy audio left alone, the minimum length."""

import pytest
import torch

from transmodal.audio.trim import speech_span, trim_silence

RATE = 16000


def burst(lead: float, seconds: float, trail: float, noise: float = 0.0) -> torch.Tensor:
    t = torch.arange(int(seconds * RATE)) / RATE
    tone = 0.5 * torch.sin(2 * torch.pi * 300 * t)
    g = torch.Generator().manual_seed(0)
    w = torch.cat([torch.zeros(int(lead * RATE)), tone, torch.zeros(int(trail * RATE))])
    return w + noise * torch.randn(w.shape[0], generator=g)


def test_span_covers_the_speech_plus_margins():
    w = burst(0.3, 0.5, 1.0)
    start, end = speech_span(w, RATE, margin_s=0.05, after_s=0.05)
    # onset 0.3 s − 50 ms margin, offset 0.8 s + 50 ms; a 25 ms frame that only touches the tone may count
    assert int(0.225 * RATE) <= start <= int(0.25 * RATE)
    assert int(0.85 * RATE) <= end <= int(0.875 * RATE)


def test_trim_removes_leading_and_trailing_silence_only():
    w = burst(0.3, 0.5, 2.0)
    out = trim_silence(w, RATE)
    assert 0.5 * RATE + 0.3 * RATE <= out.shape[0] <= 0.5 * RATE + 0.4 * RATE  # 50 ms before, 300 ms after
    assert torch.allclose(out.abs().max(), w.abs().max())


def test_noise_as_loud_as_speech_is_not_trimmed_and_silence_is_unchanged():
    w = burst(0.3, 0.5, 0.5, noise=0.2)  # noise ~12 dB below the tone: everything is above −40 dB
    assert speech_span(w, RATE) == (0, w.shape[0])
    z = torch.zeros(RATE)
    assert trim_silence(z, RATE) is not None and trim_silence(z, RATE).shape[0] == RATE


def test_minimum_length_is_kept():
    w = burst(1.0, 0.02, 1.0)
    out = trim_silence(w, RATE, min_samples=4000, margin_s=0.0, after_s=0.0)
    assert out.shape[0] == 4000
    with pytest.raises(ValueError, match="mono"):
        speech_span(w[None], RATE)

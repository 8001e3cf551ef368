"""Log-mel features against an independent float64 numpy reference; tones land in their mel bin; padding
changes nothing; per-utterance normalisation; SpecAugment; speed perturbation; VTLP's frequency warp."""

import math

import numpy as np
import pytest
import torch
from audio_testutil import peak_frequency, tone

from transmodal.audio import AudioError
from transmodal.audio.features import LogMel, SpecAugment, mel_filterbank, normalize_utterance, speed_perturb, vtlp_warp

RNG = np.random.default_rng(1)


def reference_mel_matrix(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangles on the HTK mel scale, written with explicit loops."""
    top = 2595 * math.log10(1 + (sr / 2) / 700)
    points = [700 * (10 ** (top * i / (n_mels + 1) / 2595) - 1) for i in range(n_mels + 2)]
    out = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        lo, mid, hi = points[m], points[m + 1], points[m + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sr / n_fft
            if lo < f <= mid:
                out[m, k] = (f - lo) / (mid - lo)
            elif mid < f < hi:
                out[m, k] = (hi - f) / (hi - mid)
    return out


def reference_log_mel(x: np.ndarray, sr: int = 16000, n_mels: int = 80) -> np.ndarray:
    """(N,) float64 → (T, n_mels): 25 ms periodic-Hann frames every 10 ms, |rfft_512|², mel, log."""
    win, hop, n_fft = sr * 25 // 1000, sr * 10 // 1000, 512
    window = np.array([0.5 - 0.5 * math.cos(2 * math.pi * n / win) for n in range(win)])
    frames = [x[s:s + win] * window for s in range(0, len(x) - win + 1, hop)]
    power = np.abs(np.fft.rfft(np.array(frames), n=n_fft)) ** 2
    return np.log(np.maximum(power @ reference_mel_matrix(sr, n_fft, n_mels).T, 1e-10))


def test_filterbank_matches_the_reference():
    assert torch.allclose(mel_filterbank(16000, 512, 80), torch.from_numpy(reference_mel_matrix(16000, 512, 80)), atol=1e-12)


def test_log_mel_matches_numpy_reference_in_float64_and_float32():
    x = RNG.standard_normal(8000) * 0.1 + 0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)
    ref = reference_log_mel(x)
    lm = LogMel()
    assert (lm.win_length, lm.hop_length, lm.n_fft) == (400, 160, 512)
    feats64, frames = lm(torch.from_numpy(x)[None])
    assert feats64.shape == (1, ref.shape[0], 80) == (1, 48, 80) and frames.tolist() == [48]
    assert np.allclose(feats64[0].numpy(), ref, atol=1e-9)
    feats32, _ = lm(torch.from_numpy(x).float()[None])
    assert feats32.dtype == torch.float32
    assert np.abs(feats32[0].numpy() - ref).max() < 2e-3


@pytest.mark.parametrize("bin_index", [5, 20, 45, 75])
def test_tone_energy_lands_in_the_mel_bin_of_its_frequency(bin_index):
    top = 2595 * math.log10(1 + 8000 / 700)
    centre = 700 * (10 ** (top * (bin_index + 1) / 81 / 2595) - 1)     # the peak of triangle bin_index
    feats, _ = LogMel()(tone(centre, 16000, 0.5)[None].float())
    assert int(feats[0].mean(0).argmax()) == bin_index


def test_padded_batch_gives_each_item_its_own_features():
    lengths = [16000, 12345, 400, 399]
    waves = [torch.from_numpy(RNG.standard_normal(n) * 0.1).float() for n in lengths]
    batch = torch.full((4, 16000), 7.0)                               # loud garbage in the padding
    for i, w in enumerate(waves):
        batch[i, : len(w)] = w
    lm = LogMel()
    feats, frames = lm(batch, torch.tensor(lengths))
    assert frames.tolist() == [1 + (n - 400) // 160 if n >= 400 else 0 for n in lengths] == [98, 75, 1, 0]
    for i, w in enumerate(waves):
        t = frames[i]
        if t:
            alone, _ = lm(w[None])
            assert torch.allclose(feats[i, :t], alone[0], atol=1e-5)
        assert torch.all(feats[i, t:] == 0)


def test_too_short_input_gives_no_frames_and_wrong_rank_is_refused():
    feats, frames = LogMel()(torch.zeros(2, 100))
    assert feats.shape == (2, 0, 80) and frames.tolist() == [0, 0]
    with pytest.raises(AudioError, match=r"\(B, N\).*wave\[None\]"):
        LogMel()(torch.zeros(16000))


def test_normalize_utterance_uses_only_valid_frames():
    feats = torch.from_numpy(RNG.standard_normal((3, 50, 8)) * 4 + 2)
    lengths = torch.tensor([50, 20, 1])
    feats[1, 20:] = 1e6                                                # padding must not matter
    out = normalize_utterance(feats, lengths)
    for i, n in enumerate(lengths.tolist()):
        x = feats[i, :n].numpy()
        expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
        assert np.allclose(out[i, :n].numpy(), expected, atol=1e-9)
        assert torch.all(out[i, n:] == 0)
    assert torch.allclose(out[0].mean(0), torch.zeros(8, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(out[0].std(0, unbiased=False), torch.ones(8, dtype=torch.float64), atol=1e-5)


def test_spec_augment_masks_whole_bands_and_stretches_inside_the_true_length():
    b, t, f = 6, 200, 80
    feats = torch.from_numpy(RNG.uniform(1, 2, (b, t, f))).float()        # never 0 before masking
    lengths = torch.tensor([200, 150, 100, 60, 20, 1])
    aug = SpecAugment(freq_masks=2, freq_width=27, time_masks=10, time_width_ratio=0.05)
    aug.eval()
    assert aug(feats, lengths) is feats
    aug.train()
    out = aug(feats, lengths, generator=torch.Generator().manual_seed(3))
    masked = out == 0
    assert masked.any()
    for i, n in enumerate(lengths.tolist()):
        assert torch.equal(out[i, n:], feats[i, n:])                     # padding untouched
        m = masked[i, :n]
        bands = m.all(0)                                                  # bins masked in every valid frame
        frames = m.all(1)                                                 # frames masked in every bin
        assert torch.equal(m, bands[None, :] | frames[:, None])           # every masked cell is in a band or a stretch
        assert torch.equal(out[i, :n][~m], feats[i, :n][~m])
        assert bands.sum() <= 2 * 27
        assert frames.sum() <= 10 * math.floor(0.05 * n) or bands.all()
    # a different seed masks differently; the same seed the same
    again = aug(feats, lengths, generator=torch.Generator().manual_seed(3))
    assert torch.equal(again, out)
    assert not torch.equal(aug(feats, lengths, generator=torch.Generator().manual_seed(4)), out)


def test_spec_augment_mask_sizes_reach_their_limits_over_many_draws():
    aug = SpecAugment(freq_masks=1, freq_width=27, time_masks=1, time_width_ratio=0.05).train()
    feats = torch.ones(400, 100, 80)
    out = aug(feats, torch.full((400,), 100), generator=torch.Generator().manual_seed(0))
    bands = (out == 0).all(1).sum(1)
    stretches = (out == 0).all(2).sum(1)
    assert bands.max() == 27 and bands.min() == 0 and stretches.max() == 5


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_changes_length_and_pitch_by_the_factor(factor):
    x = tone(1000.0, 16000, 1.0).float()
    y = speed_perturb(x, 16000, factor)
    assert abs(y.shape[-1] - 16000 / factor) <= 1
    assert abs(peak_frequency(y, 16000) - 1000.0 * factor) <= 16000 / y.shape[-1]
    assert speed_perturb(x, 16000, 1.0) is x
    with pytest.raises(AudioError, match="speed factor must be a positive number"):
        speed_perturb(x, 16000, 0.0)


def reference_vtlp(f: float, alpha: float, nyquist: float, boundary: float = 0.8) -> float:
    """Jaitly & Hinton's piecewise-linear warp, written out for one frequency."""
    f_b = boundary * nyquist * min(alpha, 1.0) / alpha
    if f <= f_b:
        return alpha * f
    return nyquist - (nyquist - alpha * f_b) / (nyquist - f_b) * (nyquist - f)


@pytest.mark.parametrize("alpha", [0.8, 0.9, 1.0, 1.13, 1.2])
def test_vtlp_warp_matches_the_reference_keeps_the_ends_and_is_increasing(alpha):
    freqs = torch.linspace(0, 4000, 401, dtype=torch.float64)
    got = vtlp_warp(freqs, torch.tensor([alpha]), 4000.0)[0]
    want = torch.tensor([reference_vtlp(float(f), alpha, 4000.0) for f in freqs], dtype=torch.float64)
    torch.testing.assert_close(got, want)
    assert got[0] == 0 and abs(float(got[-1]) - 4000) < 1e-9
    assert bool((got.diff() > 0).all())


def test_vtlp_moves_a_tone_to_the_mel_bin_of_the_scaled_frequency():
    lm = LogMel(8000)
    x = tone(900.0, 8000, 0.5)[None].float()
    scaled = [int(LogMel(8000)(tone(900.0 * a, 8000, 0.5)[None].float())[0][0].mean(0).argmax()) for a in (0.85, 1.15)]
    warped = [int(lm(x, warp=torch.tensor([a]))[0][0].mean(0).argmax()) for a in (0.85, 1.15)]
    plain = int(lm(x)[0][0].mean(0).argmax())
    assert warped == scaled and scaled[0] < plain < scaled[1]


def test_vtlp_with_factor_one_is_exactly_no_warp_and_each_item_has_its_own_factor():
    lm = LogMel(8000)
    x = torch.randn(3, 4000)
    plain, _ = lm(x)
    torch.testing.assert_close(lm(x, warp=torch.ones(3))[0], plain)
    mixed, _ = lm(x, warp=torch.tensor([1.0, 1.1, 1.0]))
    torch.testing.assert_close(mixed[[0, 2]], plain[[0, 2]])
    assert not torch.allclose(mixed[1], plain[1])

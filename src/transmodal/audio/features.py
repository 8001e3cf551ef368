r"""Speech features: log-mel filterbank, per-utterance normalisation, SpecAugment, speed perturbation.

**Log-mel** (the input of every speech model here). For a waveform at f_s Hz, frames of
W = 25 ms (400 samples at 16 kHz) every H = 10 ms (160 samples)::

    frame_t[n]  = x[t·H + n] · w[n],            w[n] = ½ − ½·cos(2πn / W)   (periodic Hann), n < W
    X_t[k]      = Σ_n frame_t[n] · e^(−2πi·kn / n_fft),   n_fft = next power of 2 ≥ W (512), k ≤ n_fft/2
    P_t[k]      = |X_t[k]|²                                (power spectrum)
    E_t[m]      = Σ_k F[m, k] · P_t[k]                     (80 mel bands)
    feats[t, m] = log(max(E_t[m], 1e-10))

Frames are taken only where they fit entirely in the signal (no padding at the ends, as Kaldi's
``snip_edges``): T = 1 + ⌊(N − W) / H⌋ frames for N ≥ W samples, none for fewer. So frame t of a padded
batch item depends only on its own samples, and a padded batch gives each item exactly the features it
has alone. No dither, pre-emphasis or DC removal.

The mel scale (HTK): m(f) = 2595 · log10(1 + f / 700). Band m is a triangle over FFT bin frequencies
f_k = k·f_s / n_fft, rising from f_{m−1} to 1 at f_m and falling to f_{m+1}, where f_0 … f_{M+1} are
M + 2 points equally spaced in mel from m(f_min) to m(f_max) (0 and f_s / 2 by default). Triangles have
peak 1 (no area normalisation).

**SpecAugment** (Park et al. 2019): during training, zero ``freq_masks`` bands of up to ``freq_width``
mel bins and ``time_masks`` stretches of up to ``time_width_ratio`` × the utterance's length; time warping
is left out (the paper found it the least useful). **Speed perturbation** (Ko et al. 2015): play the
waveform at 0.9×, 1.0× or 1.1× speed by resampling, which changes duration and pitch together.

**Vocal tract length perturbation** (VTLP, Jaitly & Hinton 2013): a longer or shorter vocal tract scales a
speaker's formants by a factor α, so during training each utterance's spectrum is warped along frequency by
its own α ~ U[1 − v, 1 + v] (piecewise linear, :func:`vtlp_warp`) before the mel filters: the energy at f
is counted at w_α(f). Band m then sums E_t[m] = Σ_k F_m(w_α(f_k)) · P_t[k], i.e. the triangles are evaluated
at the warped bin frequencies. Two real speakers become a family of speakers with other formants; duration
and pitch (harmonic spacing aside) are untouched, unlike speed perturbation. Every band must span at least two FFT bins
(40 bands at 8 or 16 kHz do; 80 do not): a band one bin wide can fall between the warped bins and come out
empty, an artefact training would learn and evaluation never shows (``SpeechRecognizer`` refuses to train so).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from transmodal.audio.errors import AudioError, check_sample_rate
from transmodal.audio.resample import resample, speed_factor_rates

LOG_FLOOR = 1e-10


def hz_to_mel(f):
    """HTK mel scale: 2595 · log10(1 + f / 700) (works on floats and tensors)."""
    return 2595.0 * (torch.log10(1.0 + f / 700.0) if isinstance(f, Tensor) else math.log10(1.0 + f / 700.0))


def mel_to_hz(m):
    """Inverse of :func:`hz_to_mel`: 700 · (10^(m / 2595) − 1)."""
    return 700.0 * ((10.0 ** (m / 2595.0)) - 1.0)


def mel_edges(sample_rate: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None) -> Tensor:
    """The corners f_0 … f_{M+1} (M + 2,) of the mel bands, equally spaced in mel, in Hz, float64."""
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise AudioError(f"mel filterbank needs 0 ≤ f_min < f_max ≤ sample_rate / 2 = {sample_rate / 2:g} Hz; "
                         f"got f_min={f_min}, f_max={f_max}")
    return mel_to_hz(torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2, dtype=torch.float64))


def bin_frequencies(sample_rate: int, n_fft: int) -> Tensor:
    """f_k = k · f_s / n_fft for k = 0 … n_fft / 2, float64."""
    return torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None) -> Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters on the HTK mel scale, peak 1, in float64."""
    return triangles(mel_edges(sample_rate, n_mels, f_min, f_max), bin_frequencies(sample_rate, n_fft))


def triangles(edges: Tensor, freqs: Tensor) -> Tensor:
    """Triangular filters with corners ``edges`` (M + 2,) evaluated at ``freqs`` (..., K) → (..., M, K)."""
    freqs = freqs[..., None, :]
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - left) / (centre - left)
    falling = (right - freqs) / (right - centre)
    return torch.minimum(rising, falling).clamp(min=0.0)


def vtlp_warp(freqs: Tensor, alpha: Tensor, nyquist: float, boundary: float = 0.8) -> Tensor:
    """VTLP's piecewise-linear frequency warp w_α(f) of ``freqs`` (K,) for each ``alpha`` (B,) → (B, K).

    With f_b = boundary · nyquist · min(α, 1) / α (so that α · f_b ≤ boundary · nyquist)::

        w_α(f) = α · f                                                    for f ≤ f_b
        w_α(f) = nyquist − (nyquist − α·f_b) / (nyquist − f_b) · (nyquist − f)   for f > f_b

    Continuous at f_b, w_α(0) = 0 and w_α(nyquist) = nyquist, increasing; α = 1 is the identity.
    """
    alpha = alpha.to(freqs.dtype)[:, None]
    f_b = boundary * nyquist * alpha.clamp(max=1.0) / alpha
    upper = nyquist - (nyquist - alpha * f_b) / (nyquist - f_b) * (nyquist - freqs)
    return torch.where(freqs <= f_b, alpha * freqs, upper)


class LogMel(nn.Module):
    """Waveforms ``(B, N)`` (and their lengths) → log-mel features ``(B, T, n_mels)`` and frame lengths ``(B,)``.

    Computes in the input's float dtype (float64 input gives float64 features). Frames past an item's
    length are set to 0.
    """

    def __init__(self, sample_rate: int = 16000, n_mels: int = 80, win_ms: float = 25.0, hop_ms: float = 10.0,
                 f_min: float = 0.0, f_max: float | None = None):
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.win_length = round(sample_rate * win_ms / 1000)
        self.hop_length = round(sample_rate * hop_ms / 1000)
        if self.win_length < 2 or self.hop_length < 1:
            raise AudioError(f"LogMel: a {win_ms} ms window / {hop_ms} ms hop at {sample_rate} Hz is "
                             f"{self.win_length} / {self.hop_length} samples; need at least 2 / 1")
        self.n_fft = 1 << (self.win_length - 1).bit_length()                # next power of 2 ≥ W
        self.n_mels = n_mels
        n = torch.arange(self.win_length, dtype=torch.float64)
        self.register_buffer("window", 0.5 - 0.5 * torch.cos(2 * math.pi * n / self.win_length), persistent=False)
        self.register_buffer("edges", mel_edges(sample_rate, n_mels, f_min, f_max), persistent=False)
        self.register_buffer("bins", bin_frequencies(sample_rate, self.n_fft), persistent=False)
        self.register_buffer("filters", triangles(self.edges, self.bins), persistent=False)

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        """Number of whole frames in each of ``lengths`` samples: 1 + ⌊(N − W) / H⌋, or 0 when N < W."""
        frames = torch.div(lengths - self.win_length, self.hop_length, rounding_mode="floor") + 1
        return frames.clamp(min=0)

    def forward(self, wave: Tensor, lengths: Tensor | None = None, warp: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``warp`` (B,), optional: each item's VTLP factor α (:func:`vtlp_warp`); None = no warping."""
        if wave.ndim != 2:
            raise AudioError(f"LogMel expects a batch of waveforms (B, N), got shape {tuple(wave.shape)}; "
                             "for a single waveform use wave[None]")
        dtype = wave.dtype if wave.is_floating_point() else torch.float32
        wave = wave.to(dtype)
        b, n = wave.shape
        if lengths is None:
            lengths = torch.full((b,), n, dtype=torch.long, device=wave.device)
        n_frames = int(self.frame_lengths(torch.tensor(n)))
        if lengths.shape != (b,):
            raise AudioError(f"LogMel: lengths must be (B,) = ({b},), got shape {tuple(lengths.shape)}")
        frame_lengths = self.frame_lengths(lengths.to(wave.device)).clamp(max=n_frames)
        if n_frames == 0:
            return wave.new_zeros(b, 0, self.n_mels), frame_lengths
        frames = wave.unfold(-1, self.win_length, self.hop_length) * self.window.to(dtype)   # (B, T, W)
        spectrum = torch.fft.rfft(frames, n=self.n_fft)                                       # (B, T, n_fft/2+1)
        power = spectrum.real.square() + spectrum.imag.square()
        if warp is None:
            mel = power @ self.filters.to(dtype).T                                            # (B, T, M)
        else:
            filters = triangles(self.edges, vtlp_warp(self.bins, warp.to(wave.device), self.sample_rate / 2))  # (B, M, K)
            mel = torch.einsum("btk,bmk->btm", power, filters.to(dtype))
        feats = mel.clamp(min=LOG_FLOOR).log()
        valid = torch.arange(n_frames, device=wave.device)[None, :] < frame_lengths[:, None]  # (B, T)
        return feats.masked_fill(~valid[..., None], 0.0), frame_lengths


def normalize_utterance(feats: Tensor, lengths: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Per-utterance, per-feature mean/variance normalisation over the valid frames only.

    feats: (B, T, F); lengths: (B,) valid frames (None = all). y = (x − μ) / √(σ² + eps), μ and σ² over
    t < length; padded frames come out 0.
    """
    if feats.ndim != 3:
        raise AudioError(f"normalize_utterance expects (B, T, F) features, got shape {tuple(feats.shape)}")
    b, t, _ = feats.shape
    if lengths is None:
        lengths = torch.full((b,), t, dtype=torch.long, device=feats.device)
    valid = (torch.arange(t, device=feats.device)[None, :] < lengths[:, None])[..., None]   # (B, T, 1)
    count = valid.sum(1, keepdim=True).clamp(min=1)                                          # (B, 1, 1)
    x = feats.masked_fill(~valid, 0.0)
    mean = x.sum(1, keepdim=True) / count
    var = ((x - mean).masked_fill(~valid, 0.0).square()).sum(1, keepdim=True) / count
    return ((x - mean) / torch.sqrt(var + eps)).masked_fill(~valid, 0.0)


class SpecAugment(nn.Module):
    """Frequency and time masking of (B, T, F) features, in training mode only (identity in eval mode).

    Each of ``freq_masks`` masks zeroes f ~ U{0..freq_width} consecutive bins starting at f0 ~ U{0..F − f};
    each of ``time_masks`` masks zeroes w ~ U{0..⌊time_width_ratio · length⌋} frames starting at
    t0 ~ U{0..length − w}, inside the item's true length. Masked entries become ``mask_value`` (0 = the mean
    after :func:`normalize_utterance`). Defaults follow the Conformer/FastConformer recipes (2 × 27 bins,
    10 × 5 %).
    """

    def __init__(self, freq_masks: int = 2, freq_width: int = 27, time_masks: int = 10,
                 time_width_ratio: float = 0.05, mask_value: float = 0.0):
        super().__init__()
        if min(freq_masks, freq_width, time_masks) < 0 or not 0 <= time_width_ratio <= 1:
            raise AudioError("SpecAugment: mask counts and widths must be ≥ 0 and time_width_ratio in [0, 1]")
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width_ratio = time_masks, time_width_ratio
        self.mask_value = mask_value

    def forward(self, feats: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        if not self.training:
            return feats
        b, t, f = feats.shape
        dev = feats.device
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long, device=dev)
        lengths = lengths.to(dev)

        def uniform_int(high: Tensor) -> Tensor:   # one integer per item, uniform on 0..high (inclusive)
            u = torch.rand(high.shape, generator=generator, device=dev)
            return torch.minimum((u * (high + 1).to(u.dtype)).floor().long(), high)

        mask = torch.zeros(b, t, f, dtype=torch.bool, device=dev)
        bins = torch.arange(f, device=dev)[None, :]
        for _ in range(self.freq_masks):
            width = uniform_int(torch.full((b,), min(self.freq_width, f), device=dev))
            start = uniform_int(f - width)
            mask |= ((bins >= start[:, None]) & (bins < (start + width)[:, None]))[:, None, :]
        frames = torch.arange(t, device=dev)[None, :]
        max_width = (lengths.double() * self.time_width_ratio).floor().long()
        for _ in range(self.time_masks):
            width = uniform_int(max_width)
            start = uniform_int((lengths - width).clamp(min=0))
            mask |= ((frames >= start[:, None]) & (frames < (start + width)[:, None]))[:, :, None]
        mask &= (frames < lengths[:, None])[:, :, None]
        return feats.masked_fill(mask, self.mask_value)


def speed_perturb(wave: Tensor, rate: int, factor: float) -> Tensor:
    """Play ``wave: (..., N)`` ``factor`` times faster: resample from rate·factor to rate → (..., ≈N / factor).

    factor 0.9 / 1.0 / 1.1 is the 3-way perturbation of Ko et al. (2015); pitch moves with the speed.
    """
    if factor == 1.0:
        return wave
    orig, new = speed_factor_rates(check_sample_rate(rate), factor)
    return resample(wave, orig, new)

r"""Digitisation as tools: sample a continuous signal, quantise it, reconstruct it, compand it, measure it.

* **Sampling** at rate f_s keeps x[n] = x(n / f_s). If x has no energy at or above f_s / 2 (the Nyquist
  frequency), the samples determine it completely (Nyquist–Shannon), through
* **Whittaker–Shannon interpolation**::

      x(t) = Σ_n x[n] · sinc(f_s·t − n),     sinc(u) = sin(πu) / (πu)

  With finitely many samples the sum is cut at the ends, so reconstruction is accurate away from them
  (the error falls like 1 / distance to the nearest end).
* **Uniform quantisation** to b bits on [−1, 1] with step Δ:

  - mid-rise: Δ = 2 / 2^b, code k = ⌊x / Δ⌋ ∈ [−2^(b−1), 2^(b−1) − 1], value (k + ½)·Δ. Zero is a
    decision threshold, not a level; the levels ±Δ/2 … ±(1 − Δ/2) are symmetric and |error| ≤ Δ/2
    on all of [−1, 1].
  - mid-tread: Δ = 2 / 2^b, k = round(x / Δ) clipped to the same range, value k·Δ. Zero is a level (silence
    stays silent); this is two's-complement PCM (16-bit WAV is mid-tread with Δ = 2^−15), whose top
    level is 1 − Δ, so |error| ≤ Δ/2 on [−1, 1 − Δ/2].

  For a full-scale sine the error is close to uniform on [−Δ/2, Δ/2] (power Δ²/12) and the signal
  power is ½, so SNR = 10·log10(½ / (Δ²/12)) = 6.02·b + 1.76 dB: each bit buys 6 dB.
* **Companding** (G.711 μ-law / A-law, 8 bits): see :mod:`transmodal.audio.g711`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from transmodal.audio.errors import AudioError
from transmodal.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode  # noqa: F401 (re-exported)

__all__ = ["Quantized", "alaw_decode", "alaw_encode", "mulaw_decode", "mulaw_encode", "quantize", "reconstruct",
           "sample", "snr_db"]

QUANTIZER_MODES = ("mid-rise", "mid-tread")


def sample(fn: Callable[[Tensor], Tensor], rate: float, duration: float, start: float = 0.0) -> tuple[Tensor, Tensor]:
    """Sample ``fn`` (a function of time in seconds, taking and returning float64 tensors) at ``rate`` Hz.

    Returns ``(t, x)``, both (N,) float64, with N = round(duration · rate) and t[n] = start + n / rate.
    """
    if not rate > 0 or not math.isfinite(rate):
        raise AudioError(f"sampling rate must be positive, got {rate!r}")
    if not duration >= 0 or not math.isfinite(duration):
        raise AudioError(f"duration must be ≥ 0 seconds, got {duration!r}")
    t = start + torch.arange(round(duration * rate), dtype=torch.float64) / rate
    x = fn(t)
    if not isinstance(x, Tensor) or x.shape != t.shape:
        raise AudioError(f"fn must map a (N,) tensor of times to a (N,) tensor of values; got {type(x).__name__} "
                         f"{tuple(getattr(x, 'shape', ()))}")
    return t, x


@dataclass
class Quantized:
    """The result of :func:`quantize`: integer ``codes`` (int64), reconstructed ``values``, and the ``step`` Δ."""

    codes: Tensor
    values: Tensor
    step: float
    bits: int
    mode: str


def quantize(x: Tensor, bits: int, mode: str = "mid-rise") -> Quantized:
    """Uniform b-bit quantiser on [−1, 1] (``mode`` "mid-rise" or "mid-tread"; see the module docstring).

    Values outside [−1, 1] are clipped to the end levels.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 32:
        raise AudioError(f"bits must be a whole number from 1 to 32, got {bits!r}")
    if mode not in QUANTIZER_MODES:
        raise AudioError(f"unknown quantiser mode {mode!r}; choose one of {QUANTIZER_MODES}")
    step = 2.0 / 2**bits
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    xd = x.double()
    if mode == "mid-rise":
        codes = torch.floor(xd / step).clamp(lo, hi).to(torch.int64)
        values = (codes.double() + 0.5) * step
    else:
        codes = torch.round(xd / step).clamp(lo, hi).to(torch.int64)
        values = codes.double() * step
    dtype = x.dtype if x.is_floating_point() else torch.float32
    return Quantized(codes, values.to(dtype), step, bits, mode)


def reconstruct(samples: Tensor, rate: float, t: Tensor, start: float = 0.0) -> Tensor:
    """Whittaker–Shannon interpolation: x(t) = Σ_n x[n]·sinc(rate·(t − start) − n) at any times ``t`` (seconds).

    samples: (N,) taken at start + n / rate. t: any shape. Returns float64 of t's shape.
    """
    if samples.ndim != 1:
        raise AudioError(f"reconstruct takes one channel, samples of shape (N,); got {tuple(samples.shape)}")
    x = samples.double()
    u = (t.double().reshape(-1) - start) * rate                           # query times in sample units
    n = torch.arange(x.shape[0], dtype=torch.float64)
    out = torch.empty_like(u)
    chunk = max(1, (1 << 22) // max(1, x.shape[0]))                      # bound the (chunk, N) sinc matrix
    for i in range(0, u.shape[0], chunk):
        out[i:i + chunk] = torch.sinc(u[i:i + chunk, None] - n) @ x
    return out.reshape(t.shape)


def snr_db(reference: Tensor, test: Tensor) -> float:
    """Signal-to-noise ratio 10·log10(Σ ref² / Σ (ref − test)²) in dB; +inf when they are equal."""
    if reference.shape != test.shape:
        raise AudioError(f"snr_db needs tensors of the same shape, got {tuple(reference.shape)} and {tuple(test.shape)}")
    signal = reference.double().pow(2).sum().item()
    noise = (reference.double() - test.double()).pow(2).sum().item()
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)

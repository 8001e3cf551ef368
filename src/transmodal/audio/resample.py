r"""Band-limited resampling: windowed-sinc (Kaiser window) polyphase interpolation, in torch.

A signal sampled at ``orig`` Hz is, by the sampling theorem, the samples of the unique band-limited
function x(t) = Σ_k x[k] · sinc(t − k) (t in input-sample units, sinc(u) = sin(πu)/(πu)). Resampling
evaluates that function at the new instants. Two things make it practical:

1. **Anti-aliasing.** When the new rate is lower, everything above the *new* Nyquist frequency must go
   first, or it folds back as aliases. The interpolation kernel is therefore a low-pass sinc whose cutoff
   is the lower of the two Nyquist frequencies, shrunk by a ``rolloff`` < 1 to leave room for the
   filter's transition band::

       c = rolloff · min(1, new / orig)                 (cutoff, as a fraction of the input Nyquist)
       h(t) = c · sinc(c·t) · w(t / R),   R = zero_crossings / c

   The factor c keeps the DC gain at 1 (Σ_k c·sinc(c(t − k)) ≈ 1 for every t).
2. **A finite kernel.** The sinc is cut to ``zero_crossings`` lobes either side (|t| ≤ R input samples)
   by the Kaiser window w(u) = I₀(β √(1 − u²)) / I₀(β) for |u| ≤ 1, 0 beyond. β trades the width of
   the transition band for the stop-band attenuation, about 8.7 + β / 0.1102 dB (Kaiser's formula);
   the defaults (32 zero crossings, rolloff 0.92, β = 9) give ≈ 90 dB with the band edge at the new
   Nyquist frequency, and a flat pass band to ≈ 0.84 of it (6.7 kHz at 16 kHz).

**Polyphase.** Divide both rates by their gcd: new/orig = L/M. Output sample n sits at input time
τ_n = n·M/L, whose integer part is b_n = ⌊nM/L⌋ and whose fractional part is φ_n = p_n / L with
p_n = nM mod L. Hence only L distinct fractions ("phases") occur, and::

    y[n] = Σ_{j=−J}^{J+1} x[b_n + j] · h(φ_n − j),        J = ⌊R⌋

is a short dot product with one of L precomputed rows of taps (computed on the fly when L is huge, e.g.
16001 → 16000 Hz). The input is taken as zero outside its ends; the output has ⌈N·L/M⌉ samples and no
delay (the kernel is centred on τ_n).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import torch
from torch import Tensor

from transmodal.audio.errors import AudioError, check_sample_rate

ZERO_CROSSINGS = 32
ROLLOFF = 0.92
BETA = 9.0
_TABLE_LIMIT = 1 << 21      # precompute all L phase rows when L × taps stays below this
_CHUNK_ELEMENTS = 1 << 22   # bound on gathered elements per step (memory ≈ 32 MiB in float64)


def _taps(frac: Tensor, cutoff: float, zero_crossings: int, beta: float) -> Tensor:
    """(P,) fractional offsets φ ∈ [0, 1) → (P, 2J + 2) taps h(φ − j) for j = −J .. J + 1 (float64)."""
    radius = zero_crossings / cutoff                                   # R, in input samples
    half = math.floor(radius)                                          # J
    j = torch.arange(-half, half + 2, dtype=torch.float64, device=frac.device)
    t = frac.to(torch.float64)[:, None] - j                            # (P, K) distances to the taps
    u = (t / radius).clamp(-1.0, 1.0)
    i0_beta = torch.special.i0(torch.tensor(beta, dtype=torch.float64)).item()
    window = torch.special.i0(beta * torch.sqrt(1.0 - u * u)) / i0_beta
    window = torch.where(t.abs() <= radius, window, torch.zeros_like(window))
    return cutoff * torch.sinc(cutoff * t) * window


@lru_cache(maxsize=16)
def _phase_table(up: int, down: int, zero_crossings: int, rolloff: float, beta: float) -> Tensor:
    """(L, K) taps for the L phases p/L, cached per conversion."""
    cutoff = rolloff * min(1.0, up / down)
    return _taps(torch.arange(up, dtype=torch.float64) / up, cutoff, zero_crossings, beta)


def resample(x: Tensor, orig_rate: int, new_rate: int, *, zero_crossings: int = ZERO_CROSSINGS,
             rolloff: float = ROLLOFF, beta: float = BETA) -> Tensor:
    """Resample ``x: (..., N)`` from ``orig_rate`` to ``new_rate`` Hz along the last axis → (..., ⌈N·new/orig⌉).

    Float input keeps its dtype (float32 is computed in float32 after the taps are made in float64);
    integer input is rejected, since it has no scale. Equal rates return ``x`` unchanged.
    """
    orig_rate = check_sample_rate(orig_rate, "original sample rate")
    new_rate = check_sample_rate(new_rate, "new sample rate")
    if not x.is_floating_point():
        raise AudioError(f"resample needs float samples in [-1, 1], got {x.dtype}; "
                         "convert with x.float() / 32768 for 16-bit PCM")
    if not 0.0 < rolloff <= 1.0 or zero_crossings < 1 or beta < 0:
        raise AudioError(f"resample: need 0 < rolloff ≤ 1, zero_crossings ≥ 1, beta ≥ 0; "
                         f"got {rolloff}, {zero_crossings}, {beta}")
    if orig_rate == new_rate:
        return x
    g = math.gcd(orig_rate, new_rate)
    up, down = new_rate // g, orig_rate // g                           # L, M
    n_in = x.shape[-1]
    n_out = -(-n_in * up // down)                                      # ⌈N·L/M⌉
    cutoff = rolloff * min(1.0, up / down)
    half = math.floor(zero_crossings / cutoff)                         # J
    n_taps = 2 * half + 2
    lead = x.shape[:-1]
    flat = x.reshape(-1, n_in)                                         # (C, N)
    padded = torch.nn.functional.pad(flat, (half, half + 2))           # x[b + j] = padded[b + J + j]
    table = _phase_table(up, down, zero_crossings, rolloff, beta) if up * n_taps <= _TABLE_LIMIT else None
    if table is not None:
        table = table.to(device=x.device, dtype=x.dtype)
    offsets = torch.arange(n_taps, device=x.device)
    out = flat.new_empty(flat.shape[0], n_out)
    step = max(1, _CHUNK_ELEMENTS // (n_taps * max(1, flat.shape[0])))
    for start in range(0, n_out, step):
        n = torch.arange(start, min(start + step, n_out), device=x.device, dtype=torch.int64)
        base, phase = torch.div(n * down, up, rounding_mode="floor"), (n * down) % up   # b_n, p_n
        if table is not None:
            taps = table[phase]                                                         # (n, K)
        else:
            taps = _taps(phase.double() / up, cutoff, zero_crossings, beta).to(x.dtype)
        frames = padded[:, base[:, None] + offsets]                                     # (C, n, K)
        out[:, start:start + len(n)] = (frames * taps).sum(-1)
    return out.reshape(*lead, n_out)


def speed_factor_rates(rate: int, factor: float) -> tuple[int, int]:
    """The (orig, new) pair that plays audio at ``rate`` ``factor`` times faster: (round(rate·factor), rate).

    Treating the samples as if recorded at rate·factor and resampling back to ``rate`` shortens them by
    ``factor`` and raises every frequency by it (factor is approximated by a fraction with a small
    denominator, so that the polyphase table stays small).
    """
    if not factor > 0 or not math.isfinite(factor):
        raise AudioError(f"speed factor must be a positive number (e.g. 0.9, 1.0, 1.1), got {factor!r}")
    f = Fraction(factor).limit_denominator(1000)
    return check_sample_rate(round(rate * f), f"rate × speed factor {factor}"), rate

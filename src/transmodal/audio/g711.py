r"""ITU-T G.711 companding: 8-bit μ-law (North America, Japan) and A-law (Europe, Brazil's telephone network).

Telephone speech is 8 kHz audio whose samples are stored in one byte each. Loud and quiet sounds matter
alike to the ear, so the byte stores roughly the *logarithm* of the amplitude. The standard's continuous
curves, for x ∈ [−1, 1]::

    μ-law (μ = 255):   F(x) = sgn(x) · ln(1 + μ|x|) / ln(1 + μ)
    A-law (A = 87.6):  F(x) = sgn(x) · A|x| / (1 + ln A)              for |x| < 1/A
                       F(x) = sgn(x) · (1 + ln(A|x|)) / (1 + ln A)   for 1/A ≤ |x| ≤ 1

are approximated by 8 straight segments ("chords") per sign, each twice as wide as the one before, with
16 equal steps ("mantissa") inside each. A code byte is ``sign | segment (3 bits) | step (4 bits)``:

* μ-law works on 14-bit magnitudes; here on 16-bit ones (x · 32768). Add the bias 132 = 0x84 to |x|
  (clipped to 32635) so every segment starts at a power of two; the segment e ∈ 0..7 is the position of
  the leading bit of the biased value, b ∈ [2^(e+7), 2^(e+8)); the step is the next 4 bits,
  m = ⌊b / 2^(e+3)⌋ mod 16. The byte is inverted (all bits flipped) before it is stored, and sign bit 1
  means negative. Decoding returns the middle of the interval: ``(2m + 33) · 2^(e+2) − 132``. So the
  step is 8 · 2^e in 16-bit units and the error at most half of it. Byte 0xFF (and 0x7F) decode to 0,
  0x80 to +32124, 0x00 to −32124.
* A-law works on 13-bit magnitudes v = |x| >> 3 (negative x use ~x = −x − 1, so −32768..−1 map onto
  0..32767). Segment 0 and 1 both have steps of 2 (13-bit) = 16 (16-bit units); segment e ≥ 1 covers
  v ∈ [2^(e+4), 2^(e+5)) with step 2^e; m = ⌊v / 2^max(e,1)⌋ mod 16. Sign bit 1 means *positive*, and
  the even bits are inverted (XOR 0x55) before storing. Decoding gives 16m + 8 (e = 0) or
  (16m + 264) · 2^(e−1) (e ≥ 1). Byte 0xD5 decodes to +8, 0x55 to −8, 0xAA to +32256, 0x2A to −32256.

Floats map to 16-bit integers as round(x · 32768), clipped to [−32768, 32767]; decoded values are
returned as float32 ÷ 32768.
"""

from __future__ import annotations

import torch
from torch import Tensor

MULAW_BIAS = 132
MULAW_CLIP = 32635


def _to_int16_range(x: Tensor) -> Tensor:
    """float in [−1, 1] → int32 in [−32768, 32767] by rounding; integer tensors pass through (clipped)."""
    if x.is_floating_point():
        x = torch.round(x.double() * 32768.0)
    return x.to(torch.int64).clamp(-32768, 32767)


def _segment(value: Tensor, first: int) -> Tensor:
    """How many of the thresholds first·2^k (k = 0..6) ``value`` reaches: the segment number 0..7."""
    thresholds = first * (2 ** torch.arange(7, device=value.device))
    return (value[..., None] >= thresholds).sum(-1)


def linear_to_mulaw(pcm16: Tensor) -> Tensor:
    """16-bit linear samples (any integer tensor) → μ-law code bytes (uint8)."""
    x = _to_int16_range(pcm16)
    negative = (x < 0).to(torch.int64)
    biased = x.abs().clamp(max=MULAW_CLIP) + MULAW_BIAS        # ∈ [132, 32767]
    e = _segment(biased, 256)                                  # b ∈ [2^(e+7), 2^(e+8))
    m = (biased >> (e + 3)) & 0x0F
    code = (negative << 7) | (e << 4) | m
    return (~code & 0xFF).to(torch.uint8)


def mulaw_to_linear(codes: Tensor) -> Tensor:
    """μ-law code bytes → 16-bit linear values (int32, in [−32124, 32124])."""
    b = ~codes.to(torch.int64) & 0xFF
    e = (b >> 4) & 0x07
    m = b & 0x0F
    magnitude = ((2 * m + 33) << (e + 2)) - MULAW_BIAS
    return torch.where(b >= 0x80, -magnitude, magnitude).to(torch.int32)


def linear_to_alaw(pcm16: Tensor) -> Tensor:
    """16-bit linear samples (any integer tensor) → A-law code bytes (uint8)."""
    x = _to_int16_range(pcm16)
    positive = (x >= 0).to(torch.int64)
    v = torch.where(x >= 0, x, -x - 1) >> 3                    # 13-bit magnitude ∈ [0, 4095]
    e = _segment(v, 32)                                        # v ∈ [2^(e+4), 2^(e+5)) for e ≥ 1
    m = (v >> e.clamp(min=1)) & 0x0F
    code = (positive << 7) | (e << 4) | m
    return (code ^ 0x55).to(torch.uint8)


def alaw_to_linear(codes: Tensor) -> Tensor:
    """A-law code bytes → 16-bit linear values (int32, in [−32256, 32256])."""
    b = codes.to(torch.int64) ^ 0x55
    e = (b >> 4) & 0x07
    m = b & 0x0F
    magnitude = torch.where(e == 0, 16 * m + 8, (16 * m + 264) << (e - 1).clamp(min=0))
    return torch.where(b >= 0x80, magnitude, -magnitude).to(torch.int32)


def mulaw_encode(x: Tensor) -> Tensor:
    """Float samples in [−1, 1] → μ-law bytes (uint8). Values beyond full scale are clipped."""
    return linear_to_mulaw(_to_int16_range(x))


def mulaw_decode(codes: Tensor) -> Tensor:
    """μ-law bytes (uint8) → float32 samples in [−1, 1]."""
    return mulaw_to_linear(codes).to(torch.float32) / 32768.0


def alaw_encode(x: Tensor) -> Tensor:
    """Float samples in [−1, 1] → A-law bytes (uint8). Values beyond full scale are clipped."""
    return linear_to_alaw(_to_int16_range(x))


def alaw_decode(codes: Tensor) -> Tensor:
    """A-law bytes (uint8) → float32 samples in [−1, 1]."""
    return alaw_to_linear(codes).to(torch.float32) / 32768.0

"""The few signal-processing pieces the corpus builder needs, in numpy (no sox, no scipy).

Signals are 1-D ``float64`` arrays in [-1, 1]. Filtering and resampling work in the frequency domain on
the whole (short) utterance, zero-padded so that the FFT's circular wrap-around never mixes the end of a
clip into its start.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf

_PAD_S = 0.05  # zero padding around a clip before frequency-domain processing


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A WAV as mono float64 in [-1, 1] and its sample rate (channels are averaged)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no audio file at {path}")
    try:
        x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except RuntimeError as e:  # soundfile raises LibsndfileError, a RuntimeError
        raise ValueError(f"{path} is not readable audio ({e}); re-create it") from e
    return x.mean(axis=1), int(sr)


def write_wav(path: str | Path, x: np.ndarray, sr: int) -> Path:
    """Write 16-bit PCM atomically (a ``.part`` file renamed into place), so a crash never leaves half a WAV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    sf.write(str(tmp), np.clip(x, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")
    tmp.replace(path)
    return path


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling (FFT zero-padding / truncation): an ideal low-pass at the lower Nyquist rate."""
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} → {sr_out}")
    x = np.asarray(x, dtype=np.float64)
    if sr_in == sr_out or len(x) == 0:
        return x.copy()
    # pad so that the padding and the total length are whole multiples of sr_in / gcd: then both map to a
    # whole number of output samples and the output lies exactly on the new time grid (no fractional shift)
    step = sr_in // math.gcd(sr_in, sr_out)
    pad = step * math.ceil(_PAD_S * sr_in / step)
    tail = pad + (-(len(x) + 2 * pad)) % step
    xp = np.pad(x, (pad, tail))
    n = len(xp)
    m = n * sr_out // sr_in
    spec = np.fft.rfft(xp)
    out = np.zeros(m // 2 + 1, dtype=complex)
    k = min(len(spec), len(out))
    out[:k] = spec[:k]
    if m > n and n % 2 == 0:
        out[n // 2] *= 0.5  # the input's Nyquist bin is split between +f and -f once it is no longer the edge
    if m < n and m % 2 == 0:
        out[-1] = out[-1].real  # the new Nyquist bin must be real
    y = np.fft.irfft(out, m) * (m / n)
    start = pad * sr_out // sr_in
    return y[start:start + round(len(x) * sr_out / sr_in)]


def band_pass(x: np.ndarray, sr: int, low_hz: float, high_hz: float, taper_hz: float = 100.0) -> np.ndarray:
    """Keep ``low_hz`` … ``high_hz``; nothing outside it passes (raised-cosine tapers lie inside the band)."""
    if not 0 <= low_hz < high_hz <= sr / 2:
        raise ValueError(f"band {low_hz}–{high_hz} Hz must lie within 0–{sr / 2} Hz (half the {sr} Hz rate)")
    pad = int(_PAD_S * sr)
    xp = np.pad(np.asarray(x, dtype=np.float64), pad)
    f = np.fft.rfftfreq(len(xp), 1.0 / sr)
    taper = min(taper_hz, (high_hz - low_hz) / 2)
    gain = np.zeros_like(f)
    inside = (f >= low_hz) & (f <= high_hz)
    gain[inside] = 1.0
    if low_hz > 0:
        rise = (f >= low_hz) & (f < low_hz + taper)
        gain[rise] = 0.5 - 0.5 * np.cos(np.pi * (f[rise] - low_hz) / taper)
    fall = (f > high_hz - taper) & (f <= high_hz)
    gain[fall] = 0.5 - 0.5 * np.cos(np.pi * (high_hz - f[fall]) / taper)
    y = np.fft.irfft(np.fft.rfft(xp) * gain, len(xp))
    return y[pad:pad + len(x)]


def fft_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Full linear convolution (length ``len(x) + len(h) - 1``)."""
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[:n]


# -- G.711 mu-law (ITU-T G.711, the classic bias-0x84 formulation on 16-bit samples) -----------------------
_BIAS = 0x84
_CLIP = 32635


def float_to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)


def mulaw_encode(pcm: np.ndarray) -> np.ndarray:
    """16-bit linear PCM → 8-bit G.711 mu-law codes (``uint8``; silence is 0xFF)."""
    pcm = np.asarray(pcm)
    if pcm.dtype != np.int16:
        raise ValueError(f"mulaw_encode takes int16 samples, got {pcm.dtype}; convert floats with float_to_pcm16()")
    v = pcm.astype(np.int32)
    sign = np.where(v < 0, 0x80, 0)
    mag = np.minimum(np.abs(v), _CLIP) + _BIAS
    exponent = np.frexp(mag.astype(np.float64))[1] - 8  # position of the top bit, minus 7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def mulaw_decode(codes: np.ndarray) -> np.ndarray:
    """8-bit G.711 mu-law codes → 16-bit linear PCM (``int16``)."""
    u = ~np.asarray(codes, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(u & 0x80, -mag, mag).astype(np.int16)

"""Helpers for the audio tests, independent of the code under test: a hand-written WAV writer, tones, FFT peaks."""

import struct

import numpy as np
import torch


def wav_bytes(data: bytes, rate: int, channels: int, bits: int, float_format: bool = False,
              declared_data_size: int | None = None) -> bytes:
    """A canonical RIFF/WAVE file written by hand: 'fmt ' chunk (PCM = 1 or IEEE float = 3) then 'data'."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 3 if float_format else 1, channels, rate, rate * block, block, bits)
    size = len(data) if declared_data_size is None else declared_data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pack_ints(values: np.ndarray, bits: int) -> bytes:
    """Interleaved integer samples → little-endian bytes as WAV stores them (8-bit unsigned, 24-bit packed)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if bits == 8:
        return (v + 128).astype(np.uint8).tobytes()
    if bits == 24:
        out = bytearray()
        for s in v.tolist():
            out += (s & 0xFFFFFF).to_bytes(3, "little")
        return bytes(out)
    return v.astype({16: "<i2", 32: "<i4"}[bits]).tobytes()


def tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5, phase: float = 0.3) -> torch.Tensor:
    """(N,) float64 sine computed directly from its formula."""
    t = torch.arange(round(rate * seconds), dtype=torch.float64) / rate
    return amplitude * torch.sin(2 * np.pi * freq * t + phase)


def peak_frequency(x: torch.Tensor, rate: int) -> float:
    """Frequency (Hz) of the largest FFT magnitude of a Hann-windowed x: (N,)."""
    x = x.double().numpy()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))

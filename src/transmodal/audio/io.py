r"""Reading audio: files through libsndfile (WAV, FLAC, OGG, …) and raw PCM bytes, checked and normalised.

Everything comes out as an :class:`Audio`: ``samples: (C, N) float32`` in [−1, 1] and its ``sample_rate``.
Integer PCM of b bits is scaled by 2^−(b−1) (so 16-bit 32767 → 0.99997, −32768 → −1); 8-bit unsigned is
first shifted by −128; float PCM is taken as it is, clipped to [−1, 1] (as any fixed-point converter
would) after the NaN/Inf check. Mixing down to mono is the mean of the channels.

Every problem a user can cause is an :class:`AudioError` (a ``ValueError``) whose message names the input
and says what to do: a missing file; a file that is not audio, or is truncated; no samples at all;
NaN or Inf samples; more than ``max_seconds``; raw PCM whose byte count is not a whole number of frames;
an unknown encoding; a sample rate ≤ 0 or above 384 kHz; and, only when asked (``allow_silence=False``),
silence — a level below −80 dBFS (RMS, full-scale square wave = 0 dBFS), see :func:`check_not_silent`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from transmodal.audio.errors import AudioError, check_sample_rate
from transmodal.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from transmodal.audio.resample import resample

MAX_SECONDS = 600.0
SILENCE_DBFS = -80.0

# encoding → (bytes per sample, description)
ENCODINGS = {
    "s8": (1, "signed 8-bit"),
    "u8": (1, "unsigned 8-bit (offset 128, as in 8-bit WAV)"),
    "s16le": (2, "signed 16-bit little-endian"),
    "s24le": (3, "signed 24-bit little-endian, packed"),
    "s32le": (4, "signed 32-bit little-endian"),
    "f32le": (4, "32-bit float little-endian"),
    "f64le": (8, "64-bit float little-endian"),
    "mulaw": (1, "G.711 μ-law"),
    "alaw": (1, "G.711 A-law"),
}
_INT_SCALE = {"s8": 2.0**7, "u8": 2.0**7, "s16le": 2.0**15, "s24le": 2.0**23, "s32le": 2.0**31}
_NUMPY_DTYPE = {"s8": "i1", "u8": "u1", "s16le": "<i2", "s32le": "<i4", "f32le": "<f4", "f64le": "<f8"}


@dataclass
class Audio:
    """``samples: (C, N) float32`` in [−1, 1] at ``sample_rate`` Hz."""

    samples: Tensor
    sample_rate: int

    def __post_init__(self):
        if self.samples.ndim != 2:
            raise AudioError(f"Audio.samples must be (channels, samples), got shape {tuple(self.samples.shape)}")

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def num_samples(self) -> int:
        return self.samples.shape[1]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate


def level_dbfs(samples: Tensor) -> float:
    """RMS level in dB relative to full scale: 20·log10(√mean(x²)); −inf for all zeros."""
    rms = samples.double().pow(2).mean().sqrt().item() if samples.numel() else 0.0
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def check_not_silent(samples: Tensor, threshold_dbfs: float = SILENCE_DBFS, name: str = "audio") -> float:
    """Return the level in dBFS, or raise :class:`AudioError` if it is below ``threshold_dbfs`` (default −80).

    Silence is a legitimate answer in a questionnaire ("said nothing"), so :func:`load_audio` only calls
    this when asked (``allow_silence=False``); callers that need speech call it themselves.
    """
    level = level_dbfs(samples)
    if level < threshold_dbfs:
        what = "all zeros" if level == -math.inf else f"{level:.1f} dBFS"
        raise AudioError(f"{name}: silent ({what}, below {threshold_dbfs:g} dBFS); check the microphone or the input level")
    return level


def _finish(samples: Tensor, rate: int, name: str, *, mono: bool, target_rate: int | None,
            allow_silence: bool) -> Audio:
    """The checks and conversions shared by files and raw PCM. samples: (C, N) float32 or float64."""
    if samples.shape[1] == 0:
        raise AudioError(f"{name}: contains no samples (0 frames); record or export the audio again")
    bad = ~torch.isfinite(samples)
    if bad.any():
        raise AudioError(f"{name}: {int(bad.sum())} of {samples.numel()} samples are NaN or Inf; "
                         "the file is corrupt or was written by a broken float conversion")
    samples = samples.clamp(-1.0, 1.0).to(torch.float32)
    if mono and samples.shape[0] > 1:
        samples = samples.mean(0, keepdim=True)
    if not allow_silence:
        check_not_silent(samples, name=name)
    if target_rate is not None:
        target_rate = check_sample_rate(target_rate, "requested sample rate")
        samples = resample(samples, rate, target_rate).clamp(-1.0, 1.0)
        rate = target_rate
    return Audio(samples.contiguous(), rate)


def _check_length(name: str, frames: int, rate: int, max_seconds: float) -> None:
    seconds = frames / rate
    if seconds > max_seconds:
        raise AudioError(f"{name}: {seconds:.1f} s long ({seconds / 60:.1f} min), more than the limit of "
                         f"{max_seconds:g} s; cut it into shorter pieces or pass a larger max_seconds")


def _check_wav_not_truncated(path: Path) -> None:
    """libsndfile reads a WAV cut short in its data silently; compare the declared data size with the file."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):   # written by a streaming recorder that never came back to fill it in
                    return
                have = size - pos - 8
                if have < chunk_size:
                    raise AudioError(f"{path}: truncated WAV file: its header promises {chunk_size} bytes of samples "
                                     f"but only {have} are there; the upload or copy was cut short, send it again")
                return
            pos += 8 + chunk_size + (chunk_size & 1)


def load_audio(path: str | Path, sample_rate: int | None = None, mono: bool = True, *,
               allow_silence: bool = True, max_seconds: float = MAX_SECONDS) -> Audio:
    """Read an audio file (WAV, FLAC, OGG/Vorbis, AIFF, … — whatever libsndfile reads) as an :class:`Audio`.

    sample_rate: resample to this rate (None keeps the file's). mono: mix the channels down to one (their
    mean); False keeps (C, N). allow_silence: False raises when the level is below −80 dBFS.
    max_seconds: longer files are refused before they are read.
    """
    import soundfile

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if not path.is_file():
        raise AudioError(f"{path}: not a file (a directory?); give the path of an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes); record or export the audio again")
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate, "requested sample rate")
    try:
        info = soundfile.info(str(path))
        _check_wav_not_truncated(path)
        rate = check_sample_rate(info.samplerate, f"{path}: sample rate in the file header")
        _check_length(str(path), info.frames, rate, max_seconds)
        data, _ = soundfile.read(str(path), dtype="float32", always_2d=True)   # (N, C)
    except AudioError:
        raise
    except (soundfile.SoundFileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioError(f"{path}: not a readable audio file ({e}); expected WAV, FLAC or OGG — "
                         "for headerless PCM bytes use read_pcm(data, sample_rate, encoding)") from e
    samples = torch.from_numpy(np.ascontiguousarray(data.T))
    return _finish(samples, rate, str(path), mono=mono, target_rate=sample_rate, allow_silence=allow_silence)


def _decode_pcm(raw: bytes, encoding: str) -> Tensor:
    """Interleaved bytes → flat float64 tensor in [−1, 1] (floats unclipped)."""
    if encoding == "mulaw":
        return mulaw_decode(torch.frombuffer(bytearray(raw), dtype=torch.uint8)).double()
    if encoding == "alaw":
        return alaw_decode(torch.frombuffer(bytearray(raw), dtype=torch.uint8)).double()
    if encoding == "s24le":
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        values = ((v ^ 0x800000) - 0x800000).astype(np.float64)          # sign-extend 24 → 32 bits
    else:
        values = np.frombuffer(raw, dtype=_NUMPY_DTYPE[encoding]).astype(np.float64)
    if encoding == "u8":
        values = values - 128.0
    if encoding in _INT_SCALE:
        values = values / _INT_SCALE[encoding]
    return torch.from_numpy(values)


def read_pcm(data: bytes | bytearray | memoryview | str | Path, sample_rate: int, encoding: str, channels: int = 1, *,
             mono: bool = True, target_rate: int | None = None, allow_silence: bool = True,
             max_seconds: float = MAX_SECONDS) -> Audio:
    """Decode headerless PCM (bytes, or the path of a ``.raw``/``.pcm`` file) described by the caller.

    sample_rate: the rate the bytes were recorded at. encoding: one of ``ENCODINGS`` (s8, u8, s16le, s24le,
    s32le, f32le, f64le, mulaw, alaw). channels: how many are interleaved (frame = one sample per channel).
    mono / target_rate / allow_silence / max_seconds: as in :func:`load_audio` (target_rate resamples).
    """
    if isinstance(data, (str, Path)):
        name = str(data)
        path = Path(data)
        if not path.is_file():
            raise AudioError(f"{path}: no such file")
        raw = path.read_bytes()
    elif isinstance(data, (bytes, bytearray, memoryview)):
        name, raw = "PCM data", bytes(data)
    else:
        raise AudioError(f"read_pcm takes bytes or a file path, got {type(data).__name__}")
    if encoding not in ENCODINGS:
        raise AudioError(f"{name}: unknown PCM encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    rate = check_sample_rate(sample_rate, f"{name}: sample rate")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise AudioError(f"{name}: channels must be a whole number ≥ 1, got {channels!r}")
    if not raw:
        raise AudioError(f"{name}: empty (0 bytes); nothing was recorded")
    width = ENCODINGS[encoding][0]
    frame = width * channels
    if len(raw) % frame:
        raise AudioError(f"{name}: wrongly described: {len(raw)} bytes is not a whole number of frames of "
                         f"{channels} channel(s) × {width} byte(s) ({encoding}, {ENCODINGS[encoding][1]}); "
                         "check the encoding and the channel count")
    _check_length(name, len(raw) // frame, rate, max_seconds)
    samples = _decode_pcm(raw, encoding).reshape(-1, channels).T                # (C, N)
    return _finish(samples, rate, name, mono=mono, target_rate=target_rate, allow_silence=allow_silence)


def encode_pcm(samples: Tensor, encoding: str) -> bytes:
    """The inverse of :func:`read_pcm`: ``samples: (C, N)`` or ``(N,)`` in [−1, 1] → interleaved bytes.

    Integer encodings round to the nearest level, round(x · 2^(b−1)), and clip to the b-bit range.
    """
    if encoding not in ENCODINGS:
        raise AudioError(f"unknown PCM encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    x = samples.reshape(1, -1) if samples.ndim == 1 else samples
    flat = x.detach().T.reshape(-1).cpu().double()                            # interleave frames
    if encoding == "mulaw":
        return mulaw_encode(flat).numpy().tobytes()
    if encoding == "alaw":
        return alaw_encode(flat).numpy().tobytes()
    if encoding in ("f32le", "f64le"):
        return flat.numpy().astype(_NUMPY_DTYPE[encoding]).tobytes()
    scale = _INT_SCALE[encoding]
    ints = np.clip(np.round(flat.numpy() * scale), -scale, scale - 1).astype(np.int64)
    if encoding == "u8":
        return (ints + 128).astype("u1").tobytes()
    if encoding == "s24le":
        u = ints & 0xFFFFFF
        return np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=1).astype("u1").tobytes()
    return ints.astype(_NUMPY_DTYPE[encoding]).tobytes()


def save_audio(path: str | Path, audio: Audio, subtype: str | None = None) -> Path:
    """Write ``audio`` with libsndfile; the format follows the suffix (.wav, .flac, .ogg). subtype e.g. "PCM_16"."""
    import soundfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        soundfile.write(str(path), audio.samples.detach().cpu().T.numpy(), audio.sample_rate, subtype=subtype)
    except (soundfile.SoundFileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioError(f"{path}: cannot write audio ({e}); use a .wav, .flac or .ogg name") from e
    return path

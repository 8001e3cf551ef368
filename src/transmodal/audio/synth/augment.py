"""Augmentations that make clean TTS sound like the field: noise, a room, a telephone line, a level change.

All numpy (no sox), deterministic given a ``numpy.random.Generator``:

- :func:`add_noise` — white, pink (1/f power) or babble (a sum of other utterances) at a chosen SNR. The
  SNR is global: ``10·log10(Σx² / Σn²)`` over the whole clip, exact before 16-bit rounding.
- :func:`reverb` — convolution with a synthetic room impulse response (:func:`synthetic_rir`): a direct
  path followed by Gaussian noise whose envelope falls 60 dB in ``rt60`` seconds. The decay tail is kept,
  so the clip grows by ``rt60``.
- :func:`telephone` — band-pass 300–3400 Hz, resample to 8 kHz, G.711 mu-law encode/decode (8 bits per
  sample), the receiver's band-pass again, back to the original rate.
- :func:`apply_gain` — a level change in dB.

Speed and pitch are varied by the TTS engines themselves (see :mod:`.engines`), not here.
:class:`AugmentSpec` holds the probabilities and ranges the corpus builder draws from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transmodal.audio.synth.dsp import band_pass, fft_convolve, float_to_pcm16, mulaw_decode, mulaw_encode, resample

NOISE_KINDS = ("white", "pink", "babble")
TELEPHONE_RATE = 8000
TELEPHONE_BAND = (300.0, 3400.0)
_LN_1000 = np.log(1000.0)  # 60 dB of amplitude


def power(x: np.ndarray) -> float:
    """Mean square of ``x``."""
    return float(np.mean(np.square(x))) if len(x) else 0.0


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    """``10·log10(P_clean / P_noise)``."""
    return 10.0 * np.log10(power(clean) / power(noise))


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls 3 dB per octave (amplitude ∝ 1/√f), shaped in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec /= np.sqrt(f)
    spec[0] = 0.0
    return np.fft.irfft(spec, n)


def babble_noise(n: int, sources: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Crowd noise: each source (another utterance) looped to ``n`` samples from a random offset, then summed.

    Each source is normalised to unit power first, so no single talker dominates.
    """
    usable = [np.asarray(s, dtype=np.float64) for s in sources if len(s) and power(s) > 0]
    if not usable:
        raise ValueError("babble noise needs at least one non-silent source utterance")
    out = np.zeros(n)
    for s in usable:
        looped = np.tile(s, n // len(s) + 2)
        start = int(rng.integers(len(s)))
        out += looped[start:start + n] / np.sqrt(power(s))
    return out


def make_noise(kind: str, n: int, rng: np.random.Generator, sources: list[np.ndarray] | None = None) -> np.ndarray:
    """``n`` samples of ``kind`` noise (one of :data:`NOISE_KINDS`)."""
    if kind == "white":
        return white_noise(n, rng)
    if kind == "pink":
        return pink_noise(n, rng)
    if kind == "babble":
        if not sources:
            raise ValueError("babble noise is made from other utterances: pass sources=[...] (non-empty)")
        return babble_noise(n, sources, rng)
    raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")


def add_noise(x: np.ndarray, snr: float, kind: str = "white", rng: np.random.Generator | None = None,
              sources: list[np.ndarray] | None = None) -> np.ndarray:
    """``x`` plus ``kind`` noise scaled so that the global SNR is exactly ``snr`` dB."""
    x = np.asarray(x, dtype=np.float64)
    if power(x) == 0:
        raise ValueError("cannot set an SNR for a silent signal (its power is 0)")
    rng = rng if rng is not None else np.random.default_rng()
    noise = make_noise(kind, len(x), rng, sources)
    noise *= np.sqrt(power(x) / (power(noise) * 10.0 ** (snr / 10.0)))
    return x + noise


def synthetic_rir(rt60: float, sr: int, rng: np.random.Generator, drr_db: float = 0.0) -> np.ndarray:
    """A room impulse response: a unit direct path, then a noise tail decaying 60 dB over ``rt60`` seconds.

    ``drr_db`` is the direct-to-reverberant energy ratio. The response is scaled to unit energy, so
    reverberation changes the character of a signal, not its overall level.
    """
    if not 0.05 <= rt60 <= 5.0:
        raise ValueError(f"rt60={rt60} s is outside 0.05 … 5 s (typical rooms: 0.2 … 1.0 s)")
    n = max(2, int(rt60 * sr))
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-_LN_1000 * t / rt60)
    tail[0] = 0.0
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / np.sum(tail**2))
    h = tail
    h[0] = 1.0
    return h / np.sqrt(np.sum(h**2))


def reverb(x: np.ndarray, sr: int, rt60: float, rng: np.random.Generator | None = None, drr_db: float = 0.0) -> np.ndarray:
    """``x`` heard in a room with reverberation time ``rt60``; the result is ``rt60`` seconds longer."""
    rng = rng if rng is not None else np.random.default_rng()
    return fft_convolve(np.asarray(x, dtype=np.float64), synthetic_rir(rt60, sr, rng, drr_db))


def telephone(x: np.ndarray, sr: int) -> np.ndarray:
    """``x`` sent through a narrow-band telephone channel; returned at ``sr``, same length.

    :func:`telephone_encode` (band-pass 300–3400 Hz → 8 kHz → G.711 mu-law, 8 bits) then
    :func:`telephone_decode` (mu-law → band-pass → back to ``sr``). Nothing above 3.4 kHz survives: the
    decoder's quantisation noise is filtered out again, as a receiver does.
    """
    return telephone_decode(telephone_encode(x, sr), sr)[: len(x)]


def telephone_encode(x: np.ndarray, sr: int) -> np.ndarray:
    """The sending side: ``x`` at ``sr`` → G.711 mu-law codes at 8 kHz (``uint8``, one byte per sample)."""
    if sr < 2 * TELEPHONE_BAND[1]:
        raise ValueError(f"telephone needs a sample rate of at least {2 * TELEPHONE_BAND[1]:.0f} Hz, got {sr}")
    narrow = resample(band_pass(x, sr, *TELEPHONE_BAND), sr, TELEPHONE_RATE)
    peak = float(np.max(np.abs(narrow))) if len(narrow) else 0.0
    if peak > 1.0:  # a line clips at full scale; keep the level legal instead
        narrow = narrow / peak
    return mulaw_encode(float_to_pcm16(narrow))


def telephone_decode(codes: np.ndarray, sr: int) -> np.ndarray:
    """The receiving side: mu-law codes at 8 kHz → band-pass 300–3400 Hz → float samples at ``sr``."""
    decoded = mulaw_decode(codes) / 32767.0
    return resample(band_pass(decoded, TELEPHONE_RATE, *TELEPHONE_BAND), TELEPHONE_RATE, sr)


def apply_gain(x: np.ndarray, db: float) -> np.ndarray:
    """``x`` made ``db`` decibels louder (negative = quieter)."""
    return np.asarray(x, dtype=np.float64) * 10.0 ** (db / 20.0)


def fit_peak(x: np.ndarray, limit: float = 0.99) -> np.ndarray:
    """Scale ``x`` down (never up) so that its peak is at most ``limit``: no clipping when it is written."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return x * (limit / peak) if peak > limit else x


@dataclass
class AugmentSpec:
    """How often each augmentation happens and over what range its setting is drawn (uniformly).

    Probabilities are independent; an utterance may get several (applied in the order reverb → noise →
    telephone → gain: a room, noise in the room, the line, the level). ``speed``/``pitch`` are ranges
    of the factors passed to the TTS engine; ``(1.0, 1.0)`` turns that variation off.
    """

    p_noise: float = 0.5
    snr_db: tuple[float, float] = (5.0, 30.0)
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    babble_talkers: tuple[int, int] = (3, 6)
    p_reverb: float = 0.3
    rt60: tuple[float, float] = (0.2, 0.8)
    p_telephone: float = 0.15
    p_gain: float = 0.5
    gain_db: tuple[float, float] = (-15.0, 3.0)
    speed: tuple[float, float] = (0.8, 1.25)
    pitch: tuple[float, float] = (0.85, 1.2)

    def __post_init__(self) -> None:
        for name in ("snr_db", "babble_talkers", "rt60", "gain_db", "speed", "pitch"):
            setattr(self, name, tuple(getattr(self, name)))
        self.noise_kinds = tuple(self.noise_kinds)
        problems = []
        for name in ("p_noise", "p_reverb", "p_telephone", "p_gain"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name}={getattr(self, name)} must be a probability in [0, 1]")
        for name in ("snr_db", "babble_talkers", "rt60", "gain_db", "speed", "pitch"):
            lo_hi = getattr(self, name)
            if len(lo_hi) != 2 or lo_hi[0] > lo_hi[1]:
                problems.append(f"{name}={lo_hi} must be a (low, high) pair with low <= high")
        unknown = [k for k in self.noise_kinds if k not in NOISE_KINDS]
        if unknown or not self.noise_kinds:
            problems.append(f"noise_kinds={self.noise_kinds} must be a non-empty subset of {NOISE_KINDS}")
        if self.babble_talkers[0] < 1:
            problems.append(f"babble_talkers={self.babble_talkers} must start at >= 1")
        if self.rt60[0] < 0.05:
            problems.append(f"rt60={self.rt60} must stay >= 0.05 s")
        if self.speed[0] < 0.25 or self.speed[1] > 4 or self.pitch[0] < 0.25 or self.pitch[1] > 4:
            problems.append("speed and pitch factors must lie within 0.25 … 4.0 (1.0 = the voice's own)")
        if problems:
            raise ValueError("invalid AugmentSpec: " + "; ".join(problems))

    @classmethod
    def none(cls) -> AugmentSpec:
        """Clean speech at the voices' own speed and pitch."""
        return cls(p_noise=0.0, p_reverb=0.0, p_telephone=0.0, p_gain=0.0, speed=(1.0, 1.0), pitch=(1.0, 1.0))

    def draw(self, rng: np.random.Generator) -> list[dict]:
        """A random list of signal steps (``{"kind": "reverb", "rt60": …, "seed": …}``, …) in application order."""
        steps = []
        if rng.random() < self.p_reverb:
            steps.append({"kind": "reverb", "rt60": round(float(rng.uniform(*self.rt60)), 3), "seed": int(rng.integers(2**31))})
        if rng.random() < self.p_noise:
            kind = str(self.noise_kinds[int(rng.integers(len(self.noise_kinds)))])
            step = {"kind": "noise", "noise": kind, "snr_db": round(float(rng.uniform(*self.snr_db)), 2), "seed": int(rng.integers(2**31))}
            if kind == "babble":
                step["talkers"] = int(rng.integers(self.babble_talkers[0], self.babble_talkers[1] + 1))
            steps.append(step)
        if rng.random() < self.p_telephone:
            steps.append({"kind": "telephone"})
        if rng.random() < self.p_gain:
            steps.append({"kind": "gain", "db": round(float(rng.uniform(*self.gain_db)), 2)})
        return steps


def apply_steps(x: np.ndarray, sr: int, steps: list[dict], babble_sources: list[np.ndarray] | None = None) -> np.ndarray:
    """Apply the steps drawn by :meth:`AugmentSpec.draw`; the result never exceeds full scale."""
    for step in steps:
        kind = step["kind"]
        if kind == "reverb":
            x = reverb(x, sr, step["rt60"], np.random.default_rng(step["seed"]))
        elif kind == "noise":
            x = add_noise(x, step["snr_db"], step["noise"], np.random.default_rng(step["seed"]), babble_sources)
        elif kind == "telephone":
            x = telephone(x, sr)
        elif kind == "gain":
            x = apply_gain(x, step["db"])
        else:
            raise ValueError(f"unknown augmentation step {kind!r}")
    return fit_peak(x)


def describe(step: dict) -> str:
    """A short label for the manifest: ``"noise:pink@12.5dB"``, ``"reverb:rt60=0.41s"``, ``"telephone"``, ``"gain:-6.0dB"``."""
    kind = step["kind"]
    if kind == "noise":
        extra = f"x{step['talkers']}" if step["noise"] == "babble" else ""
        return f"noise:{step['noise']}{extra}@{step['snr_db']}dB"
    if kind == "reverb":
        return f"reverb:rt60={step['rt60']}s"
    if kind == "gain":
        return f"gain:{step['db']}dB"
    return kind

"""The one error the audio front end raises for bad input."""

from __future__ import annotations

import math
import numbers


class AudioError(ValueError):
    """Audio that cannot be used as given: missing, corrupt, empty, silent, non-finite, too long, or wrongly described.

    A ``ValueError``, so the ``transmodal`` command prints its message instead of a traceback. Every message
    names the input and says how to fix it.
    """


MAX_SAMPLE_RATE = 384_000  # the highest rate of common audio hardware; anything above is a mistake


def check_sample_rate(rate, what: str = "sample rate") -> int:
    """``rate`` as a positive ``int`` no greater than 384 kHz, or an :class:`AudioError` saying what is wrong."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not math.isfinite(rate) or int(rate) != rate:
        raise AudioError(f"{what} must be a whole number of Hz (e.g. 16000), got {rate!r}")
    rate = int(rate)
    if rate <= 0:
        raise AudioError(f"{what} must be positive, got {rate} Hz")
    if rate > MAX_SAMPLE_RATE:
        raise AudioError(f"{what} {rate} Hz is absurd (more than {MAX_SAMPLE_RATE} Hz); check the value, e.g. 16000")
    return rate

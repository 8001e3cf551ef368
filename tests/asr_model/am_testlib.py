"""Tiny randomly initialised speech checkpoints and audio files for the asr_model tests."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile
import torch

from transmodal.asr.model import SpeechRecognizer, SpeechRecognizerConfig
from transmodal.asr.vocab import CharVocab
from transmodal.models.conformer import config
from transmodal.train import save_model


def tiny_model(seed: int = 0, sample_rate: int = 16000) -> SpeechRecognizer:
    torch.manual_seed(seed)
    enc = config("tiny", d_model=32, n_layers=1, n_heads=2, kernel_size=7)
    cfg = SpeechRecognizerConfig(encoder="conformer", encoder_config=asdict(enc), vocab_size=CharVocab().vocab_size,
                                 sample_rate=sample_rate)
    return SpeechRecognizer(cfg).eval()


def save_checkpoint(path: Path, seed: int = 0) -> Path:
    return save_model(path, tiny_model(seed), extra_files={CharVocab.FILENAME: CharVocab().to_json()})


def write_wav(path: Path, seconds: float, rate: int = 8000, freq: float = 440.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.shape)
    soundfile.write(str(path), x.astype(np.float32), rate)
    return path

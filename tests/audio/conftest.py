"""Audio tests: one thread (the CPUs are shared), and a fixture writing hand-made WAV files into tmp_path."""

from pathlib import Path

import pytest
import torch
from audio_testutil import wav_bytes


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def write_wav(tmp_path):
    def write(name: str, data: bytes, rate: int = 16000, channels: int = 1, bits: int = 16, **kw) -> Path:
        path = tmp_path / name
        path.write_bytes(wav_bytes(data, rate, channels, bits, **kw))
        return path

    return write

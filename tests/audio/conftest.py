"""Audio tests: a fixture writing hand-made WAV files into tmp_path."""

from pathlib import Path

import pytest
from audio_testutil import wav_bytes


@pytest.fixture
def write_wav(tmp_path):
    def write(name: str, data: bytes, rate: int = 16000, channels: int = 1, bits: int = 16, **kw) -> Path:
        path = tmp_path / name
        path.write_bytes(wav_bytes(data, rate, channels, bits, **kw))
        return path

    return write

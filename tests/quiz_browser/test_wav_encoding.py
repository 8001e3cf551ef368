"""The respondent page's in-browser conversion (static/js/wav.js) run in headless chromium: any
decodable recording becomes a 16 kHz, mono, 16-bit PCM WAV that Python's ``wave`` module reads, with
the duration and the pitch of the input kept."""

from __future__ import annotations

import base64
import io
import wave

import numpy as np
import pytest

CONVERT = """async (b64) => {
  const { recordingToWav } = await import('/static/js/wav.js');
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const wav = await recordingToWav(new Blob([bytes], { type: 'audio/wav' }));
  const out = new Uint8Array(await wav.arrayBuffer());
  let s = ''; for (const x of out) s += String.fromCharCode(x);
  return btoa(s);
}"""


def stereo_tone(rate: int, seconds: float, freq: float) -> bytes:
    """A stereo 16-bit WAV: a sine at `freq` on the left channel, the same at half level on the right."""
    t = np.arange(int(rate * seconds)) / rate
    left = 0.5 * np.sin(2 * np.pi * freq * t)
    pcm = (np.stack([left, 0.5 * left], axis=1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def convert(page, data: bytes) -> bytes:
    return base64.b64decode(page.evaluate(CONVERT, base64.b64encode(data).decode()))


@pytest.mark.parametrize("rate,freq", [(48000, 440.0), (44100, 1000.0), (8000, 300.0)])
def test_recording_becomes_16k_mono_pcm16(static_page, rate, freq):
    out = convert(static_page, stereo_tone(rate, 0.75, freq))
    with wave.open(io.BytesIO(out)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getcomptype()) == (1, 2, 16000, "NONE")
        n = w.getnframes()
        samples = np.frombuffer(w.readframes(n), dtype="<i2").astype(np.float64) / 32768
    assert abs(n - 0.75 * 16000) <= 2
    # Down-mix = mean of the channels: 0.5 and 0.25 amplitude → 0.375.
    assert abs(np.abs(samples[1000:-1000]).max() - 0.375) < 0.02
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(n)))
    assert abs(np.argmax(spectrum) * 16000 / n - freq) < 3


def test_header_sizes_match_data(static_page):
    out = convert(static_page, stereo_tone(22050, 0.2, 500.0))
    assert out[:4] == b"RIFF" and out[8:16] == b"WAVEfmt "
    assert int.from_bytes(out[4:8], "little") == len(out) - 8
    assert int.from_bytes(out[40:44], "little") == len(out) - 44


def test_undecodable_recording_is_a_readable_error(static_page):
    message = static_page.evaluate("""async () => {
      const { recordingToWav } = await import('/static/js/wav.js');
      try { await recordingToWav(new Blob([new Uint8Array([1, 2, 3, 4, 5])])); return 'no error'; }
      catch (err) { return err.message; }
    }""")
    assert "Não consegui ler a gravação" in message

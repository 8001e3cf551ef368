"""The real server app in this process (uvicorn in a thread) with a stand-in recogniser that "hears" pure
tones instead of words, so the respondent page's voice path — microphone, MediaRecorder, 16 kHz WAV,
upload, confirm, re-ask — runs in chromium without the `pt-quiz` speech model.

:class:`ToneRecognizer` finds the dominant frequency of the upload and looks it up in :data:`TONES`
(frequency → what was "said" and how sure the recogniser is); the words then go through the real
normaliser (:func:`transmodal.quiz.normalize.interpret`) and the real confidence policy on the server.
Near-silence is reported as silent (the server's "no answer").
"""

from __future__ import annotations

import os
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from serve_process import free_port, wait_until

RATE = 16000
# Hz → (transcript, confidence). 0.7 is below the demo's accept threshold (read-back), 0.95 above.
TONES = {
    400: ("sim", 0.95),
    550: ("não", 0.95),
    700: ("trinta e dois", 0.7),
    850: ("até 15 minutos", 0.95),
    1000: ("ruim", 0.95),
    1150: ("raramente", 0.95),
    1300: ("o atendimento foi bom", 0.95),
}
SILENT_RMS = 0.01


def tone_for(transcript: str) -> int:
    return next(hz for hz, (text, _) in TONES.items() if text == transcript)


def write_tone(path: Path, hz: int, seconds: float = 0.8) -> Path:
    """0.3 s silence, a sine at `hz` (amplitude 0.4), 2 s silence: 16 kHz mono 16-bit WAV."""
    t = np.arange(int(seconds * RATE)) / RATE
    body = 0.4 * np.sin(2 * np.pi * hz * t)
    x = np.concatenate([np.zeros(int(0.3 * RATE)), body, np.zeros(2 * RATE)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((x * 32767).astype("<i2").tobytes())
    return path


@dataclass
class ToneRecognition:
    transcript: str
    interpretation: object
    confidence: float
    model_version: str = "tone-stand-in"
    silent: bool = False


class ToneRecognizer:
    """``recognise(question, wave, sample_rate)`` like :class:`transmodal.quiz.speech.AnswerRecognizer`."""

    def __init__(self):
        self.heard: list[tuple[str, float]] = []   # (question name, dominant Hz) of every upload

    def recognise(self, question, wave_, sample_rate: int):
        from transmodal.quiz.normalize import interpret

        x = np.asarray(wave_, dtype=np.float64).reshape(-1)
        rms = float(np.sqrt(np.mean(x ** 2))) if x.size else 0.0
        if rms < SILENT_RMS:
            self.heard.append((question.name, 0.0))
            return ToneRecognition("", interpret(question, ""), 0.0, silent=True)
        hz = float(np.argmax(np.abs(np.fft.rfft(x * np.hanning(x.size))))) * sample_rate / x.size
        self.heard.append((question.name, hz))
        nearest = min(TONES, key=lambda f: abs(f - hz))
        text, confidence = TONES[nearest] if abs(nearest - hz) < 40 else ("", 0.0)
        return ToneRecognition(text, interpret(question, text), confidence)


def silent_tts(text: str, cache_dir, voice: str) -> Path:
    """Prompt audio stand-in: 0.2 s of silence (the page's playback path without espeak-ng's time)."""
    out = Path(cache_dir) / "silence.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(b"\0\0" * (RATE // 5))
    return out


@dataclass
class RunningApp:
    url: str
    admin_password: str
    demo_token: str
    recognizer: ToneRecognizer


def start_app(data_dir: Path):
    """create_app + first start (admin, demo form, link) served by uvicorn on a free port in a thread.
    Returns (RunningApp, stop function)."""
    import uvicorn

    from transmodal.server.app import create_app
    from transmodal.server.bootstrap import first_start
    from transmodal.server.settings import Settings

    recognizer = ToneRecognizer()
    settings = Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=8192)
    app = create_app(settings, recognizer=recognizer, tts=silent_tts)
    first = first_start(app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "uvicorn")

    def stop():
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()

    password = first.admin_password or os.environ["TRANSMODAL_ADMIN_PASSWORD"]  # set → not generated
    return RunningApp(f"http://127.0.0.1:{port}", password, first.demo_token, recognizer), stop

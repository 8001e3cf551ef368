"""Drive the respondent page in chromium like a person with a (fake) microphone.

Chromium's fake microphone (``--use-file-for-fake-audio-capture=FILE``) re-reads FILE every time the page
opens the microphone, so one browser answers every question: :class:`FakeMicrophone` swaps the file's
contents (atomically) before each tap on the microphone button. The page stops recording by itself after
the speech and 1.2 s of quiet, converts the recording to a 16 kHz WAV and uploads it.

Screen states are recognised by the element ids respond.js gives them: ``#begin``, ``#consent-yes`` /
``#consent-no``, ``#mic`` (ready when enabled and not recording), ``#confirm-yes`` / ``#confirm-no``,
``#continue`` (notes), ``#done``, ``#ended`` (consent refused), ``#withdrawn`` (answers deleted); the
current question's name is ``#question-label[data-question]``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def chromium_args(fake_audio: Path | None = None) -> list[str]:
    """Launch flags: allow the microphone without a prompt and feed it from a WAV file. This chromium
    loops the file even with ``%noloop``, so spoken answers end with 2 s of silence (the page stops
    recording after 1.2 s of quiet, before the loop starts again)."""
    args = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required"]
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}%noloop")
    return args


READY = "#done, #ended, #withdrawn, #confirm-yes, #continue, #consent-yes, #mic:not([disabled]):not(.recording)"
UPLOAD_TIMEOUT_MS = 30_000


class FakeMicrophone:
    """The WAV file chromium was launched with; `set(wav)` makes it the next thing the microphone hears."""

    def __init__(self, path: Path, silence: Path):
        self.path = Path(path)
        self.silence = silence
        self.set(silence)

    def set(self, wav: Path) -> None:
        tmp = self.path.with_suffix(".tmp")
        shutil.copyfile(wav, tmp)
        os.replace(tmp, self.path)


def render_count(page) -> int:
    return int(page.locator("#screen").get_attribute("data-render") or 0)


def screen_kind(page) -> str:
    """Wait for a screen that expects an action or ends; return its kind (done, ended, confirm, note, consent,
    question)."""
    page.wait_for_selector(READY, timeout=UPLOAD_TIMEOUT_MS)
    for kind, selector in (("done", "#done"), ("ended", "#ended"), ("withdrawn", "#withdrawn"),
                           ("confirm", "#confirm-yes"), ("note", "#continue"),
                           ("consent", "#consent-yes"), ("question", "#mic")):
        if page.locator(selector).count():
            return kind
    raise AssertionError("no known screen")


def then_next_screen(page, action) -> str:
    """Run `action()` (a click…), wait until the page has drawn a new screen, return its kind."""
    before = render_count(page)
    action()
    page.wait_for_function("n => Number(document.getElementById('screen').dataset.render || 0) > n",
                           arg=before, timeout=UPLOAD_TIMEOUT_MS)
    return screen_kind(page)


def current_question(page) -> str:
    return page.locator("#question-label").get_attribute("data-question")


def speak(page, mic: FakeMicrophone, wav: Path, url_part: str) -> tuple[dict, str]:
    """Make the microphone say `wav`, tap the mic button, wait for the upload (a POST whose URL contains
    `url_part`) and the next screen; returns (the server's JSON answer, the next screen's kind)."""
    mic.set(wav)
    before = render_count(page)
    with page.expect_response(lambda r: url_part in r.url and r.request.method == "POST",
                              timeout=UPLOAD_TIMEOUT_MS) as response:
        page.click("#mic")
    mic.set(mic.silence)
    res = response.value
    assert res.ok, f"upload answered {res.status}: {res.text()}"
    page.wait_for_function("n => Number(document.getElementById('screen').dataset.render || 0) > n",
                           arg=before, timeout=UPLOAD_TIMEOUT_MS)
    return res.json(), screen_kind(page)


def write_silence(path: Path, seconds: float = 3.0, rate: int = 16000) -> Path:
    """A 16-bit mono WAV of digital silence (what the microphone hears between answers)."""
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return path

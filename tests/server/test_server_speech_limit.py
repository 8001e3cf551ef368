"""At most ``max_recognitions`` spoken answers are recognised at once; one more waits, then gets 503."""

import threading
import time

import pytest
from fastapi import HTTPException

from transmodal.server.settings import Settings
from transmodal.server.voice import SpeechService


class BlockingRecognizer:
    """Counts calls in progress and blocks each until ``release`` is set."""

    def __init__(self):
        self.release = threading.Event()
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def recognise(self, question, wave, sample_rate):
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.release.wait(10)
        with self._lock:
            self.running -= 1
        return "ok"


def test_extra_request_waits_then_is_told_to_retry_and_slots_are_freed():
    rec = BlockingRecognizer()
    service = SpeechService(rec, max_concurrent=2, wait_s=0.2)
    results = []
    threads = [threading.Thread(target=lambda: results.append(service.recognise(None, None, 8000))) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.time() + 5
    while rec.running < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert rec.running == 2
    t0 = time.time()
    with pytest.raises(HTTPException) as err:
        service.recognise(None, None, 8000)
    assert err.value.status_code == 503 and "busy" in err.value.detail and err.value.headers["Retry-After"]
    assert time.time() - t0 >= 0.15  # it waited for a slot first
    rec.release.set()
    for t in threads:
        t.join(5)
    assert results == ["ok", "ok"] and rec.peak == 2
    assert service.recognise(None, None, 8000) == "ok"  # the slots came back


def test_waiting_request_gets_the_slot_that_frees_up():
    rec = BlockingRecognizer()
    service = SpeechService(rec, max_concurrent=1, wait_s=5)
    first = threading.Thread(target=lambda: service.recognise(None, None, 8000))
    first.start()
    while rec.running < 1:
        time.sleep(0.01)
    threading.Timer(0.2, rec.release.set).start()
    assert service.recognise(None, None, 8000) == "ok"
    first.join(5)
    assert rec.peak == 1


def test_settings_refuse_no_slots():
    with pytest.raises(ValueError, match="max_recognitions"):
        Settings(data_dir="/tmp/x", max_recognitions=0)

"""Bad uploads get a clear 4xx {"detail": ...}, the answer is not stored, and the server keeps serving."""

import pytest

from server_harness import Harness, wav_bytes


@pytest.fixture
def small(tmp_path):
    hs = Harness(tmp_path, max_upload_mb=0.05, max_audio_seconds=2.0)
    yield hs
    hs.client.close()


def _post(h, sid, hd, content: bytes, name="a.wav"):
    return h.client.post(f"/api/sessions/{sid}/answers/consultou", headers=hd, files={"audio": (name, content, "audio/wav")})


CASES = [
    ("too large", lambda: wav_bytes(2.0), 413, "larger than the limit"),
    ("not audio", lambda: b"<html>hello</html>" * 10, 415, "not audio"),
    ("webm", lambda: b"\x1a\x45\xdf\xa3" + b"\0" * 200, 415, "WebM"),
    ("empty", lambda: b"", 422, "empty"),
    ("truncated wav", lambda: wav_bytes(0.5)[:300], 422, "could not be decoded"),
    ("header only", lambda: wav_bytes(0.5)[:44] + b"\x01", 422, "could not be decoded"),
    ("too long", lambda: wav_bytes(3.0, rate=2000), 422, "could not be decoded"),   # 3 s > 2 s, only 12 kB
]


@pytest.mark.parametrize("name,make,status,words", CASES, ids=[c[0] for c in CASES])
def test_bad_upload(small, name, make, status, words):
    sid, hd = small.start()
    small.choose(sid, hd, "intro")
    r = _post(small, sid, hd, make())
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert small.asr.calls == [] and small.table_counts()["answers"] == 0
    # still serving: the same question can be answered properly
    small.asr.script.append(("sim", 0.99))
    ok = _post(small, sid, hd, wav_bytes(0.3))
    assert ok.status_code == 200 and ok.json()["stored"] is True


def test_missing_file_field_and_huge_request(small):
    sid, hd = small.start()
    small.choose(sid, hd, "intro")
    r = small.client.post(f"/api/sessions/{sid}/answers/consultou", headers=hd, data={"x": "1"})
    assert r.status_code == 400 and "audio" in r.json()["detail"]
    r = small.client.post(f"/api/sessions/{sid}/answers/consultou", headers=hd,
                          files={"audio": ("big.wav", b"\0" * 200_000, "audio/wav")})
    assert r.status_code == 413
    assert small.client.get("/healthz").json() == {"ok": True}

"""prompt_audio: espeak-ng pt-br WAVs, cached by text + voice + engine version, written atomically."""

import shutil
import threading

import pytest
import soundfile

from transmodal.quiz.tts import prompt_audio, prompt_key

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def test_synthesises_once_and_caches(tmp_path):
    a = prompt_audio("Qual é a sua idade?", tmp_path)
    info = soundfile.info(str(a))
    assert a.parent == tmp_path and a.suffix == ".wav" and info.frames / info.samplerate > 0.3
    first = a.stat().st_mtime_ns
    again = prompt_audio("Qual é a sua  idade?", tmp_path)  # same words: same file, not synthesised again
    assert again == a and again.stat().st_mtime_ns == first
    other = prompt_audio("Você recomendaria esta unidade?", tmp_path)
    assert other != a
    assert prompt_audio("Qual é a sua idade?", tmp_path, voice="pt") != a
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp.wav")]


def test_key_depends_on_text_voice_and_speed():
    k = prompt_key("Olá", "pt-br")
    assert k != prompt_key("Olá!", "pt-br") and k != prompt_key("Olá", "pt") and k != prompt_key("Olá", "pt-br", 1.2)
    assert k == prompt_key("  Olá ", "pt-br")


def test_concurrent_requests_leave_one_complete_file(tmp_path):
    results, errors = [], []

    def work():
        try:
            results.append(prompt_audio("Muito obrigado!", tmp_path))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert soundfile.info(str(results[0])).frames > 0
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        prompt_audio("   ", tmp_path)
    with pytest.raises(ValueError, match="characters"):
        prompt_audio("a" * 5000, tmp_path)
    with pytest.raises(ValueError, match="no voice"):
        prompt_audio("Olá", tmp_path, voice="xx-nonexistent")

"""TTS back-ends: detection, clear errors, voices, and that speed/pitch reach the engine."""

import numpy as np
import pytest

from transmodal.audio.synth.dsp import read_wav
from transmodal.audio.synth.engines import (EngineNotFoundError, EspeakNG, Festival, Flite, Voice, check_training_voice,
                                            get_engine, is_evaluation_only)

espeak = EspeakNG()
needs_espeak = pytest.mark.skipif(not espeak.available(), reason="Debian package espeak-ng is not installed")


@pytest.mark.parametrize("cls,package", [(EspeakNG, "espeak-ng"), (Flite, "flite"), (Festival, "festival")])
def test_missing_engine_names_the_debian_package(cls, package, tmp_path):
    engine = cls(binary="/nonexistent/bin/" + cls.program)
    assert not engine.available()
    with pytest.raises(EngineNotFoundError, match=rf"apt-get install {package}\b"):
        engine.synthesize("hello", "x", tmp_path / "a.wav")
    with pytest.raises(EngineNotFoundError, match="not installed"):
        engine.voices()
    assert not (tmp_path / "a.wav").exists()


def test_voice_parsing():
    assert Voice.parse("flite:slt") == Voice("flite", "slt")
    assert Voice.parse("pt-br+f3") == Voice("espeak-ng", "pt-br+f3")
    assert str(Voice.parse(" festival:kal_diphone ")) == "festival:kal_diphone"
    with pytest.raises(ValueError, match="unknown engine"):
        Voice.parse("say:alex")
    with pytest.raises(ValueError, match="engine:voice"):
        Voice.parse("")
    with pytest.raises(ValueError, match="unknown TTS engine"):
        get_engine("say")


@pytest.mark.parametrize("voice", ["espeak-ng:mb-br4", "mb-br4", "MB-BR4", "espeak-ng:mb-br4+f2", "br4"])
def test_br4_is_never_a_training_voice(voice):
    assert is_evaluation_only(voice)
    with pytest.raises(ValueError, match="reserved for evaluation"):
        check_training_voice(voice)


@pytest.mark.parametrize("voice", ["espeak-ng:mb-br1", "espeak-ng:mb-br3", "espeak-ng:pt-br+f4", "flite:slt"])
def test_other_voices_may_train(voice):
    assert not is_evaluation_only(voice)
    check_training_voice(voice)


@needs_espeak
def test_espeak_voices_and_variants():
    assert {"en-us", "en-gb", "pt-br"} <= set(espeak.base_voices())
    assert [v for v in espeak.base_voices("pt-br") if not v.startswith("mb-")] == ["pt-br"]
    assert set(espeak.base_voices("pt-br")) - {"pt-br"} <= {"mb-br1", "mb-br2", "mb-br3", "mb-br4"}  # MBROLA, when installed
    assert {"m1", "m7", "f1", "f5", "croak", "whisper"} <= set(espeak.variants())
    assert "pt-br+f3" in espeak.voices("pt-br") and "en-us+croak" in espeak.voices("en")
    assert not any(v.startswith("pt") for v in espeak.voices("en"))


@needs_espeak
def test_unknown_voice_is_an_error_not_a_silent_fallback(tmp_path):
    # espeak-ng itself quietly uses the default variant for "pt-br+nosuch"; we refuse it
    with pytest.raises(ValueError, match="no voice 'pt-br\\+nosuch'"):
        espeak.synthesize("sim", "pt-br+nosuch", tmp_path / "a.wav")
    with pytest.raises(EngineNotFoundError, match="mbrola-br1"):
        EspeakNG(mbrola_dirs=(str(tmp_path),)).synthesize("sim", "mb-br1", tmp_path / "a.wav")
    with pytest.raises(ValueError, match="speed"):
        espeak.synthesize("sim", "pt-br", tmp_path / "a.wav", speed=10)
    with pytest.raises(ValueError, match="nothing to say"):
        espeak.synthesize("  ", "pt-br", tmp_path / "a.wav")


def f0_median(x, sr):
    frame, f0s = int(0.04 * sr), []
    for i in range(0, len(x) - frame, frame // 2):
        s = x[i:i + frame] - x[i:i + frame].mean()
        if np.sqrt(np.mean(s**2)) < 0.02:
            continue
        ac = np.correlate(s, s, "full")[frame - 1:]
        lo, hi = int(sr / 400), int(sr / 60)
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.3 * ac[0]:
            f0s.append(sr / k)
    return float(np.median(f0s))


@needs_espeak
def test_espeak_speed_and_pitch_reach_the_engine(tmp_path):
    text = "vinte e três, cinquenta e sete"
    slow, sr = read_wav(espeak.synthesize(text, "pt-br", tmp_path / "slow.wav", speed=0.7))
    fast, _ = read_wav(espeak.synthesize(text, "pt-br", tmp_path / "fast.wav", speed=1.4))
    assert len(slow) > 1.5 * len(fast)
    low, _ = read_wav(espeak.synthesize(text, "pt-br", tmp_path / "low.wav", pitch=0.6))
    high, _ = read_wav(espeak.synthesize(text, "pt-br", tmp_path / "high.wav", pitch=1.6))
    assert f0_median(high, sr) > 1.2 * f0_median(low, sr)


@pytest.mark.skipif(not Flite().available(), reason="Debian package flite is not installed")
def test_flite(tmp_path):
    flite = Flite()
    assert {"slt", "kal16"} <= set(flite.voices("en")) and "awb_time" not in flite.voices()
    assert not flite.supports_pitch("rms")
    text = "three five nine seven eight"
    a, sr = read_wav(flite.synthesize(text, "slt", tmp_path / "a.wav"))
    b, _ = read_wav(flite.synthesize(text, "slt", tmp_path / "b.wav", speed=0.7, pitch=1.3))
    assert len(b) > 1.3 * len(a) and f0_median(b, sr) > 1.15 * f0_median(a, sr)
    with pytest.raises(ValueError, match="no voice 'nosuch'"):  # flite would quietly use kal
        flite.synthesize("one", "nosuch", tmp_path / "c.wav")
    with pytest.raises(ValueError, match="no pitch control"):
        flite.synthesize("one", "rms", tmp_path / "c.wav", pitch=1.2)


@pytest.mark.skipif(not Festival().available() or "kal_diphone" not in Festival().voices(),
                    reason="Debian packages festival and festvox-kallpc16k are not installed")
def test_festival(tmp_path):
    festival = Festival()
    a, sr = read_wav(festival.synthesize("three five nine", "kal_diphone", tmp_path / "a.wav"))
    b, _ = read_wav(festival.synthesize("three five nine", "kal_diphone", tmp_path / "b.wav", speed=0.7, pitch=1.4))
    assert len(b) > 1.2 * len(a) and f0_median(b, sr) > 1.2 * f0_median(a, sr)
    with pytest.raises(ValueError, match="no voice"):
        festival.synthesize("one", "nosuch_voice", tmp_path / "c.wav")
    assert Festival(voice_dirs=(str(tmp_path),)).voices() == []
    with pytest.raises(EngineNotFoundError, match="festvox"):
        Festival(voice_dirs=(str(tmp_path),)).synthesize("one", "kal_diphone", tmp_path / "c.wav")

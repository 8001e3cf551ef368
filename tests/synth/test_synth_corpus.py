"""build_corpus: manifests, caching/resume, holdout voices, br4 kept out of training."""

import json
import threading

import numpy as np
import pytest
import soundfile as sf

from transmodal.audio.synth import corpus as corpus_mod
from transmodal.audio.synth import engines as engines_mod
from transmodal.audio.synth.augment import AugmentSpec
from transmodal.audio.synth.corpus import build_corpus, read_manifest
from transmodal.audio.synth.engines import EngineNotFoundError, EspeakNG, TTSEngine
from transmodal.audio.synth.plan import CorpusSpec, plan_corpus, voice_weights

pytestmark = pytest.mark.skipif(not EspeakNG().available(), reason="Debian package espeak-ng is not installed")

TEXTS = ["sim", "não sei", "vinte e três"]
HOLD = "espeak-ng:pt-br+f4"
# every augmentation on some utterance: noise of each kind (babble included), reverb, telephone, gain
AUG = AugmentSpec(p_noise=0.8, p_reverb=0.5, p_telephone=0.5, p_gain=0.5)


def spec(out, **kw):
    base = dict(out_dir=str(out), texts=TEXTS, language="pt-br", voices=["pt-br", "pt-br+m3", "pt-br+f2", HOLD],
                holdout_voices=[HOLD], variants=2, augment=AUG, workers=1, progress=False, seed=7)
    return CorpusSpec(**{**base, **kw})


@pytest.fixture
def count_tts(monkeypatch):
    calls = []
    original = TTSEngine.synthesize

    def counting(self, text, voice, out_wav, speed=1.0, pitch=1.0):
        calls.append((text, voice))
        return original(self, text, voice, out_wav, speed, pitch)

    monkeypatch.setattr(TTSEngine, "synthesize", counting)
    return calls


def last_log(out):
    return json.loads((out / "build_log.jsonl").read_text().splitlines()[-1])


def test_manifests_and_audio(tmp_path):
    train = build_corpus(spec(tmp_path))
    assert train == tmp_path / "train.jsonl"
    lines, hold = read_manifest(train), read_manifest(tmp_path / "holdout.jsonl")
    assert len(lines) == len(TEXTS) * 2 and len(hold) == len(TEXTS) * 1
    for line in lines + hold:
        assert set(line) >= {"audio", "text", "duration", "voice", "engine", "augment", "split"}
        assert not line["audio"].startswith("/")
        info = sf.info(str(tmp_path / line["audio"]))
        assert info.samplerate == 16000 and info.subtype == "PCM_16"
        assert line["duration"] == pytest.approx(info.frames / 16000, abs=1e-3)
        assert line["engine"] == "espeak-ng" and line["text"] in TEXTS
    assert {line["split"] for line in lines} == {"train"} and {line["split"] for line in hold} == {"holdout"}
    labels = [a for line in lines + hold for a in line["augment"]]
    assert any(a.startswith("speed:") for a in labels) and any(a.startswith("noise:") for a in labels)


def test_holdout_voices_never_train(tmp_path):
    build_corpus(spec(tmp_path))
    train = read_manifest(tmp_path / "train.jsonl")
    hold = read_manifest(tmp_path / "holdout.jsonl")
    assert HOLD not in {line["voice"] for line in train}  # listed in voices too, but the holdout wins
    assert {line["voice"] for line in hold} == {HOLD}
    # not even as a babble talker behind a training utterance
    for job in plan_corpus(spec(tmp_path, augment=AugmentSpec(p_noise=1.0, noise_kinds=("babble",)))):
        assert job.babble and all(voice != HOLD for _, voice in job.babble)


def test_second_build_synthesises_nothing_and_a_deleted_wav_alone_is_rebuilt(tmp_path, count_tts):
    s = spec(tmp_path)
    build_corpus(s)
    assert count_tts and last_log(tmp_path)["synthesised"] == 9
    wavs = sorted((tmp_path / "wavs").rglob("*.wav"))
    stamps = {p: p.stat().st_mtime_ns for p in wavs}
    manifests = {n: (tmp_path / n).read_text() for n in ("train.jsonl", "holdout.jsonl")}

    count_tts.clear()
    build_corpus(s)
    assert count_tts == [] and last_log(tmp_path)["synthesised"] == 0 and last_log(tmp_path)["reused"] == 9
    assert {p: p.stat().st_mtime_ns for p in wavs} == stamps
    assert {n: (tmp_path / n).read_text() for n in manifests} == manifests

    victim = wavs[3]
    victim.unlink()
    build_corpus(s)
    assert last_log(tmp_path)["synthesised"] == 1 and victim.is_file()
    assert {p: p.stat().st_mtime_ns for p in wavs if p != victim} == {p: t for p, t in stamps.items() if p != victim}
    assert {n: (tmp_path / n).read_text() for n in manifests} == manifests  # the same line is back


def test_a_second_build_into_the_same_folder_waits_for_the_first(tmp_path, count_tts, capsys):
    """Two runs sharing one corpus folder used to race for the same files; now the second waits for the lock."""
    s = spec(tmp_path)
    build_corpus(s)
    count_tts.clear()
    done = threading.Event()
    with corpus_mod._folder_lock(tmp_path.resolve()):  # stands for another process's build in progress
        worker = threading.Thread(target=lambda: (build_corpus(s), done.set()))
        worker.start()
        assert not done.wait(0.5)  # blocked, and synthesised nothing meanwhile
        assert count_tts == []
    worker.join(60)
    assert done.is_set()
    assert count_tts == [] and last_log(tmp_path)["reused"] == 9  # it found the first build's utterances
    assert "waiting for a build already running there (pid " in capsys.readouterr().err


def test_interrupted_build_resumes(tmp_path, monkeypatch, count_tts):
    s = spec(tmp_path)
    real, done = corpus_mod._render, []

    def dies_after_four(job, out_dir):
        if len(done) == 4:
            raise KeyboardInterrupt
        done.append(job.key)
        return real(job, out_dir)

    monkeypatch.setattr(corpus_mod, "_render", dies_after_four)
    with pytest.raises(KeyboardInterrupt):
        build_corpus(s)
    partial = read_manifest(tmp_path / "train.jsonl") + read_manifest(tmp_path / "holdout.jsonl")
    assert sorted(line["key"] for line in partial) == sorted(done)
    # a torn last line (killed mid-write) and a WAV whose line was never written are both handled
    with open(tmp_path / "train.jsonl", "a") as f:
        f.write('{"audio": "wavs/tr')
    monkeypatch.setattr(corpus_mod, "_render", real)
    count_tts.clear()
    build_corpus(s)
    assert last_log(tmp_path)["synthesised"] == 9 - 4
    assert len(read_manifest(tmp_path / "train.jsonl")) == 6

    lines = (tmp_path / "train.jsonl").read_text().splitlines()
    (tmp_path / "train.jsonl").write_text("\n".join(lines[:-1]) + "\n")  # WAV on disk, line lost
    count_tts.clear()
    build_corpus(s)
    assert count_tts == [] and last_log(tmp_path)["recovered"] == 1
    assert (tmp_path / "train.jsonl").read_text().splitlines() == lines


def test_plan_is_deterministic_and_seeded(tmp_path):
    a = [j.key for j in plan_corpus(spec(tmp_path))]
    assert a == [j.key for j in plan_corpus(spec(tmp_path))] and len(set(a)) == len(a)
    assert a != [j.key for j in plan_corpus(spec(tmp_path, seed=8))]
    # adding a text leaves the other texts' utterances alone (their WAVs stay valid), except babble noise,
    # whose talkers are drawn from the text list
    own = {j.key for j in plan_corpus(spec(tmp_path)) if not j.babble}
    more = {j.key for j in plan_corpus(spec(tmp_path, texts=TEXTS + ["nunca"]))}
    assert len(own) >= 6 and own < more


def test_parallel_build_matches_serial(tmp_path):
    one = build_corpus(spec(tmp_path / "one", texts=TEXTS[:2]))
    two = build_corpus(spec(tmp_path / "two", texts=TEXTS[:2], workers=2))
    assert one.read_text() == two.read_text()
    for line in read_manifest(one):
        a, _ = sf.read(str(tmp_path / "one" / line["audio"]))
        b, _ = sf.read(str(tmp_path / "two" / line["audio"]))
        assert np.array_equal(a, b)


class FakeMbrolaEspeak(EspeakNG):
    """espeak-ng that claims MBROLA br1 and br4 are installed and speaks them with pt-br (no mbrola here)."""

    def _list_voices(self):
        return super()._list_voices() + [("mb-br1", "pt-br"), ("mb-br4", "pt-br")]

    def _command(self, program, text, voice, out, speed, pitch):
        return super()._command(program, text, "pt-br" if voice.startswith("mb-") else voice, out, speed, pitch)


def test_br4_can_never_be_used_for_training(tmp_path, monkeypatch):
    monkeypatch.setitem(engines_mod.ENGINES, "espeak-ng", FakeMbrolaEspeak)
    for bad in (["espeak-ng:mb-br4"], ["pt-br", "mb-br4"], ["espeak-ng:MB-BR4"]):
        with pytest.raises(ValueError, match="reserved for evaluation"):
            plan_corpus(spec(tmp_path, voices=bad, holdout_voices=[]))
    # defaults: br1 trains, br4 is a holdout voice
    s = spec(tmp_path, texts=TEXTS[:1], voices=None, holdout_voices=None, variants=40, augment=AugmentSpec.none())
    jobs = plan_corpus(s)
    assert "espeak-ng:mb-br1" in {j.voice for j in jobs if j.split == "train"}
    assert "espeak-ng:mb-br4" in {j.voice for j in jobs if j.split == "holdout"}
    assert all("br4" not in j.voice for j in jobs if j.split == "train")
    # br4 given as both a voice and a holdout voice: it only reaches the holdout manifest
    build_corpus(spec(tmp_path, texts=TEXTS[:1], voices=["pt-br", "mb-br4"], holdout_voices=["mb-br4"]))
    assert all("br4" not in line["voice"] for line in read_manifest(tmp_path / "train.jsonl"))
    assert any("br4" in line["voice"] for line in read_manifest(tmp_path / "holdout.jsonl"))
    # and the writer itself refuses a br4 training line, whatever planned it
    with pytest.raises(ValueError, match="reserved for evaluation"):
        corpus_mod._append(open(tmp_path / "x.jsonl", "w"), {"split": "train", "voice": "espeak-ng:mb-br4"})


def test_missing_engine_is_a_clear_error(tmp_path):
    with pytest.raises(EngineNotFoundError, match="apt-get install espeak-ng"):
        build_corpus(spec(tmp_path, engine_binaries={"espeak-ng": str(tmp_path / "no-such-espeak-ng")}))
    assert not (tmp_path / "wavs").exists()


def test_bad_specs(tmp_path):
    with pytest.raises(ValueError, match="workers=0"):
        spec(tmp_path, workers=0)
    with pytest.raises(ValueError, match="generator name"):
        spec(tmp_path, texts="klingon")
    with pytest.raises(ValueError, match="non-empty"):
        spec(tmp_path, texts=["sim", " "])
    with pytest.raises(ValueError, match="does not speak 'pt-br'"):
        plan_corpus(spec(tmp_path, voices=["en-us"]))
    with pytest.raises(ValueError, match="no voice 'pt-br\\+nosuch'"):
        plan_corpus(spec(tmp_path, voices=["pt-br+nosuch"]))
    with pytest.raises(ValueError, match="no training voices"):
        plan_corpus(spec(tmp_path, voices=[HOLD]))


def test_voice_weights_share_evenly_by_engine_then_voice_then_variant():
    voices = ["flite:slt", "espeak-ng:en-us", "espeak-ng:en-us+m1", "espeak-ng:en-us+f2", "espeak-ng:en-gb"]
    w = dict(zip(voices, voice_weights(voices)))
    assert w["flite:slt"] == pytest.approx(0.5)  # one engine of two
    assert w["espeak-ng:en-gb"] == pytest.approx(0.25)  # one base voice of two in espeak-ng
    assert w["espeak-ng:en-us+m1"] == pytest.approx(0.25 / 3)  # one variant of three of en-us


def test_default_in_voices_stands_for_the_installed_defaults(tmp_path):
    from transmodal.audio.synth.plan import resolve_voices

    defaults = resolve_voices(spec(tmp_path, voices=None, holdout_voices=[HOLD]))[0]
    more = resolve_voices(spec(tmp_path, voices=["default", "pt-br+m3"], holdout_voices=[HOLD]))[0]
    assert more == defaults  # pt-br+m3 is one of the defaults already: listed once
    assert resolve_voices(spec(tmp_path, voices=["pt-br+m3", "default"], holdout_voices=[HOLD]))[0][0] == "espeak-ng:pt-br+m3"
    with pytest.raises(ValueError, match="'default' needs a language with default voices"):
        resolve_voices(spec(tmp_path, language="xx", voices=["default"], holdout_voices=[]))

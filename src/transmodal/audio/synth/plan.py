"""The plan of a synthetic corpus: its spec, its voices, and every utterance decided before any is spoken.

Every utterance's voice, speed, pitch and augmentation are drawn from a random generator seeded by
``(seed, text)``, so the plan is the same on every run, and adding texts leaves the other texts'
utterances unchanged (except babble noise, whose talkers are drawn from the text list). Voices are drawn
evenly by engine, then base voice, then variant (:func:`voice_weights`). A :class:`Job`'s ``key`` hashes
everything that decides its audio; the builder (:mod:`.corpus`) names the WAV after it.

Holdout voices are removed from the training voices; MBROLA ``br4`` is refused as a training voice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from transmodal.audio.synth.augment import AugmentSpec, describe
from transmodal.audio.synth.engines import (ENGINES, EspeakNG, TTSEngine, Voice, check_training_voice, get_engine,
                                            is_evaluation_only, voice_base)
from transmodal.audio.synth.texts import TEXT_GENERATORS, generate_texts, generator_language

FORMAT_VERSION = 1  # part of every key: bump it when rendering changes, and old WAVs stop matching
SPLITS = ("train", "holdout")

# espeak-ng variants used by default: plain, the numbered male/female ones and a few distinct characters.
DEFAULT_ESPEAK_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "croak",
                           "whisper", "klatt", "klatt2", "klatt3", "Alex", "Andrea", "Annie", "antonio", "belinda",
                           "Denis", "Diogo", "Henrique", "marcelo", "michel", "pedro", "steph", "victor")
DEFAULT_VOICES = {
    "en": {"espeak-ng": ("en-us", "en-gb", "en-029", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                         "en-gb-x-gbcwmd", "en-us-nyc"),
           "flite": ("kal16", "awb", "rms", "slt"),
           "festival": ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")},
    "pt-br": {"espeak-ng": ("pt-br", "mb-br1", "mb-br2", "mb-br3", "mb-br4")},
}
DEFAULT_TOKEN = "default"  # in CorpusSpec.voices: the language's installed default voices
# Voices kept for evaluation by default: a distinct speaker per engine where the engine has one.
DEFAULT_HOLDOUT = {
    "en": ("festival:ked_diphone", "flite:awb", "espeak-ng:en-gb-scotland+f4"),
    "pt-br": ("espeak-ng:mb-br4", "espeak-ng:pt-br+f4", "espeak-ng:pt-br+m6"),
}


@dataclass
class CorpusSpec:
    """What to synthesise, with which voices, how often, and where.

    ``texts``: a list of strings or a generator name (``"en-digits"``, ``"pt-quiz"``). ``voices`` /
    ``holdout_voices``: ``"engine:voice"`` strings (a bare name means espeak-ng); ``None`` picks the
    installed defaults for the texts' language (:data:`DEFAULT_VOICES`, :data:`DEFAULT_HOLDOUT`), and the
    entry ``"default"`` in ``voices`` stands for those defaults (``["default", "espeak-ng:mb-us1"]`` adds a
    voice to them); a holdout voice is removed from the training voices. Each text gets ``variants`` training utterances
    (voices drawn without replacement) and ``holdout_variants`` utterances per holdout voice.
    """

    out_dir: str
    texts: list[str] | str = "en-digits"
    voices: list[str] | None = None
    holdout_voices: list[str] | None = None
    variants: int = 3
    holdout_variants: int = 1
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    augment_holdout: bool = True  # False: holdout utterances are clean, at the voices' own speed and pitch
    sample_rate: int = 16000
    seed: int = 0
    workers: int = 2  # processes synthesising in parallel; 1 = in this process
    language: str | None = None  # the texts' language when texts is a list and voices is None ("en", "pt-br")
    engine_binaries: dict[str, str] = field(default_factory=dict)  # engine name → program path, to override PATH
    progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = AugmentSpec(**self.augment)
        problems = []
        if not str(self.out_dir).strip():
            problems.append("out_dir is empty; give the folder to write the corpus to")
        if isinstance(self.texts, str):
            if self.texts not in TEXT_GENERATORS:
                problems.append(f"texts={self.texts!r} is not a generator name ({', '.join(TEXT_GENERATORS)}); pass a list of strings for your own texts")
        elif not self.texts or not all(isinstance(t, str) and t.strip() for t in self.texts):
            problems.append("texts must be a generator name or a non-empty list of non-empty strings")
        if self.variants < 0 or self.holdout_variants < 0:
            problems.append(f"variants={self.variants} and holdout_variants={self.holdout_variants} must be >= 0")
        if not 4000 <= self.sample_rate <= 96000:
            problems.append(f"sample_rate={self.sample_rate} must lie in 4000 … 96000 Hz (16000 is usual for ASR)")
        if self.workers < 1:
            problems.append(f"workers={self.workers} must be >= 1 (1 = no extra processes)")
        unknown = sorted(set(self.engine_binaries) - set(ENGINES))
        if unknown:
            problems.append(f"engine_binaries names unknown engines {unknown}; engines are {', '.join(ENGINES)}")
        if problems:
            raise ValueError("invalid CorpusSpec: " + "; ".join(problems))

    def resolved_texts(self) -> list[str]:
        texts = generate_texts(self.texts) if isinstance(self.texts, str) else [t.strip() for t in self.texts]
        return list(dict.fromkeys(texts))  # duplicates would be the same utterances twice

    def resolved_language(self) -> str | None:
        return generator_language(self.texts) if isinstance(self.texts, str) else self.language


@dataclass
class Job:
    """One utterance to render: everything that determines its audio, hence its key."""

    split: str
    text: str
    voice: str  # "engine:voice"
    speed: float
    pitch: float
    steps: list[dict]
    babble: list[tuple[str, str]]  # (text, voice) of the babble talkers, when a step is babble noise
    sample_rate: int

    @property
    def key(self) -> str:
        payload = {"v": FORMAT_VERSION, "text": self.text, "voice": self.voice, "speed": self.speed, "pitch": self.pitch,
                   "steps": self.steps, "babble": self.babble, "sr": self.sample_rate}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:20]

    @property
    def audio(self) -> str:
        key = self.key
        return f"wavs/{self.split}/{key[:2]}/{key}.wav"

    def labels(self) -> list[str]:
        out = [f"speed:{self.speed}"] if self.speed != 1.0 else []
        out += [f"pitch:{self.pitch}"] if self.pitch != 1.0 else []
        return out + [describe(s) for s in self.steps]

    def manifest_line(self, duration: float) -> dict:
        return {"audio": self.audio, "text": self.text, "duration": round(duration, 3), "voice": self.voice,
                "engine": Voice.parse(self.voice).engine, "augment": self.labels(), "split": self.split, "key": self.key}


def resolve_voices(spec: CorpusSpec, engines: dict[str, TTSEngine] | None = None) -> tuple[list[str], list[str]]:
    """(training voices, holdout voices) as ``"engine:voice"`` strings, checked against what is installed."""
    engines = engines if engines is not None else make_engines(spec)
    language = spec.resolved_language()
    if (spec.voices is None or spec.holdout_voices is None) and language not in DEFAULT_VOICES:
        raise ValueError(f"no default voices for language {language!r}: pass voices=[...] and holdout_voices=[...] "
                         f"(or language= one of {', '.join(DEFAULT_VOICES)})")
    if spec.holdout_voices is None:
        holdout = [v for v in DEFAULT_HOLDOUT[language] if _installed(Voice.parse(v), engines)]
    else:
        holdout = [str(Voice.parse(v)) for v in spec.holdout_voices]
    if spec.voices is None:
        train = _default_voices(language, engines)
    else:
        if DEFAULT_TOKEN in spec.voices and language not in DEFAULT_VOICES:
            raise ValueError(f"voices={spec.voices}: 'default' needs a language with default voices ({', '.join(DEFAULT_VOICES)})")
        train = [w for v in spec.voices for w in (_default_voices(language, engines) if v == DEFAULT_TOKEN else [str(Voice.parse(v))])]
    train = [v for v in dict.fromkeys(train) if v not in set(holdout)]
    for v in train:
        check_training_voice(v)  # MBROLA br4 is evaluation-only, explicitly
    for v in [*train, *dict.fromkeys(holdout)]:
        _check_voice(Voice.parse(v), engines, language)
    if spec.variants and not train:
        raise ValueError("no training voices are left (all are holdout voices or none are installed); add voices=[...]")
    return train, list(dict.fromkeys(holdout))


def plan_corpus(spec: CorpusSpec, engines: dict[str, TTSEngine] | None = None) -> list[Job]:
    """Every utterance of the corpus, training first, in a deterministic order."""
    engines = engines if engines is not None else make_engines(spec)
    train_voices, holdout_voices = resolve_voices(spec, engines)
    texts = spec.resolved_texts()
    weights = voice_weights(train_voices)
    jobs: list[Job] = []
    for text in texts:
        rng = np.random.default_rng([spec.seed, int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)])
        if spec.variants:
            picks = rng.choice(len(train_voices), spec.variants, replace=spec.variants > len(train_voices), p=weights)
            for i in picks:
                jobs.append(_draw(rng, "train", text, train_voices[int(i)], spec, spec.augment, texts, train_voices, engines))
        holdout_aug = spec.augment if spec.augment_holdout else AugmentSpec.none()
        for voice in holdout_voices:
            for _ in range(spec.holdout_variants):
                jobs.append(_draw(rng, "holdout", text, voice, spec, holdout_aug, texts, train_voices, engines))
    jobs.sort(key=lambda j: j.split != "train")  # stable: training first, then holdout, each in text order
    return jobs


def voice_weights(voices: list[str]) -> np.ndarray:
    """Sampling weights that share utterances equally among engines, then among an engine's base voices, then
    among a base voice's variants: 31 espeak-ng variants of ``en-us`` do not drown out flite's ``slt``."""
    parsed = [Voice.parse(v) for v in voices]
    engines = {v.engine for v in parsed}
    bases = {e: {voice_base(v) for v in parsed if v.engine == e} for e in engines}
    variants = {(v.engine, voice_base(v)): sum(w.engine == v.engine and voice_base(w) == voice_base(v) for w in parsed)
                for v in parsed}
    w = np.array([1.0 / (len(engines) * len(bases[v.engine]) * variants[(v.engine, voice_base(v))]) for v in parsed])
    return w / w.sum()


def _draw(rng, split, text, voice, spec, aug: AugmentSpec, texts, babble_voices, engines) -> Job:
    v = Voice.parse(voice)
    speed = round(float(rng.uniform(*aug.speed)), 3)
    pitch = round(float(rng.uniform(*aug.pitch)), 3)
    if not engines[v.engine].supports_pitch(v.name):
        pitch = 1.0
    steps = aug.draw(rng)
    babble: list[tuple[str, str]] = []
    for step in steps:
        if step["kind"] == "noise" and step["noise"] == "babble":
            # a generator of its own: which talkers depends on the text list, the rest of the plan must not
            pick = np.random.default_rng(step["seed"])
            others = [t for t in texts if t != text] or texts
            voices = babble_voices or [voice]  # babble is spoken by training voices only
            for _ in range(step["talkers"]):
                babble.append((others[int(pick.integers(len(others)))], voices[int(pick.integers(len(voices)))]))
    return Job(split, text, str(v), speed, pitch, steps, babble, spec.sample_rate)


def make_engines(spec: CorpusSpec) -> dict[str, TTSEngine]:
    """One engine object per engine name, with the spec's program overrides."""
    return {name: get_engine(name, spec.engine_binaries.get(name)) for name in ENGINES}


def _installed(voice: Voice, engines: dict[str, TTSEngine]) -> bool:
    engine = engines[voice.engine]
    return engine.available() and voice.name in engine.voices()


def _default_voices(language: str, engines: dict[str, TTSEngine]) -> list[str]:
    out = []
    for name, bases in DEFAULT_VOICES[language].items():
        engine = engines[name]
        if not engine.available():
            continue
        installed = set(engine.voices())
        for base in bases:
            if base not in installed or is_evaluation_only(base):
                continue
            if isinstance(engine, EspeakNG) and not base.startswith("mb-"):
                out += [f"{name}:{base}+{var}" if var else f"{name}:{base}" for var in DEFAULT_ESPEAK_VARIANTS
                        if not var or f"{base}+{var}" in installed]
            else:
                out.append(f"{name}:{base}")
    if not out:
        packages = " ".join(sorted({engines[n].debian_package for n in DEFAULT_VOICES[language]}))
        raise ValueError(f"no TTS voice for {language!r} is installed; install one: sudo apt-get install {packages}")
    return out


def _check_voice(voice: Voice, engines: dict[str, TTSEngine], language: str | None) -> None:
    engine = engines[voice.engine]
    engine.require()  # EngineNotFoundError naming the Debian package
    engine.check_voice(voice.name)
    if language and voice.name in engine.voices() and voice.name not in engine.voices(language):
        raise ValueError(f"voice {voice} does not speak {language!r}, the language of the texts; "
                         f"pick one of {engine.name}'s {language} voices (e.g. {engine.voices(language)[:5]})")

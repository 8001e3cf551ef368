"""Offline text-to-speech back-ends from Debian's main archive, one small class each.

=============  ==================  ==========================================================================
engine         Debian package      voices
=============  ==================  ==========================================================================
``espeak-ng``  ``espeak-ng``       every language (``en``, ``en-us``, ``pt-br`` …) × variants (``+m1`` …
                                   ``+m7``, ``+f1`` … ``+f5``, ``+croak``, ``+whisper`` …), written
                                   ``pt-br+f3``; MBROLA voices ``mb-br1`` … when ``mbrola`` and the voice
                                   package (``mbrola-br1`` …, contrib/non-free) are installed
``flite``      ``flite``           English: ``kal``, ``kal16``, ``awb``, ``rms``, ``slt``
``festival``   ``festival`` +      English: ``kal_diphone`` (``festvox-kallpc16k``), ``ked_diphone``
               ``festvox-*``       (``festvox-kdlpc16k``), ``cmu_us_slt_arctic_hts`` (``festvox-us-slt-hts``)
=============  ==================  ==========================================================================

Every engine has ``available()``, ``voices(language=None)``, ``supports_pitch(voice)`` and
``synthesize(text, voice, out_wav, speed=1.0, pitch=1.0)``. ``speed`` and ``pitch`` are factors relative to
the voice's own default (1.0 = unchanged, 1.2 = 20 % faster / higher), mapped onto each engine's own
controls, so speed and pitch variation costs no signal processing and sounds natural. A WAV at the
engine's native rate (espeak-ng 22 050 Hz, flite 8 or 16 kHz, festival 16 or 32 kHz) is written; the
corpus builder resamples it.

Engines that silently fall back to a default voice when given an unknown one (espeak-ng variants, flite)
are guarded here: an unknown voice is an error that lists the valid ones.

MBROLA's ``br4`` voice is reserved for evaluation and must never speak training data: see
:data:`EVALUATION_ONLY_VOICES` and :func:`check_training_voice`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Base voice names (before any "+variant") that may be used for evaluation only, never for training.
# MBROLA br4 (espeak-ng's "mb-br4") is kept back so that a Portuguese model is always evaluated on a
# voice it has never heard.
EVALUATION_ONLY_VOICES = frozenset({"mb-br4", "br4"})

TIMEOUT_S = 120  # one utterance never takes this long; a hung engine becomes an error


class EngineNotFoundError(RuntimeError):
    """A TTS engine (or one of its voices) is not installed; the message names the Debian package to install."""


@dataclass(frozen=True, order=True)
class Voice:
    """One voice of one engine, written ``"engine:voice"`` (``"espeak-ng:pt-br+f3"``, ``"flite:slt"``)."""

    engine: str
    name: str

    @classmethod
    def parse(cls, text: str | Voice) -> Voice:
        """``"flite:slt"`` → ``Voice("flite", "slt")``; a bare name (``"pt-br+f3"``) means espeak-ng."""
        if isinstance(text, Voice):
            return text
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a voice is written 'engine:voice' (e.g. 'espeak-ng:pt-br+f3', 'flite:slt'), got {text!r}")
        engine, sep, name = text.strip().partition(":")
        if not sep:
            engine, name = "espeak-ng", engine
        if engine not in ENGINES:
            raise ValueError(f"voice {text!r}: unknown engine {engine!r}; engines are {', '.join(ENGINES)}")
        if not name:
            raise ValueError(f"voice {text!r} has no voice name after the ':'")
        return cls(engine, name)

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}"


def voice_base(voice: str | Voice) -> str:
    """The voice without its variant, lower case: ``"espeak-ng:MB-BR4+f1"`` → ``"mb-br4"``."""
    name = voice.name if isinstance(voice, Voice) else str(voice).rpartition(":")[2]
    return name.split("+", 1)[0].strip().lower()


def is_evaluation_only(voice: str | Voice) -> bool:
    """True for voices reserved for evaluation (MBROLA ``br4`` in any spelling or variant)."""
    return voice_base(voice) in EVALUATION_ONLY_VOICES


def check_training_voice(voice: str | Voice) -> None:
    """Raise ``ValueError`` if ``voice`` may not speak training data."""
    if is_evaluation_only(voice):
        raise ValueError(f"voice {str(voice)!r} (MBROLA br4) is reserved for evaluation and must never be used for "
                         "training; move it to holdout_voices (the holdout manifest) or drop it")


class TTSEngine:
    """Common plumbing: find the program, run it, check that it wrote a WAV."""

    name = ""
    program = ""  # the executable looked for on PATH
    debian_package = ""

    def __init__(self, binary: str | os.PathLike | None = None):
        self.binary = str(binary) if binary is not None else self.program
        self._voices: list[str] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(binary={self.binary!r})"

    def available(self) -> bool:
        """True when the engine's program can be run."""
        return _which(self.binary) is not None

    def require(self) -> str:
        """The program's full path, or :class:`EngineNotFoundError` naming the Debian package to install."""
        path = _which(self.binary)
        if path is None:
            raise EngineNotFoundError(
                f"TTS engine {self.name!r} is not installed: program {self.binary!r} not found. "
                f"Install the Debian package: sudo apt-get install {self.debian_package}")
        return path

    def voices(self, language: str | None = None) -> list[str]:
        """Names of the installed voices, optionally only those of ``language`` (``"en"``, ``"pt-br"``)."""
        if self._voices is None:
            self._voices = self._list_voices()
        return [v for v, lang in self._voices_with_languages() if language is None or _language_matches(lang, language)]

    def supports_pitch(self, voice: str) -> bool:  # noqa: ARG002 - overridden where it depends on the voice
        """False when the voice ignores the pitch control (then ``pitch`` must stay 1.0)."""
        return True

    def check_voice(self, voice: str) -> None:
        """Raise ``ValueError`` naming valid voices when ``voice`` is not one of this engine's."""
        valid = self.voices()
        if voice not in valid:
            close = [v for v in valid if "+" not in v][:40]
            raise ValueError(f"{self.name} has no voice {voice!r}; installed voices include {', '.join(close)} "
                             f"(see {type(self).__name__}().voices())")

    def synthesize(self, text: str, voice: str, out_wav: str | os.PathLike, speed: float = 1.0, pitch: float = 1.0) -> Path:
        """Speak ``text`` with ``voice`` into ``out_wav`` (native rate, 16-bit); returns the path."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{self.name}: nothing to say: text must be a non-empty string, got {text!r}")
        if not 0.25 <= speed <= 4.0:
            raise ValueError(f"{self.name}: speed={speed} is outside 0.25 … 4.0 (1.0 = the voice's normal rate)")
        if not 0.25 <= pitch <= 4.0:
            raise ValueError(f"{self.name}: pitch={pitch} is outside 0.25 … 4.0 (1.0 = the voice's normal pitch)")
        program = self.require()
        self.check_voice(voice)
        if pitch != 1.0 and not self.supports_pitch(voice):
            raise ValueError(f"{self.name} voice {voice!r} has no pitch control; use pitch=1.0 for it")
        out = Path(out_wav)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        cmd, stdin = self._command(program, text, voice, out, speed, pitch)
        _run(cmd, stdin, what=f"{self.name} voice {voice!r} saying {text!r}")
        if not out.is_file() or out.stat().st_size <= 44:
            raise RuntimeError(f"{self.name} voice {voice!r} wrote no audio for {text!r} (command: {' '.join(cmd)})")
        return out

    # -- for subclasses --------------------------------------------------------------------------------
    def _list_voices(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def _voices_with_languages(self) -> list[tuple[str, str]]:
        return self._voices  # type: ignore[return-value]

    def _command(self, program: str, text: str, voice: str, out: Path, speed: float, pitch: float) -> tuple[list[str], str | None]:
        raise NotImplementedError


class EspeakNG(TTSEngine):
    """espeak-ng: formant synthesis, ~130 languages, ~100 variants; ``-s`` words/minute, ``-p`` pitch 0–99.

    ``speed`` maps to ``-s round(175 · speed)`` (175 wpm is espeak-ng's default) and ``pitch`` to
    ``-p round(50 · pitch)`` clipped to 0–99 (50 is the default). ``voices()`` lists base voices and every
    ``base+variant``; the MBROLA voices (``mb-br1`` …) are listed only when they can actually speak.
    """

    name = "espeak-ng"
    program = "espeak-ng"
    debian_package = "espeak-ng"
    DEFAULT_WPM = 175
    DEFAULT_PITCH = 50
    MBROLA_DIRS = ("/usr/share/mbrola",)

    def __init__(self, binary=None, mbrola_dirs: tuple[str, ...] | None = None):
        super().__init__(binary)
        self.mbrola_dirs = tuple(mbrola_dirs) if mbrola_dirs is not None else self.MBROLA_DIRS

    def base_voices(self, language: str | None = None) -> list[str]:
        """Voices without a variant (``en-us``, ``pt-br``, ``mb-br1`` …)."""
        return [v for v in self.voices(language) if "+" not in v]

    def variants(self) -> list[str]:
        """Variant names usable after ``+`` (``m1``, ``f3``, ``croak``, ``whisper`` …)."""
        self.voices()
        return list(self._variants)

    def _list_voices(self) -> list[tuple[str, str]]:
        program = self.require()
        rows = _parse_espeak_table(_run([program, "--voices"], None, what="espeak-ng --voices"))
        listed = list(dict.fromkeys((r["language"], r["language"]) for r in rows))  # -v takes the language code
        # codes served by another voice ("en" → en-gb) are accepted by -v but not listed twice
        self._aliases = {code for r in rows for code in r["others"]} - {name for name, _ in listed}
        self._variants = [r["file"].split("/", 1)[1] for r in
                          _parse_espeak_table(_run([program, "--voices=variant"], None, what="espeak-ng --voices=variant"))
                          if " " not in r["file"] and "/" in r["file"]]
        if shutil.which("mbrola"):
            for r in _parse_espeak_table(_run([program, "--voices=mb"], None, what="espeak-ng --voices=mb")):
                voice = r["file"].split("/")[-1]  # mb/mb-br1 → mb-br1
                if self._mbrola_voice_installed(voice):
                    listed.append((voice, r["language"]))
        return listed

    def _voices_with_languages(self) -> list[tuple[str, str]]:
        out = []
        for base, lang in self._voices:  # type: ignore[union-attr]
            out.append((base, lang))
            if not base.startswith("mb-"):  # MBROLA voices take no espeak variants
                out.extend((f"{base}+{v}", lang) for v in self._variants)
        return out

    def _aliases_(self) -> set[str]:
        self.voices()
        return self._aliases

    def _mbrola_voice_installed(self, voice: str) -> bool:
        short = voice.removeprefix("mb-").split("-")[0]  # mb-de1-en → de1
        return any(Path(d, short, short).is_file() or Path(d, short).is_file() for d in self.mbrola_dirs)

    def check_voice(self, voice: str) -> None:
        base, _, variant = voice.partition("+")
        if base in self._aliases_() and (not variant or variant in self._variants):
            return
        if voice_base(voice).startswith("mb-") and voice not in self.voices():
            short = voice_base(voice).removeprefix("mb-").split("-")[0]
            raise EngineNotFoundError(
                f"MBROLA voice {voice!r} is not installed. Install the Debian packages: sudo apt-get install mbrola "
                f"mbrola-{short} (from Debian's contrib/non-free sections; MBROLA voices are for non-commercial use)")
        super().check_voice(voice)

    def _command(self, program, text, voice, out, speed, pitch):
        wpm = max(80, min(450, round(self.DEFAULT_WPM * speed)))
        p = max(0, min(99, round(self.DEFAULT_PITCH * pitch)))
        return [program, "-v", voice, "-s", str(wpm), "-p", str(p), "-b", "1", "-w", str(out), "--stdin"], text


class Flite(TTSEngine):
    """flite (CMU Flite): English voices ``kal`` (8 kHz), ``kal16``, ``awb``, ``rms``, ``slt``.

    ``speed`` → ``--setf duration_stretch=1/speed``; ``pitch`` → ``--setf f0_shift=pitch``. The ``rms``
    voice ignores ``f0_shift`` (no pitch control). ``awb_time`` is a limited-domain voice that can only
    say the time, so it is not listed.
    """

    name = "flite"
    program = "flite"
    debian_package = "flite"
    LIMITED_DOMAIN = frozenset({"awb_time"})
    NO_PITCH = frozenset({"rms"})

    def _list_voices(self):
        text = _run([self.require(), "-lv"], None, what="flite -lv")
        names = text.split(":", 1)[1].split() if ":" in text else text.split()
        return [(v, "en") for v in names if v not in self.LIMITED_DOMAIN]

    def supports_pitch(self, voice: str) -> bool:
        return voice not in self.NO_PITCH

    def _command(self, program, text, voice, out, speed, pitch):
        cmd = [program, "-voice", voice, "--setf", f"duration_stretch={1.0 / speed:.4f}"]
        if pitch != 1.0:
            cmd += ["--setf", f"f0_shift={pitch:.4f}"]
        return cmd + ["-o", str(out), "-t", text], None


class Festival(TTSEngine):
    """festival via ``text2wave``: English diphone voices (``kal_diphone``, ``ked_diphone``) and HTS (``cmu_us_slt_arctic_hts``).

    Diphone voices: ``speed`` divides ``Duration_Stretch``, ``pitch`` multiplies the intonation model's
    ``target_f0_mean``. HTS voices: ``speed`` is hts_engine's ``-r``; they have no pitch control here.
    Voices are found as folders under ``/usr/share/festival/voices/<language>/``.
    """

    name = "festival"
    program = "text2wave"
    debian_package = "festival"
    VOICE_DIRS = ("/usr/share/festival/voices",)
    LANGUAGE_DIRS = {"english": "en", "us": "en", "british": "en"}

    def __init__(self, binary=None, voice_dirs: tuple[str, ...] | None = None):
        super().__init__(binary)
        self.voice_dirs = tuple(voice_dirs) if voice_dirs is not None else self.VOICE_DIRS

    def _list_voices(self):
        self.require()
        found = []
        for root in map(Path, self.voice_dirs):
            for lang_dir in sorted(p for p in root.glob("*") if p.is_dir()):
                lang = self.LANGUAGE_DIRS.get(lang_dir.name, lang_dir.name)
                found += [(v.name, lang) for v in sorted(lang_dir.glob("*")) if (v / "festvox").is_dir()]
        return found

    def check_voice(self, voice: str) -> None:
        if not self.voices():
            raise EngineNotFoundError("festival has no voices installed. Install one, e.g.: sudo apt-get install "
                                      "festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts")
        super().check_voice(voice)

    def supports_pitch(self, voice: str) -> bool:
        return not voice.endswith("_hts")

    def _command(self, program, text, voice, out, speed, pitch):
        if voice.endswith("_hts"):
            setup = f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {speed:.4f}))))'
        else:
            setup = (f"(let ((d (Parameter.get 'Duration_Stretch))) (Parameter.set 'Duration_Stretch (/ (if d d 1.0) {speed:.4f})))"
                     f"(set! int_lr_params (mapcar (lambda (p) (if (eq (car p) 'target_f0_mean) "
                     f"(list 'target_f0_mean (* {pitch:.4f} (cadr p))) p)) int_lr_params))")
        return [program, "-o", str(out), "-eval", f"(begin (voice_{voice}) {setup})"], text + "\n"


ENGINES: dict[str, type[TTSEngine]] = {"espeak-ng": EspeakNG, "flite": Flite, "festival": Festival}


def get_engine(name: str, binary: str | None = None) -> TTSEngine:
    """A fresh engine object by name (``"espeak-ng"``, ``"flite"``, ``"festival"``)."""
    if name not in ENGINES:
        raise ValueError(f"unknown TTS engine {name!r}; engines are {', '.join(ENGINES)}")
    return ENGINES[name](binary)


def available_engines() -> dict[str, TTSEngine]:
    """The engines installed on this machine, by name."""
    return {name: engine for name, engine in ((n, cls()) for n, cls in ENGINES.items()) if engine.available()}


def list_voices(language: str | None = None, engines: list[str] | None = None) -> list[Voice]:
    """Every installed voice of ``language`` across the installed ``engines`` (default: all)."""
    out = []
    for name, engine in available_engines().items():
        if engines is None or name in engines:
            out += [Voice(name, v) for v in engine.voices(language)]
    return out


# -- helpers ---------------------------------------------------------------------------------------------
def _which(binary: str) -> str | None:
    if os.sep in binary:
        return binary if os.path.isfile(binary) and os.access(binary, os.X_OK) else None
    return shutil.which(binary)


def _run(cmd: list[str], stdin: str | None, what: str) -> str:
    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, encoding="utf-8", errors="replace",
                              timeout=TIMEOUT_S, check=False)
    except FileNotFoundError as e:
        raise EngineNotFoundError(f"{what}: could not run {cmd[0]!r} ({e})") from e
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{what}: {cmd[0]} did not finish within {TIMEOUT_S} s") from e
    # festival reports Scheme errors on stderr with status 0
    if done.returncode != 0 or "SIOD ERROR" in done.stderr:
        raise RuntimeError(f"{what}: {Path(cmd[0]).name} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


_ESPEAK_ROW = re.compile(r"^\s*\d+\s+(?P<language>\S+)\s+\S+\s+(?P<name>\S+)\s+(?P<file>.+?)\s*(?P<others>(\(\S+ \d+\))*)\s*$")


def _parse_espeak_table(text: str) -> list[dict]:
    """Rows of ``espeak-ng --voices``: language, VoiceName, File (may contain a space) and other language codes."""
    rows = []
    for line in text.splitlines()[1:]:
        m = _ESPEAK_ROW.match(line)
        if m:
            others = re.findall(r"\((\S+) \d+\)", m.group("others"))
            rows.append({"language": m.group("language"), "name": m.group("name"), "file": m.group("file"), "others": others})
    return rows


def _language_matches(voice_lang: str, wanted: str) -> bool:
    voice_lang, wanted = voice_lang.lower(), wanted.lower()
    return voice_lang == wanted or voice_lang.startswith(wanted + "-")

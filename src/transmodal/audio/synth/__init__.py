"""Synthetic speech corpora from offline TTS plus augmentation: speech recognisers trained without downloads.

    engines     EspeakNG, Flite, Festival (Debian main), Voice, available_engines, list_voices,
                EngineNotFoundError, EVALUATION_ONLY_VOICES / check_training_voice (MBROLA br4: evaluation only)
    augment     add_noise (white / pink / babble at an SNR), reverb (synthetic RIR, RT60), telephone
                (300–3400 Hz, 8 kHz, G.711 mu-law), apply_gain, AugmentSpec
    dsp         resample, band_pass, mulaw_encode / mulaw_decode, read_wav / write_wav (numpy + soundfile)
    texts       en_digit_texts, pt_quiz_texts, TEXT_GENERATORS
    numbers_pt  number_to_words_pt (0 … 120)
    plan        CorpusSpec, plan_corpus (every utterance decided up front), resolve_voices, voice_weights
    corpus      build_corpus (cached, resumable, parallel), read_manifest

Command line: ``transmodal speech-corpus {en-digits,pt-quiz} --out DIR``. Needs the Debian packages
``espeak-ng`` (and optionally ``flite``, ``festival`` with ``festvox-kallpc16k festvox-kdlpc16k
festvox-us-slt-hts``) and the Python package ``soundfile``.
"""

from transmodal.audio.synth.augment import (AugmentSpec, add_noise, apply_gain, babble_noise, pink_noise, reverb, snr_db,
                                            synthetic_rir, telephone, telephone_decode, telephone_encode)
from transmodal.audio.synth.corpus import build_corpus, read_manifest
from transmodal.audio.synth.engines import (ENGINES, EVALUATION_ONLY_VOICES, EngineNotFoundError, EspeakNG, Festival, Flite,
                                            TTSEngine, Voice, available_engines, check_training_voice, get_engine,
                                            is_evaluation_only, list_voices)
from transmodal.audio.synth.numbers_pt import number_to_words_pt
from transmodal.audio.synth.plan import CorpusSpec, Job, plan_corpus, resolve_voices, voice_weights
from transmodal.audio.synth.texts import TEXT_GENERATORS, en_digit_texts, generate_texts, pt_quiz_texts

__all__ = [
    "ENGINES", "EVALUATION_ONLY_VOICES", "TEXT_GENERATORS", "AugmentSpec", "CorpusSpec", "EngineNotFoundError", "EspeakNG",
    "Festival", "Flite", "Job", "TTSEngine", "Voice", "add_noise", "apply_gain", "available_engines", "babble_noise",
    "build_corpus", "check_training_voice", "en_digit_texts", "generate_texts", "get_engine", "is_evaluation_only",
    "list_voices", "number_to_words_pt", "pink_noise", "plan_corpus", "pt_quiz_texts", "read_manifest", "resolve_voices",
    "reverb", "snr_db", "synthetic_rir", "telephone", "telephone_decode", "telephone_encode", "voice_weights",
]

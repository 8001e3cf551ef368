"""Sound in: read and check audio, resample it, digitise it (sample, quantise, compand), and turn it into features.

    io         load_audio (files), read_pcm / encode_pcm (raw bytes), Audio, check_not_silent
    resample   band-limited windowed-sinc (Kaiser) polyphase resampling
    g711       μ-law / A-law companding (ITU-T G.711)
    digitize   sample, quantize, reconstruct (Whittaker–Shannon), snr_db
    features   LogMel, normalize_utterance, SpecAugment, speed_perturb
    plot       plot_audio (waveform, quantisation, spectrogram) — imported on demand (matplotlib)
"""

from transmodal.audio.digitize import Quantized, quantize, reconstruct, sample, snr_db
from transmodal.audio.errors import AudioError
from transmodal.audio.features import LogMel, SpecAugment, mel_filterbank, normalize_utterance, speed_perturb
from transmodal.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from transmodal.audio.io import Audio, check_not_silent, encode_pcm, level_dbfs, load_audio, read_pcm, save_audio
from transmodal.audio.resample import resample

__all__ = [
    "Audio", "AudioError", "LogMel", "Quantized", "SpecAugment", "alaw_decode", "alaw_encode", "check_not_silent",
    "encode_pcm", "level_dbfs", "load_audio", "mel_filterbank", "mulaw_decode", "mulaw_encode", "normalize_utterance",
    "quantize", "read_pcm", "reconstruct", "resample", "sample", "save_audio", "snr_db", "speed_perturb",
]

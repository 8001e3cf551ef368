"""A complete CTC speech recogniser: waveform → log-mel → encoder → CTC log-probabilities, and its applications.

    waves (B, N) at sample_rate ──LogMel──> (B, T, n_mels) ──normalize_utterance──> ──SpecAugment (training)──>
        ──encoder (any registered speech encoder)──> (B, T', D) ──CTCHead──> log_probs (B, T', V)

:class:`SpeechRecognizer` is registered as arch ``"ctc_asr"``; its config names the encoder's arch and
holds the encoder's config as a dict, so ``config.json`` rebuilds both through the registry.
:class:`Transcriber` loads a checkpoint directory (model + ``vocab.json``, optionally ``calibration.json`` and
``lexicon.txt``) and transcribes audio files, freely or as a choice among allowed answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from transmodal.asr.closed_set import Calibrator, ClosedSetScorer
from transmodal.audio.trim import trim_silence
from transmodal.asr.ctc import CTCHead
from transmodal.asr.decode import beam_decode, constrained_beam_decode, greedy_decode
from transmodal.asr.vocab import CharVocab
from transmodal.audio.errors import AudioError
from transmodal.audio.features import LogMel, SpecAugment, normalize_utterance
from transmodal.models.registry import build, register

CALIBRATION = Calibrator.FILENAME  # "calibration.json"
LEXICON = "lexicon.txt"  # optional: the words a checkpoint's free decoding may produce, one per line
LEXICON_BEAM = 8  # beam width of lexicon-constrained free decoding


@dataclass
class SpeechRecognizerConfig:
    encoder: str = "conformer"  # a registered speech encoder arch
    encoder_config: dict[str, Any] = field(default_factory=dict)  # its config fields (n_mels is forced to ours)
    vocab_size: int = 2
    n_mels: int = 80
    sample_rate: int = 16000
    freq_masks: int = 2  # SpecAugment (training mode only)
    freq_width: int = 27
    time_masks: int = 10
    time_width_ratio: float = 0.05
    vtlp: float = 0.0  # training mode only: warp each utterance's spectrum by α ~ U[1 − vtlp, 1 + vtlp] (0 = off)


@register("ctc_asr", SpeechRecognizerConfig)
class SpeechRecognizer(nn.Module):
    """``forward(waves (B, N), wave_lengths (B,))`` → (log_probs (B, T', V), lengths (B,)).

    Padded samples past ``wave_lengths`` never influence an item's outputs in eval mode: LogMel zeroes
    frames past each length, normalisation uses valid frames only, and the encoders mask padding.
    """

    def __init__(self, config: SpeechRecognizerConfig):
        super().__init__()
        c = self.config = config
        enc_cfg = dict(c.encoder_config)
        enc_cfg["n_mels"] = c.n_mels
        c.encoder_config = enc_cfg
        if not 0 <= c.vtlp < 1:
            raise ValueError(f"vtlp={c.vtlp} must lie in [0, 1): the warp factors are 1 ± vtlp (0.1 is usual; 0 = off)")
        self.frontend = LogMel(c.sample_rate, c.n_mels)
        # VTLP needs every band at least two FFT bins wide: a narrower one can fall between the warped bins and come
        # out empty (log floor), an artefact training would learn and evaluation never shows. Checked when training.
        self._bands_warpable = int((self.frontend.filters > 0).sum(1).min()) >= 2
        self.spec_augment = SpecAugment(c.freq_masks, c.freq_width, c.time_masks, c.time_width_ratio)
        self.encoder = build(c.encoder, enc_cfg)
        d_model = getattr(self.encoder.config, "d_model", None)
        if d_model is None:
            raise ValueError(f"encoder {c.encoder!r} has no config.d_model; cannot size the CTC head")
        self.head = CTCHead(d_model, c.vocab_size)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def features(self, waves: Tensor, wave_lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Normalised log-mel features (B, T, n_mels) and frame lengths; VTLP and SpecAugment in training mode."""
        warp = None
        if self.training and self.config.vtlp > 0:
            if not self._bands_warpable:
                c = self.config
                raise ValueError(f"vtlp={c.vtlp} needs every mel band at least two FFT bins wide; at {c.sample_rate} Hz "
                                 f"{c.n_mels} bands are not (the lowest cover one bin): use fewer bands "
                                 f"(n_mels=40 works at 8 and 16 kHz) or vtlp=0")
            warp = 1.0 + self.config.vtlp * (2.0 * torch.rand(waves.shape[0], device=waves.device) - 1.0)
        feats, lengths = self.frontend(waves, wave_lengths, warp)
        feats = normalize_utterance(feats, lengths)
        return self.spec_augment(feats, lengths), lengths

    def forward_features(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Log-mel features → (log_probs (B, T', V), lengths): encoder + CTC head (what ONNX exports)."""
        x, out_lengths = self.encoder(feats, lengths)
        return self.head(x), out_lengths

    def forward(self, waves: Tensor, wave_lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if wave_lengths is None:
            wave_lengths = torch.full((waves.shape[0],), waves.shape[1], dtype=torch.long, device=waves.device)
        feats, lengths = self.features(waves, wave_lengths)
        return self.forward_features(feats, lengths)

    def min_samples(self) -> int:
        """Shortest waveform (samples) that gives the encoder enough frames."""
        embed = getattr(self.encoder, "embed", None)
        frames = embed.min_frames() if embed is not None and hasattr(embed, "min_frames") else 1
        return self.frontend.win_length + (frames - 1) * self.frontend.hop_length


def pad_waves(waves: list[Tensor], min_len: int = 0) -> tuple[Tensor, Tensor]:
    """1-D waveforms → (B, N) zero-padded batch and (B,) lengths."""
    lengths = torch.tensor([w.shape[-1] for w in waves], dtype=torch.long)
    batch = torch.zeros(len(waves), max(int(lengths.max()), min_len))
    for i, w in enumerate(waves):
        batch[i, : w.shape[-1]] = w
    return batch, lengths


@dataclass
class Transcription:
    path: str
    text: str
    confidence: float  # free decoding: uncalibrated mean frame max-probability; choices: (calibrated) posterior
    log_probs: Tensor | None = None  # (T', V) for plotting


class Transcriber:
    """A :class:`SpeechRecognizer` with its vocabulary (and optional calibration) → text from audio files.

    Free decoding (no ``choices``): greedy (``beam=1``) or prefix beam search; confidence is the mean
    over the best path's frames of the frame's highest probability — a rough, *uncalibrated* score. When
    the model has a ``lexicon`` (its checkpoint's ``lexicon.txt``: a closed-vocabulary recogniser such as
    ``en-digits``), free decoding spells only sequences of those words, of any length including none
    (:func:`~transmodal.asr.decode.constrained_beam_decode`, beam ≥ 8); ``lexicon=None`` decodes characters.
    With ``choices``: every allowed answer is scored by CTC likelihood; the text is exactly one of them
    and the confidence is its posterior, temperature-calibrated when the checkpoint has ``calibration.json``.
    """

    def __init__(self, model: SpeechRecognizer, vocab: CharVocab, calibrator: Calibrator | None = None,
                 batch_size: int = 16, trim: bool = True, lexicon: list[str] | None = None):
        if model.config.vocab_size != vocab.vocab_size:
            raise ValueError(f"the model has {model.config.vocab_size} outputs but the vocabulary {vocab.vocab_size}")
        self.model, self.vocab, self.calibrator, self.batch_size = model.eval(), vocab, calibrator, batch_size
        self.trim = trim
        self.lexicon = list(lexicon) if lexicon else None

    @classmethod
    def load(cls, name_or_path: str | Path, batch_size: int = 16, use_lexicon: bool = True) -> "Transcriber":
        """A checkpoint (shipped name or directory); ``use_lexicon=False`` ignores its ``lexicon.txt``."""
        from transmodal.hub import load_as

        model, path = load_as(name_or_path, "ctc_asr", "a speech recogniser")
        if not (path / CharVocab.FILENAME).is_file():
            raise ValueError(f"{path}: no {CharVocab.FILENAME}; a speech checkpoint needs its character vocabulary")
        vocab = CharVocab.load(path / CharVocab.FILENAME)
        cal = Calibrator.load(path) if (path / CALIBRATION).is_file() else None
        lexicon = read_lexicon(path / LEXICON) if use_lexicon and (path / LEXICON).is_file() else None
        return cls(model, vocab, cal, batch_size, lexicon=lexicon)

    def read(self, path: str | Path) -> Tensor:
        """One file → mono waveform (N,) at the model's rate; too short a file is an AudioError naming it."""
        from transmodal.audio.io import load_audio

        audio = load_audio(path, sample_rate=self.model.sample_rate)
        wave = audio.samples[0]
        if wave.shape[-1] < self.model.min_samples():
            raise AudioError(f"{path}: too short ({wave.shape[-1] / self.model.sample_rate * 1000:.0f} ms); "
                             f"the model needs at least {self.model.min_samples() / self.model.sample_rate * 1000:.0f} ms")
        return wave

    @torch.no_grad()
    def log_probs(self, waves: list[Tensor]) -> list[Tensor]:
        """Per waveform, its (T', V) CTC log-probabilities (batched, padding-invariant).

        With ``trim`` (the default) the silence before and after the speech is cut first
        (:func:`~transmodal.audio.trim.trim_silence`): the models are trained on utterances that start at once.
        """
        if self.trim:
            waves = [trim_silence(w, self.model.sample_rate, self.model.min_samples()) for w in waves]
        out: list[Tensor | None] = [None] * len(waves)
        order = sorted(range(len(waves)), key=lambda i: waves[i].shape[-1])
        for s in range(0, len(order), self.batch_size):
            chunk = order[s : s + self.batch_size]
            batch, lengths = pad_waves([waves[i] for i in chunk])
            lp, lp_len = self.model(batch, lengths)
            for row, i in enumerate(chunk):
                out[i] = lp[row, : int(lp_len[row])]
        return out  # type: ignore[return-value]

    @torch.no_grad()
    def transcribe(self, paths: list[str | Path], choices: list[str] | None = None, beam: int = 1,
                   keep_log_probs: bool = False) -> list[Transcription]:
        if beam < 1:
            raise ValueError(f"beam must be ≥ 1, got {beam}")
        waves = [self.read(p) for p in paths]  # read all first: a bad file fails before any work
        lps = self.log_probs(waves)
        scorer = None
        if choices is not None:
            scorer = ClosedSetScorer(choices, self.vocab, temperature=self.calibrator or 1.0)
        results = []
        for p, lp in zip(paths, lps):
            lengths = torch.tensor([lp.shape[0]])
            if scorer is not None:
                r = scorer(lp[None], lengths)[0]
                text, conf = scorer.candidates[r.best], r.confidence
            else:
                text, conf = self._free(lp, beam)
            results.append(Transcription(str(p), text, float(conf), lp if keep_log_probs else None))
        return results

    def _free(self, lp: Tensor, beam: int) -> tuple[str, float]:
        if lp.shape[0] == 0:
            return "", 0.0
        frame_conf = float(lp.max(dim=-1).values.exp().mean())  # best path: argmax per frame
        lengths = torch.tensor([lp.shape[0]])
        conf = frame_conf if math.isfinite(frame_conf) else 0.0
        if self.lexicon:
            hyps = constrained_beam_decode(lp[None], lengths, self.lexicon, self.vocab, beam=max(beam, LEXICON_BEAM))[0]
            return (" ".join(hyps[0][0]) if hyps else ""), conf
        if beam == 1:
            ids = greedy_decode(lp[None], lengths)[0]
        else:
            hyps = beam_decode(lp[None], lengths, beam=beam)[0]
            ids = hyps[0][0] if hyps else []
        return self.vocab.decode(ids), conf


def read_lexicon(path: str | Path) -> list[str]:
    """The words of a ``lexicon.txt`` (one per line, UTF-8; blank lines ignored); an empty one is an error."""
    words = [w.strip() for w in Path(path).read_text(encoding="utf-8").splitlines() if w.strip()]
    if not words:
        raise ValueError(f"{path}: the lexicon has no words; write one word per line or delete the file")
    return words

"""Options of the Brazilian-Portuguese questionnaire-answers recipe (see :mod:`transmodal.recipes.pt_quiz`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PtQuizRecipe:
    out: str = "runs/pt-quiz"
    corpus: str = ""  # folder for the synthetic corpora (corpus-train/, corpus-eval/); "" = inside out. Runs may share one.
    texts: str = "pt-quiz-extended"  # a text generator of transmodal.audio.synth.texts
    variants: int = 48  # training utterances per text (voices, speed, pitch and augmentation drawn per utterance)
    # never trained on; the evaluation voices. MBROLA br4 (a recorded human voice, Debian non-free) is skipped with a
    # note when it is not installed.
    holdout_voices: str = "espeak-ng:pt-br+f4,espeak-ng:pt-br+m6,espeak-ng:mb-br4"
    train_mbrola: bool = True  # the installed MBROLA voices (br1, br2, br3) train too; False: espeak-ng's voices only
    holdout_variants: int = 2  # utterances per text and holdout voice (speed/pitch/level vary, no noise)
    valid_fraction: float = 0.04  # training-voice utterances set aside to pick the best checkpoint
    # the checkpoint kept is the one with the best mean closed-set accuracy on those utterances over these conditions
    # (comma-separated, of clean, telephone, noisy); stages 1-5 (stops 12-13) selected on "clean" alone
    valid_conditions: str = "clean,telephone,noisy"
    noisy_snr_db: float = 10.0  # the "noisy" evaluation condition: white, pink or babble noise at this SNR
    encoder: str = "conformer"  # conformer | fast_conformer | zipformer | transformer | cnn (speech encoders)
    model: str = "cpu"  # a name from the encoder's CONFIGS ("cpu": ≈2.6 M parameters for every encoder)
    d_model: int | None = None  # these override the named configuration where the encoder has the field
    n_layers: int | None = None
    n_heads: int | None = None
    kernel_size: int | None = None
    dropout: float | None = None
    p_telephone: float = 0.0  # on-line: probability that a training utterance goes through the telephone channel
    p_noise: float = 0.0  # on-line: probability of white/pink noise at 0-15 dB SNR (after the telephone channel, if any)
    p_babble: float = 0.0  # on-line: probability of babble (4 other training utterances summed), last
    babble_snr_db: str = "5,20"  # with p_babble: "low,high", the babble's SNR drawn uniformly in this range (dB)
    init: str = ""  # a checkpoint directory to start from (fine-tuning), instead of random weights
    eval_only: bool = False  # no training: evaluate `init` as it is (held-out voices, calibration, report) in out/best
    speed_perturb: bool = False  # resample each training utterance (moves pitch and formants; the TTS corpus varies tempo only)
    speed_factors: str = "0.9,1.0,1.1"  # with speed_perturb: each training utterance resampled to one of these speeds
    spec_augment: bool = True
    batch_size: int = 32
    max_steps: int = 2500
    lr: float = 1.5e-3
    warmup: int = 250
    eval_every: int = 500
    seed: int = 0
    threads: int = 0  # 0 = PyTorch's default
    workers: int = 2  # processes synthesising the corpus
    limit_texts: int = 0  # use only the first N texts (0 = all): for quick tests
    progress: bool = True

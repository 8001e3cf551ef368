"""Options of the English spoken-digits recipe (see :mod:`transmodal.recipes.en_digits`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EnDigitsRecipe:
    out: str = "runs/en-digits"
    data: str = "fsdd-dev"  # folder under $TRANSMODAL_DATA with recordings/{digit}_{speaker}_{index}.wav
    sample_rate: int = 8000  # the model's rate; FSDD is 8 kHz, and synthetic speech is rendered at this rate too
    train_speakers: str = "george,jackson"  # comma-separated; every other speaker is held out for validation
    valid_per_digit: int = 0  # also hold out the N highest-numbered recordings of each digit of each training speaker
    # (needed when every speaker trains; the report then measures unheard recordings of heard voices)
    synthetic_variants: int = 0  # utterances per digit string in the synthetic corpus (0 = no synthetic data)
    synthetic_strings: int = 200  # digit strings (en_digit_texts) synthesised when synthetic_variants > 0
    synthetic_voices: str = ""  # comma-separated "engine:voice" training voices; "" = the synthesiser's English defaults,
    # and "default" among them stands for those (e.g. "default,espeak-ng:mb-us1" adds MBROLA us1)
    synthetic_all_voices: bool = False  # also let the voices the synthesiser keeps for its own holdout speak training data
    n_mels: int = 80  # log-mel bands; SpecAugment's band mask scales with it (27 of 80)
    read_speech_repeat: int = 0  # add the transcribed read speech of read_speech_data (4 more real voices), N times each
    read_speech_data: str = "speech-en-real"
    model: str = "small"  # a name from transmodal.models.conformer.CONFIGS
    d_model: int = 144
    n_layers: int = 4
    n_heads: int = 4
    kernel_size: int = 15
    dropout: float = 0.1
    init: str = ""  # a speech checkpoint of the same encoder configuration to start from (e.g. the pt-quiz model)
    speed_perturb: bool = True  # each training utterance at speed 0.9, 1.0 or 1.1
    speed_factors: str = "0.9,1.0,1.1"  # with speed_perturb: each training utterance resampled to one of these speeds
    spec_augment: bool = True
    vtlp: float = 0.0  # vocal tract length perturbation: each training utterance warped by α ~ U[1 − vtlp, 1 + vtlp]
    batch_size: int = 32
    max_steps: int = 3000
    lr: float = 1e-3
    warmup: int = 300
    eval_every: int = 500
    seed: int = 0
    threads: int = 0  # 0 = PyTorch's default
    limit: int = 0  # use only N training recordings, drawn at random (0 = all): for quick tests
    valid_limit: int = 0  # use only every k-th held-out recording so that at most N remain (0 = all): for quick tests
    progress: bool = True

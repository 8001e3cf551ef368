"""Options of the Gated-Multimodal-Unit digits recipe (see :mod:`transmodal.recipes.gmu_digits`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GmuDigitsRecipe:
    out: str = "runs/gmu-digits"
    data: str = "fsdd-dev"  # folder under $TRANSMODAL_DATA with recordings/{digit}_{speaker}_{index}.wav
    # comma-separated names from gmu_digits.METHODS; every one is trained with the same encoders, data and budget
    methods: str = "image,audio,text,concat,sum,late,gmu,concat3,sum3,late3,gmu3"
    test_speaker: str = "lucas"  # held out: its recordings make the test pairs (the other speakers train)
    valid_per_digit: int = 5  # recordings with index ≥ 50 − this, per (digit, training speaker), validate
    image_test_fraction: float = 0.3  # of each digit's scikit-learn images, held out for the test pairs
    image_valid_fraction: float = 0.1  # and for the validation pairs (the rest train)
    test_repeats: int = 4  # each test recording is paired with this many (image, text, noise) draws
    sample_rate: int = 8000  # FSDD's own rate
    n_mels: int = 40
    image_noise_max: float = 1.5  # std of the Gaussian pixel noise at noise level 1 (pixels in [0, 1])
    snr_clean_db: float = 20.0  # audio SNR at noise level 0 ...
    snr_noisy_db: float = -20.0  # ... and at level 1 (linear in between; white noise hurts FSDD only below ≈ 0 dB)
    audio_noise: str = "white"  # "white" | "pink" (transmodal.audio.synth.augment)
    max_typos: int = 4  # typos in the text at noise level 1 (round(level × max_typos) of them)
    modality_dropout: float = 0.2  # training: probability that an example loses one of its modalities
    encoder_dim: int = 64
    hidden: int = 64
    dropout: float = 0.1
    epochs: int = 40
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    eval_every_epochs: int = 3  # validation (for keeping the best model) every this many epochs, and at the end
    limit: int = 0  # use only the first N training recordings (0 = all): for quick tests
    seed: int = 0
    threads: int = 1  # 0 = PyTorch's default
    progress: bool = True

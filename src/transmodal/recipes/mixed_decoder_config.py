"""Options of the text+image decoder recipe ``imagine`` (see :mod:`transmodal.recipes.mixed_decoder`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MixedDecoderRecipe:
    out: str = "runs/imagine"
    model: str = "small"  # a name from transmodal.models.mixed_decoder.CONFIGS
    codes: int = 256  # image codebook size (k-means centres of 4×4 patches)
    codebook_images: int = 2000  # training images (and their edited versions) whose patches fit the codebook
    kmeans_iters: int = 25
    edit_share: float = 0.5  # share of training sequences that are edits (the rest: caption → image)
    attribute_share: float = 0.75  # share of dark/light images whose caption names the tone ("a dark bag")
    shift: int = 4  # pixels moved by "move it left/right"
    darker: float = 0.6  # "make it darker" multiplies grey values by this; "make it lighter" divides (clipped at 1)
    batch_size: int = 64
    max_steps: int = 3000
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 200
    valid_size: int = 2000  # training images held out (image-token NLL for model selection)
    valid_sequences: int = 512  # held-out sequences scored at each evaluation
    eval_every: int = 500  # steps
    limit: int = 0  # use only the first N training images (0 = all)
    test_limit: int = 2000  # test images for the NLL, reconstruction and edit figures (0 = all 10,000)
    samples_per_class: int = 50  # images drawn per class prompt for the classifier check
    tone_samples: int = 20  # images drawn per "a dark X" / "a light X" prompt
    edit_images: int = 200  # test images edited per instruction (greedy decoding)
    temperature: float = 1.0
    top_k: int = 0  # 0 = no top-k restriction when drawing images
    evaluate_only: bool = False  # skip training: evaluate out/best (after an interrupted run, or with another classifier);
    # give the same data options (limit, valid_size, seed, …) as the training run: the tone thresholds come from its images
    classifier: str = "fashion-vit"  # shipped name or checkpoint dir of a Fashion-MNIST ViT; "none" = skip
    seed: int = 0
    threads: int = 0
    progress: bool = True

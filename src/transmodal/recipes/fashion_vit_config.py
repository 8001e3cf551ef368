"""Options of the Fashion-MNIST Vision Transformer recipe (see :mod:`transmodal.recipes.fashion_vit`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FashionViTRecipe:
    out: str = "runs/fashion-vit"
    model: str = "fashion-conv-m"  # a name from transmodal.models.vit.CONFIGS
    init: str = ""  # start from this saved model's weights (same configuration), e.g. to fine-tune the shipped one
    compare: bool = False  # train each of compare_models with these options and report them side by side
    compare_models: str = "fashion-pixel,fashion-p4,fashion-p7,fashion-conv"  # comma-separated CONFIGS names
    # defaults = the shipped model's run (stop 18, one H100: 7,923 steps ≈ 147 epochs in 392 s; two CPU cores: 11.2 s/step, ~25 h)
    epochs: int = 147
    batch_size: int = 1024
    lr: float = 2.8e-3  # AdamW peak learning rate (linear warm-up, cosine decay to lr/10)
    weight_decay: float = 0.05  # on weight matrices only
    warmup_epochs: float = 3.0
    label_smoothing: float = 0.1
    crop_padding: int = 2  # random crop: pad by this many pixels, cut 28×28 back out (0 = off)
    hflip: bool = True  # random horizontal flip
    erasing: float = 0.25  # probability of random erasing per image (0 = off)
    mix_prob: float = 1.0  # probability that a batch is mixed: CutMix or mixup (0 = off; timm's DeiT recipe uses 1.0 too)
    mixup_alpha: float = 0.8  # λ ~ Beta(α, α) for mixup
    cutmix_alpha: float = 1.0  # λ ~ Beta(α, α) for CutMix
    cutmix_prob: float = 0.5  # of the mixed batches, the share mixed by CutMix (the rest by mixup)
    drop_path: float = -1.0  # stochastic depth of the last block; -1 = the model config's value
    tta_shift: int = 1  # test-time augmentation: every shift within ±tta_shift px (and mirror images when hflip); -1 = off
    valid_size: int = 5000  # training images held out for validation (model selection)
    eval_every_epochs: int = 1
    max_steps: int = 0  # stop after this many steps (0 = epochs × steps per epoch): for smoke runs
    limit: int = 0  # use only the first N training images (0 = all): for quick tests
    test_limit: int = 0  # evaluate on the first N test images (0 = all 10,000)
    seed: int = 0
    threads: int = 0  # 0 = PyTorch's default
    progress: bool = True

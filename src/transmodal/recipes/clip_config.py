"""Options of the CLIP recipe (see :mod:`transmodal.recipes.clip`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ClipRecipe:
    out: str = "runs/clip-scenes"
    data: str = "scenes"  # scenes (drawn shapes, held-out colour×shape combinations) | fashion (Fashion-MNIST)
    # model
    embed_dim: int = 64  # the joint image–text space
    vision_tokens: str = "conv"  # conv (a 3×3 convolutional stem, strides multiplying to the patch size) | patch
    patch_size: int = 0  # 0 = the data's default: 8 for 32-px scenes, 4 for 28-px Fashion-MNIST
    vision_width: int = 64
    vision_layers: int = 3
    vision_heads: int = 4
    text_width: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_pool: str = "mean"  # mean (bidirectional, masked mean) | eos (causal, the EOS token's feature, as the paper)
    vocab_size: int = 256  # BPE vocabulary learnt from the training captions
    # data
    train_size: int = 30000  # scenes: pictures drawn for training (seen combinations only)
    eval_size: int = 1000  # scenes: test pictures per split (held-out and seen combinations)
    valid_size: int = 5000  # fashion: training images held out for validation (model selection); scenes: seen-combination pictures
    limit: int = 0  # fashion: use only the first N training images (0 = all): for quick tests
    test_limit: int = 0  # fashion: evaluate on the first N test images (0 = all 10,000)
    extra_colour_share: float = 0.0  # scenes: share of training pictures drawn in training-only colours (orange, cyan…)
    grey_share: float = 0.3  # scenes: share of training pictures shown in grey with colour-free captions (0 = none)
    augment: bool = True  # fashion: random shifts of ±2 px and horizontal flips (scenes: none — a flip changes left/right)
    # training
    epochs: int = 8
    max_steps: int = 0  # 0 = epochs × steps per epoch
    batch_size: int = 256
    lr: float = 2e-3  # AdamW peak learning rate (linear warm-up, cosine decay)
    weight_decay: float = 0.1  # on weight matrices only (not the temperature, biases, norms, positions)
    warmup_steps: int = 100
    eval_every_epochs: int = 1
    seed: int = 0
    threads: int = 0  # 0 = PyTorch's default
    progress: bool = True

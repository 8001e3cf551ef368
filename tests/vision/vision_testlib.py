"""Helpers shared by the vision tests: tiny models and checkpoints made on the spot."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image

from transmodal.models.pixel_gpt import PixelGPT
from transmodal.models.pixel_gpt import config as pixel_config
from transmodal.models.vit import VisionTransformer, config
from transmodal.train import save_model
from transmodal.vision.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist


def tiny_vit(seed: int = 0, **overrides) -> VisionTransformer:
    """A micro ViT whose head is scaled up so that classes are well separated (a fresh head is nearly uniform)."""
    torch.manual_seed(seed)
    model = VisionTransformer(config("micro", **overrides))
    with torch.no_grad():
        for p in model.head.parameters():
            p.normal_(0.0, 1.0)
    return model.eval()


def fashion_test_or_skip() -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST's test images and labels, or skip the calling test where the data set is not installed."""
    import pytest

    try:
        return load_fashion_mnist("test")
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not available here")


def labels_json() -> str:
    return json.dumps({"labels": list(FASHION_MNIST_CLASSES), "background": "dark"})


def save_tiny_vit(path, **overrides):
    return save_model(path, tiny_vit(**overrides), extra_files={"labels.json": labels_json()})


def save_tiny_pixel_model(path, side: int = 12):
    torch.manual_seed(0)
    model = PixelGPT(pixel_config("micro", height=side, width=side, levels=8))
    return save_model(path, model, extra_files={"labels.json": labels_json()})


def fashion_like(seed: int = 0, size: int = 28) -> np.ndarray:
    """A uint8 white-on-black 'garment' touching the top, bottom, left and right edges (so trimming keeps it whole)."""
    rng = np.random.default_rng(seed)
    a = np.zeros((size, size), dtype=np.uint8)
    a[:, size // 4 : 3 * size // 4] = rng.integers(120, 256, size=(size, size // 2))  # a tall body, full height
    a[size // 3, :] = 200  # a bar reaching both sides
    a[size // 2, size // 2] = 255  # the brightest pixel is white, as in most Fashion-MNIST pictures
    return a


def write_png(path, array: np.ndarray, mode: str | None = None) -> None:
    Image.fromarray(array).convert(mode or ("L" if array.ndim == 2 else "RGB")).save(path)

r"""Captions for labelled pictures: Fashion-MNIST's class name plus attributes measured from the pixels.

    "a photo of a dark, large, patterned pullover"

Three visible attributes, each measured on the object pixels (value > 30 of 255) of a 28×28 picture:

    size        area = share of object pixels                      small | large
    tone        mean value of the object pixels                    dark  | light
    texture     mean |x[i, j+1] − x[i, j]| over object-pixel pairs plain | patterned

Each attribute is split at its median **within the class**, measured on the training images
(:func:`fit_thresholds`), so "a large sandal" means large for a sandal and every class is split about
evenly. The class names are spelled as Fashion-MNIST's README does ("T-shirt/top", "Ankle boot").

Training captions (:func:`caption` with an ``rng``) vary the prefix, the order of the attributes and
keep each attribute with probability 0.6; :data:`TEMPLATES` are the zero-shot prompts ("a photo of a
{}."), the same wording as the training prefixes, with only the class name in them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch import Tensor

PREFIXES = ("a photo of", "a picture of", "an image of", "a drawing of", "")  # training caption openings
TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "an image of a {}.", "a drawing of a {}.")  # zero-shot prompts
ATTRIBUTES = (("small", "large"), ("dark", "light"), ("plain", "patterned"))  # below / above the class median
OBJECT_LEVEL = 30  # pixels above this (of 255) belong to the object


def measure(images: Tensor) -> Tensor:
    """uint8 pictures (N, H, W) → (N, 3): object area share, mean object value (0–255), mean horizontal contrast."""
    if images.ndim != 3:
        raise ValueError(f"expected grey pictures (N, H, W), got shape {tuple(images.shape)}")
    x = images.float()
    obj = x > OBJECT_LEVEL
    area = obj.float().mean(dim=(1, 2))
    tone = (x * obj).sum(dim=(1, 2)) / obj.sum(dim=(1, 2)).clamp(min=1)
    pairs = obj[:, :, 1:] & obj[:, :, :-1]
    texture = ((x[:, :, 1:] - x[:, :, :-1]).abs() * pairs).sum(dim=(1, 2)) / pairs.sum(dim=(1, 2)).clamp(min=1)
    return torch.stack([area, tone, texture], dim=1)


def fit_thresholds(images: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Per-class medians (num_classes, 3) of :func:`measure` — the small/large, dark/light, plain/patterned cuts."""
    m = measure(images)
    out = torch.empty(num_classes, m.shape[1])
    for k in range(num_classes):
        rows = m[labels == k]
        if rows.shape[0] == 0:
            raise ValueError(f"class {k} has no training pictures: cannot set its attribute thresholds")
        out[k] = rows.median(dim=0).values
    return out


def attributes(images: Tensor, labels: Tensor, thresholds: Tensor) -> list[tuple[str, str, str]]:
    """The (size, tone, texture) words of each picture, e.g. ("large", "dark", "plain")."""
    above = measure(images) > thresholds[labels]  # (N, 3)
    return [tuple(ATTRIBUTES[a][int(v)] for a, v in enumerate(row)) for row in above.tolist()]


def caption(name: str, words: Sequence[str] = (), rng: random.Random | None = None) -> str:
    """The full caption ("a photo of a large, dark, plain Coat"), or with ``rng`` a training variant (prefix, order, attributes dropped)."""
    if rng is None:
        return " ".join(w for w in ("a photo of a", ", ".join(words), name) if w)
    kept = [w for w in words if rng.random() < 0.6]
    rng.shuffle(kept)
    described = (", " if rng.random() < 0.5 else " ").join(kept)
    text = " ".join(w for w in (rng.choice(PREFIXES), "a", described, name) if w)
    return text + ("." if rng.random() < 0.5 else "")

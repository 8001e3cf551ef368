r"""Procedurally drawn scenes with captions, for contrastive image–text training with no download.

A scene is one coloured shape on a dark background, described by four attributes::

    shape    circle | square | triangle | cross
    colour   red | green | blue | yellow | purple
    size     small | large
    position left | right | top | bottom | centre

    caption: "a large red circle on the left"

:data:`HELD_OUT` lists five (shape, colour) combinations that training never shows — each colour
once, every shape at least once — while each of their words is seen in other combinations. Classifying
pictures of those combinations among all 20 "colour shape" labels tests compositional generalisation:
the model must put together a text embedding ("blue circle") and an image embedding it never saw.

Pictures are drawn with PIL at 4× the size and reduced with a box filter (smooth edges); everything
random — centre jitter (±2 px at 32 px), radius jitter (±0.5 px), colour jitter (±20 per channel),
background level and pixel noise — comes from one ``numpy`` generator seeded by the caller, so a
seed always gives the same pictures. Training captions (:func:`caption` with an ``rng``) vary the
wording and leave out attributes at random (size, position, colour or shape), so each word has to
carry its own meaning.

Why more than captions is needed: trained on colour pictures only, the image encoder learns that a
blue object is never a circle (true of everything it saw) and files a blue circle under the nearest
blue combination it knows — on held-out pictures its shape was right 27 % of the time, against 84 %
on seen ones (a 2-epoch conv-stem run). The recipe therefore also shows a share of the training
pictures in grey (:func:`to_grey`) with captions that name no colour: shape then has to be read from
form alone. No held-out pair is ever shown, in colour or in grey (a grey picture comes from a seen pair).
Grey alone did not fix it (33 % on held-out pairs). What did: a share of the training pictures (the recipe's
``--extra-colour-share``, 0.6 for the shipped model) shows every shape in five more colours
(:data:`EXTRA_COLOURS`, named in their captions, never a zero-shot label). Each shape is then seen in eight
colours rather than three or four, colour stops predicting shape, and the encoder reads shape from form: held-out
pairs went from 33–41 % to 96–98 % (four seeds, 5 epochs).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from transmodal.vision.captions import PREFIXES, TEMPLATES  # noqa: F401  (the same wording for both data sets)

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {"red": (220, 45, 45), "green": (45, 175, 65), "blue": (55, 95, 235), "yellow": (235, 210, 45),
           "purple": (160, 65, 210)}
# Training-only colours (every shape in each, all seen): no zero-shot label names them. Their hues keep clear of
# the five colours above (by more than the ±20 jitter), so no picture in them looks like a held-out pair.
EXTRA_COLOURS = {"orange": (245, 135, 20), "cyan": (40, 205, 215), "pink": (245, 120, 190), "white": (235, 235, 235),
                 "brown": (125, 75, 35)}
ALL_COLOURS = {**COLOURS, **EXTRA_COLOURS}
SIZES = ("small", "large")
POSITIONS = ("left", "right", "top", "bottom", "centre")
PHRASES = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom",
           "centre": "in the centre"}
HELD_OUT = (("circle", "blue"), ("square", "yellow"), ("triangle", "red"), ("cross", "green"), ("triangle", "purple"))
SPLITS = ("train", "held_out", "all")

_CENTRES = {"left": (0.3, 0.5), "right": (0.7, 0.5), "top": (0.5, 0.3), "bottom": (0.5, 0.7), "centre": (0.5, 0.5)}
_RADII = {"small": 0.16, "large": 0.25}  # in image widths (5.1 and 8 px at 32 px)
_SUPERSAMPLE = 4


@dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    size: str
    position: str

    def __post_init__(self) -> None:
        for name, value, allowed in (("shape", self.shape, SHAPES), ("colour", self.colour, tuple(ALL_COLOURS)),
                                     ("size", self.size, SIZES), ("position", self.position, POSITIONS)):
            if value not in allowed:
                raise ValueError(f"scene {name}={value!r} is not one of {allowed}")

    @property
    def label(self) -> str:
        """The zero-shot class: "colour shape", e.g. "red circle"."""
        return f"{self.colour} {self.shape}"

    @property
    def held_out(self) -> bool:
        return (self.shape, self.colour) in HELD_OUT


def labels() -> list[str]:
    """All 20 "colour shape" class names, shape-major."""
    return [f"{c} {s}" for s in SHAPES for c in COLOURS]


def all_scenes(split: str = "all") -> list[Scene]:
    """Every attribute combination (200) of a split: "train" (seen combinations), "held_out" or "all"."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not one of {SPLITS}")
    out = [Scene(*combo) for combo in itertools.product(SHAPES, COLOURS, SIZES, POSITIONS)]
    if split == "train":
        return [s for s in out if not s.held_out]
    return [s for s in out if s.held_out] if split == "held_out" else out


def extra_colour_scenes() -> list[Scene]:
    """Every shape × :data:`EXTRA_COLOURS` × size × position (200): training-only pictures in colours no label names."""
    return [Scene(*combo) for combo in itertools.product(SHAPES, EXTRA_COLOURS, SIZES, POSITIONS)]


def sample_scenes(n: int, split: str, seed: int) -> list[Scene]:
    """``n`` scenes drawn uniformly from the combinations of ``split`` (deterministic in ``seed``); split
    ``"extra"`` draws from :func:`extra_colour_scenes`."""
    pool = extra_colour_scenes() if split == "extra" else all_scenes(split)
    rng = random.Random(seed)
    return [rng.choice(pool) for _ in range(n)]


def caption(scene: Scene, rng: random.Random | None = None, colour: bool = True) -> str:
    """The full description ("a large red circle on the left"), or with ``rng`` a random training variant.

    Training variants keep size and position with probability 0.6 each, and name both colour and shape
    half of the time, only the colour ("a red shape") a quarter, only the shape a quarter — so that a
    picture's embedding has to carry colour and shape as separate parts. ``colour=False`` never names
    the colour (for pictures turned grey, :func:`to_grey`).
    """
    if rng is None:
        return f"a {scene.size} {scene.colour} {scene.shape} {PHRASES[scene.position]}"
    size = rng.random() < 0.6
    position = rng.random() < 0.6
    draw = rng.random()
    shape = not colour or draw < 0.75
    colour = colour and (draw < 0.5 or not shape)
    words = ([scene.size] if size else []) + ([scene.colour] if colour else []) + [scene.shape if shape else "shape"]
    text = " ".join(w for w in (rng.choice(PREFIXES), "a", *words) if w)
    if position:
        text += " " + PHRASES[scene.position]
    return text + ("." if rng.random() < 0.5 else "")


def _draw(d: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill: tuple[int, int, int]) -> None:
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        h = 0.86 * r  # about a circle's area
        d.rectangle([cx - h, cy - h, cx + h, cy + h], fill=fill)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - 1.05 * r, cy + 0.8 * r), (cx + 1.05 * r, cy + 0.8 * r)], fill=fill)
    else:  # cross
        w = 0.33 * r
        d.rectangle([cx - r, cy - w, cx + r, cy + w], fill=fill)
        d.rectangle([cx - w, cy - r, cx + w, cy + r], fill=fill)


def draw_scene(scene: Scene, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One picture (size, size, 3) uint8 of ``scene``, its jitter drawn from ``rng``."""
    big = size * _SUPERSAMPLE
    background = int(rng.integers(0, 45))
    im = Image.new("RGB", (big, big), (background,) * 3)
    fx, fy = _CENTRES[scene.position]
    jitter = rng.uniform(-2, 2, size=2) * size / 32
    radius = (_RADII[scene.size] + rng.uniform(-0.5, 0.5) / 32) * big
    colour = tuple(int(v) for v in np.clip(np.array(ALL_COLOURS[scene.colour]) + rng.integers(-20, 21, size=3), 0, 255))
    cx, cy = (fx * size + jitter[0]) * _SUPERSAMPLE, (fy * size + jitter[1]) * _SUPERSAMPLE
    _draw(ImageDraw.Draw(im), scene.shape, cx, cy, radius, colour)
    a = np.asarray(im.resize((size, size), Image.Resampling.BOX), dtype=np.float32)
    a = a + rng.normal(0.0, 4.0, size=a.shape)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def to_grey(images: Tensor) -> Tensor:
    """RGB pictures (N, 3, H, W) → the same pictures in grey (ITU-R 601 luma in all three channels), same dtype."""
    luma = 0.299 * images[:, 0].float() + 0.587 * images[:, 1].float() + 0.114 * images[:, 2].float()
    return luma.round().to(images.dtype)[:, None].expand(-1, 3, -1, -1).contiguous()


def render(scenes: Sequence[Scene], seed: int, size: int = 32) -> Tensor:
    """Pictures of ``scenes``: uint8 (N, 3, size, size), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    if not scenes:
        return torch.zeros(0, 3, size, size, dtype=torch.uint8)
    return torch.from_numpy(np.stack([draw_scene(s, rng, size) for s in scenes])).permute(0, 3, 1, 2).contiguous()

r"""Image files → model inputs, with the rule that makes any picture look like a Fashion-MNIST image.

    file ──PIL──> image ──grey──> invert if the background is light ──> background to 0 ──> trim
         ──> pad to a centred square ──> resize ──> (1, S, S) float in [0, 1]

Fashion-MNIST pictures are white-ish products on a black background, filling their 28×28 frame on the
longer side. :func:`prepare_image` with ``background="dark"`` (the default, used by
``transmodal classify`` for grey models) applies, in order:

1. EXIF orientation (photos from phones), first frame of animated or multi-page files.
2. Transparency: transparent pixels become a flat background — white when the visible pixels are dark
   on average, black otherwise — so the object stands out either way.
3. Grey: colour images by ITU-R 601 luma (PIL's mode ``L``); 16-bit, 32-bit and float images are
   scaled to [0, 1] (16-bit full scale is 65535).
4. **Inversion rule:** the background level ``b`` is the median of the outermost ring of pixels. If
   ``b > 0.5`` (a light background, as in most photos and drawings) the image is inverted, x ← 1 − x,
   and b ← 1 − b. Then the background is moved to black and the brightest pixel m to white:
   x ← clip((x − b)/(m − b), 0, 1) (skipped when m − b < 0.05, a blank picture).
5. Trim: edge rows and columns whose pixels all stay within 0.1 of the (now black) background are cut
   off (nothing is cut from a blank image); the rest is padded with black to a centred square and
   resized to S × S (antialiased bilinear).

With ``background="keep"`` steps 4–5 keep the grey levels as they are and only pad and resize.
``channels=3`` gives RGB (steps 1–2, then pad and resize), for colour models.

Every failure — a missing file, a directory, a file PIL does not recognise, truncated or corrupt
image data — raises :class:`ImageError` (a ``ValueError``; ``FileNotFoundError`` for a missing path)
naming the file and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

BACKGROUNDS = ("dark", "keep")
TRIM_THRESHOLD = 0.1  # |x − background| above this counts as "object" when trimming


class ImageError(ValueError):
    """An input is not an image that can be read (unknown format, truncated or corrupt data)."""


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open and fully decode an image file (first frame, EXIF orientation applied); fail clearly otherwise."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path} is a directory; give image files (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)")
    try:
        with Image.open(path) as im:
            im.seek(0)
            im.load()
            im = ImageOps.exif_transpose(im) if im.getexif() else im.copy()
    except UnidentifiedImageError as e:
        raise ImageError(
            f"{path} is not an image file PIL can read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...); check the file"
        ) from e
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path} is too large to decode safely ({e}); shrink it first") from e
    except Exception as e:  # decoders raise OSError, SyntaxError, ValueError, EOFError... on damaged data
        raise ImageError(f"{path}: the image data is truncated or corrupt ({e}); re-save or re-copy the file") from e
    if im.width < 1 or im.height < 1:
        raise ImageError(f"{path} has no pixels ({im.width}×{im.height})")
    return im


def _flatten_alpha(im: Image.Image) -> Image.Image:
    """Replace transparency by a flat background that contrasts with the visible pixels (rule 2)."""
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info)
    if not has_alpha:
        return im
    rgba = im.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
    grey = np.asarray(rgba.convert("L"), dtype=np.float64) / 255.0
    visible = alpha.sum()
    dark_object = visible > 0 and (grey * alpha).sum() / visible < 0.5
    back = Image.new("RGBA", rgba.size, (255, 255, 255, 255) if dark_object else (0, 0, 0, 255))
    return Image.alpha_composite(back, rgba).convert("RGB")


def _to_array(im: Image.Image, channels: int) -> np.ndarray:
    """(H, W) grey or (H, W, 3) RGB float64 array in [0, 1] (rules 2–3)."""
    im = _flatten_alpha(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        if im.mode == "F":
            a = a if a.max(initial=0.0) <= 1.0 else a / 255.0
        else:
            a = a / (65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0)
        a = np.clip(np.nan_to_num(a), 0.0, 1.0)
        return a if channels == 1 else np.repeat(a[..., None], 3, axis=-1)
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")  # P, 1, CMYK, YCbCr, LAB, HSV, ...
    im = im.convert("L" if channels == 1 else "RGB")
    return np.asarray(im, dtype=np.float64) / 255.0


def _border_median(a: np.ndarray) -> float:
    ring = np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]]) if min(a.shape[:2]) > 1 else a.reshape(-1)
    return float(np.median(ring))


def _trim(a: np.ndarray) -> np.ndarray:
    """Cut edge rows/columns whose pixels all stay within TRIM_THRESHOLD of the black background."""
    ink = a > TRIM_THRESHOLD
    if not ink.any():
        return a
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _pad_square(t: Tensor, value: float) -> Tensor:
    """(C, H, W) → (C, L, L), L = max(H, W), content centred, padding = ``value``."""
    _, h, w = t.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    return F.pad(t, (left, side - w - left, top, side - h - top), value=value)


def prepare_image(image: Image.Image, size: int = 28, channels: int = 1, background: str = "dark") -> Tensor:
    """A PIL image → (channels, size, size) float32 tensor in [0, 1] by the rule in the module docstring."""
    if background not in BACKGROUNDS:
        raise ValueError(f"background={background!r}: choose 'dark' (invert light backgrounds) or 'keep'")
    if channels not in (1, 3):
        raise ValueError(f"channels={channels}: images are converted to 1 (grey) or 3 (RGB) channels")
    if size < 1:
        raise ValueError(f"size={size} must be at least 1 pixel")
    a = _to_array(image, channels)
    pad_value = 0.0
    if channels == 1 and background == "dark":
        b = _border_median(a)
        if b > 0.5:
            a, b = 1.0 - a, 1.0 - b
        top = float(a.max())
        if top - b >= 0.05:
            a = np.clip((a - b) / (top - b), 0.0, 1.0)
        a = _trim(a)
    elif channels == 1:
        pad_value = _border_median(a)
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    t = t[None] if channels == 1 else t.permute(2, 0, 1)
    t = _pad_square(t, pad_value)
    if t.shape[-1] != size:
        t = F.interpolate(t[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    return t.clamp_(0.0, 1.0).contiguous()


def load_images(paths: Sequence[str | os.PathLike], size: int = 28, channels: int = 1, background: str = "dark") -> Tensor:
    """Read and prepare every file; (N, channels, size, size). The first bad file raises :class:`ImageError`."""
    if not paths:
        raise ValueError("no images given")
    return torch.stack([prepare_image(load_image(p), size, channels, background) for p in paths])


def to_pil(image: Tensor, scale: int = 1) -> Image.Image:
    """(1|3, H, W) or (H, W) float tensor in [0, 1] → PIL image (grey or RGB), optionally enlarged ×scale (nearest)."""
    t = image.detach().float().cpu().clamp(0, 1)
    if t.ndim == 3 and t.shape[0] == 1:
        t = t[0]
    a = (t * 255.0 + 0.5).to(torch.uint8).numpy()
    im = Image.fromarray(a if a.ndim == 2 else np.moveaxis(a, 0, -1))
    if scale != 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    return im

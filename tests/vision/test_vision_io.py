"""Image files → model inputs (the Fashion-MNIST rule), corrupt files, IDX files and the Fashion-MNIST data."""

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from transmodal.vision.datasets import FASHION_MNIST_CLASSES, fashion_mnist_dir, load_fashion_mnist, read_idx
from transmodal.vision.io import ImageError, load_image, load_images, prepare_image
from vision_testlib import fashion_like, write_png


def test_light_background_is_inverted_back_to_the_original(tmp_path):
    a = fashion_like()
    write_png(tmp_path / "negative.png", 255 - a)  # dark object on white, as a photo or drawing would be
    out = prepare_image(load_image(tmp_path / "negative.png"))
    assert out.shape == (1, 28, 28) and out.dtype == torch.float32
    torch.testing.assert_close(out[0], torch.from_numpy(a).float() / 255, rtol=0, atol=1.5 / 255)


def test_dark_background_is_kept(tmp_path):
    a = fashion_like(seed=1)
    write_png(tmp_path / "positive.png", a)
    torch.testing.assert_close(load_images([tmp_path / "positive.png"])[0, 0], torch.from_numpy(a).float() / 255, rtol=0, atol=1.5 / 255)


def test_object_is_trimmed_centred_and_resized(tmp_path):
    canvas = np.full((90, 160), 255, dtype=np.uint8)  # white paper
    canvas[10:50, 100:120] = 0  # a black 40×20 (h×w) rectangle off-centre
    write_png(tmp_path / "rect.png", canvas)
    out = prepare_image(load_image(tmp_path / "rect.png"))[0]
    # after inversion and trimming the rectangle is the whole picture: 40×20 → padded to 40×40 → 28×28,
    # so it spans all rows and the middle 14 columns (7 black columns on each side).
    assert out[:, 9:19].min() > 0.95
    assert out[:, :6].max() < 0.05 and out[:, 22:].max() < 0.05


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "1", "CMYK", "I;16", "I", "F", "YCbCr"])
def test_any_mode_becomes_grey_28x28(tmp_path, mode):
    a = 255 - fashion_like(seed=2, size=40)
    im = Image.fromarray(a)
    if mode == "I;16":
        im = Image.fromarray(a.astype(np.uint16) * 257)
    elif mode in ("I", "F"):
        im = im.convert(mode)
    else:
        im = im.convert(mode)
    out = prepare_image(im)
    assert out.shape == (1, 28, 28)
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert out[0, :, 0].mean() < 0.2 or mode == "1"  # light background → dark after inversion


def test_transparent_background_contrasts_with_the_object():
    rgba = np.zeros((30, 30, 4), dtype=np.uint8)  # fully transparent …
    rgba[5:25, 10:20] = (20, 20, 20, 255)  # … around an opaque near-black shoe
    out = prepare_image(Image.fromarray(rgba, "RGBA"))[0]
    assert out.mean() > 0.35 and out[:, 0].max() < 0.05  # the dark object becomes light on black


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "BMP", "TIFF", "WEBP", "PNG"])
def test_common_formats_and_sizes_load(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(255 - fashion_like(size=57)).convert("RGB").save(path, format=fmt)
    assert load_images([path]).shape == (1, 1, 28, 28)


def test_rgb_models_get_three_channels(tmp_path):
    assert prepare_image(Image.new("RGB", (50, 30), (255, 0, 0)), size=16, channels=3).shape == (3, 16, 16)


def test_corrupt_and_non_images_fail_clearly(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("these are not pixels")
    with pytest.raises(ImageError, match="not an image"):
        load_image(text)
    good = tmp_path / "good.png"
    Image.fromarray(fashion_like()).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ImageError, match="cut.png"):
        load_image(cut)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty.jpg"):
        load_image(empty)
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_image(tmp_path / "missing.png")
    assert issubclass(ImageError, ValueError)


# --- IDX files and Fashion-MNIST ----------------------------------------------------------------------
def _idx(code: int, shape, payload: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def test_read_idx_plain_and_gzipped(tmp_path):
    values = list(range(12))
    raw = _idx(0x08, (3, 2, 2), bytes(values))
    (tmp_path / "a.idx").write_bytes(raw)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(raw))
    for name in ("a.idx", "a.idx.gz"):
        t = read_idx(tmp_path / name)
        assert t.dtype == torch.uint8 and t.shape == (3, 2, 2) and t.flatten().tolist() == values
    big_endian = _idx(0x0C, (3,), struct.pack(">3i", -1, 70000, 5))
    (tmp_path / "b.idx").write_bytes(big_endian)
    assert read_idx(tmp_path / "b.idx").tolist() == [-1, 70000, 5]


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "magic").write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(_idx(0x08, (10,), bytes(5)))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


def test_missing_data_set_says_where_it_looked(tmp_path, monkeypatch):
    import transmodal.vision.datasets as ds

    monkeypatch.setenv("TRANSMODAL_DATA", str(tmp_path))
    monkeypatch.setattr(ds, "DEBIAN_FASHION_MNIST", tmp_path / "debian")
    with pytest.raises(FileNotFoundError, match="TRANSMODAL_DATA"):
        fashion_mnist_dir()


def test_fashion_mnist_test_split():
    try:
        fashion_mnist_dir()
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not available here")
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [1000] * 10  # the test set is balanced
    assert len(FASHION_MNIST_CLASSES) == 10 and FASHION_MNIST_CLASSES[0] == "T-shirt/top" and FASHION_MNIST_CLASSES[9] == "Ankle boot"
    # the images have black backgrounds: corner pixels are almost always 0
    assert (images[:, 0, 0] == 0).float().mean() > 0.95

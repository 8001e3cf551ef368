"""The shipped fashion-pixel-gpt: present, the `complete-image` default, and a good model of test images."""

import math

from PIL import Image

from transmodal import cli
from transmodal.commands.complete_image import DEFAULT_MODEL, _load
from transmodal.hub import shipped_models
from transmodal.recipes.pixel_gpt import evaluate_bpd, quantize_images
from transmodal.vision.datasets import FASHION_MNIST_CLASSES
from vision_testlib import fashion_test_or_skip


def test_pixel_gpt_is_shipped_and_is_the_complete_image_default():
    assert DEFAULT_MODEL == "fashion-pixel-gpt" and "fashion-pixel-gpt" in shipped_models()
    model, names, background = _load("fashion-pixel-gpt")
    assert names == list(FASHION_MNIST_CLASSES) and background == "dark"
    assert model.config.num_classes == 10 and len(model.config.palette) == model.config.levels


def test_shipped_pixel_gpt_bits_per_dimension_on_test_images():
    images, labels = fashion_test_or_skip()
    model, _, _ = _load("fashion-pixel-gpt")
    pixels = quantize_images(images[:200], list(model.config.palette))
    no_class = evaluate_bpd(model, pixels, None)
    with_class = evaluate_bpd(model, pixels, labels[:200])
    # Shipped at 0.967 bits per pixel (no class) on all 10,000 test images; guessing uniformly among the levels costs log2(16) = 4.
    assert no_class < 1.1, no_class  # 0.921 on these 200
    assert with_class < no_class  # knowing the class helps
    assert math.log2(model.config.levels) == 4.0


def test_complete_image_with_the_shipped_model_writes_a_grid(tmp_path):
    images, _ = fashion_test_or_skip()
    src, out = tmp_path / "boot.png", tmp_path / "grid.png"
    Image.fromarray(images[0].numpy()).save(src)
    assert cli.main(["complete-image", str(src), "--keep-rows", "20", "--samples", "2", "--out", str(out), "--seed", "1"]) == 0
    grid = Image.open(out)
    assert grid.width > 3 * 28 and grid.height >= 28  # the original and two completions side by side

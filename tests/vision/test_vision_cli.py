"""The `transmodal classify` and `transmodal complete-image` contracts, on tiny checkpoints made here."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import transmodal.cli as cli
from transmodal.vision.datasets import FASHION_MNIST_CLASSES
from transmodal.vision.io import load_images
from vision_testlib import fashion_like, save_tiny_pixel_model, save_tiny_vit, tiny_vit, write_png

OURS = ["transmodal.commands.classify", "transmodal.commands.complete_image"]


@pytest.fixture(autouse=True)
def _commands(monkeypatch):
    # Until commands/__init__.py lists these modules, add them for the tests (no-op once it does).
    monkeypatch.setattr(cli, "MODULES", list(cli.MODULES) + [m for m in OURS if m not in cli.MODULES])


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    return save_tiny_vit(tmp_path_factory.mktemp("vit") / "tiny")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    write_png(d / "negative.png", 255 - fashion_like(0, 60))  # light background
    Image.fromarray(fashion_like(1)).convert("RGB").save(d / "photo.jpg")
    rgba = np.zeros((40, 30, 4), dtype=np.uint8)
    rgba[5:35, 5:25] = (30, 60, 90, 255)
    Image.fromarray(rgba, "RGBA").save(d / "cutout.png")
    Image.fromarray(fashion_like(2, 13)).convert("I;16").save(d / "small16.png")
    return [d / "negative.png", d / "photo.jpg", d / "cutout.png", d / "small16.png"]


def _lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_one_json_object_per_image_in_order(vit_dir, images, capsys):
    assert cli.main(["classify", "--model", str(vit_dir), *map(str, images)]) == 0
    rows = _lines(capsys)
    assert [r["path"] for r in rows] == [str(p) for p in images]
    for r in rows:
        assert set(r) == {"path", "label", "confidence"}
        assert r["label"] in FASHION_MNIST_CLASSES
        assert 0.1 <= r["confidence"] <= 1.0  # the top class of 10 has at least 1/10
    # the same answers as the model itself on the prepared images
    probs = torch.softmax(tiny_vit()(load_images(images)), -1)
    assert [r["label"] for r in rows] == [FASHION_MNIST_CLASSES[i] for i in probs.argmax(-1).tolist()]
    np.testing.assert_allclose([r["confidence"] for r in rows], probs.max(-1).values.tolist(), atol=1e-4)


def test_images_one_at_a_time_give_the_same_lines(vit_dir, images, capsys):
    cli.main(["classify", "--model", str(vit_dir), "--batch-size", "3", *map(str, images)])
    together = _lines(capsys)
    for path, row in zip(images, together):
        cli.main(["classify", "--model", str(vit_dir), str(path)])
        assert _lines(capsys) == [row]


def test_plot_attention_writes_a_png(vit_dir, images, tmp_path, capsys):
    png = tmp_path / "rollout.png"
    assert cli.main(["classify", "--model", str(vit_dir), "--plot-attention", str(png), *map(str, images[:2])]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(_lines(capsys)) == 2


def test_non_images_fail_clearly_before_any_output(vit_dir, images, tmp_path, capsys):
    bad = tmp_path / "report.pdf"
    bad.write_bytes(b"%PDF-1.4 not an image")
    assert cli.main(["classify", "--model", str(vit_dir), str(images[0]), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(bad) in captured.err and "not an image" in captured.err and "Traceback" not in captured.err
    assert cli.main(["classify", "--model", str(vit_dir), str(tmp_path / "nope.png")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_classify_uses_the_models_test_time_augmentation_unless_told_not_to(tmp_path, images, capsys):
    from transmodal.models.vit import predict

    d = save_tiny_vit(tmp_path / "tta")
    meta = json.loads((d / "labels.json").read_text())
    (d / "labels.json").write_text(json.dumps({**meta, "tta": {"shift_by": 1, "flip": True}}))
    x = load_images(images)
    assert cli.main(["classify", "--model", str(d), *map(str, images)]) == 0
    with_tta = predict(tiny_vit(), x, tta={"shift_by": 1, "flip": True})
    np.testing.assert_allclose([r["confidence"] for r in _lines(capsys)], with_tta.max(-1).values.tolist(), atol=1e-4)
    assert cli.main(["classify", "--model", str(d), "--no-tta", *map(str, images)]) == 0
    plain = predict(tiny_vit(), x)
    np.testing.assert_allclose([r["confidence"] for r in _lines(capsys)], plain.max(-1).values.tolist(), atol=1e-4)
    assert not torch.allclose(with_tta, plain, atol=1e-4)
    (d / "labels.json").write_text(json.dumps({**meta, "tta": {"shift": 1}}))
    assert cli.main(["classify", "--model", str(d), str(images[0])]) == 2
    assert "'tta' must be null or an object" in capsys.readouterr().err


def test_wrong_kind_of_model_fails_clearly(tmp_path, images, capsys):
    pixel = save_tiny_pixel_model(tmp_path / "pixel")
    assert cli.main(["classify", "--model", str(pixel), str(images[0])]) == 2
    assert "not an image classifier" in capsys.readouterr().err
    assert cli.main(["classify", "--model", "no-such-model", str(images[0])]) == 2
    assert "no model 'no-such-model'" in capsys.readouterr().err


# --- complete-image -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pixel_dir(tmp_path_factory):
    return save_tiny_pixel_model(tmp_path_factory.mktemp("pixel") / "tiny", side=12)


def test_completion_grid_keeps_the_top_rows(pixel_dir, images, tmp_path, capsys):
    out = tmp_path / "grid.png"
    argv = ["complete-image", "--model", str(pixel_dir), str(images[0]), "--keep-rows", "5", "--samples", "3",
            "--out", str(out), "--top-k", "4", "--temperature", "0.9", "--seed", "1"]
    assert cli.main(argv) == 0
    grid = np.asarray(Image.open(out).convert("RGB")).astype(int)
    scale, gap, side = 4, 4, 12
    assert grid.shape == (side * scale + 2 * gap, 4 * side * scale + 5 * gap, 3)  # original + 3 samples

    def cell(j):
        x0 = gap + j * (side * scale + gap)
        return grid[gap : gap + side * scale, x0 : x0 + side * scale]

    kept = 5 * scale  # pixel rows above the red line
    for j in (1, 2, 3):
        assert np.array_equal(cell(j)[:kept], cell(0)[:kept])
    assert any(not np.array_equal(cell(j)[kept + 2 :], cell(0)[kept + 2 :]) for j in (1, 2, 3))
    line = cell(0)[kept]
    assert (line[:, 0] > 200).all() and (line[:, 1] < 80).all()  # the red mark
    assert "grid written" in capsys.readouterr().err


def test_unconditional_and_class_conditional_drawing(pixel_dir, tmp_path):
    assert cli.main(["complete-image", "--model", str(pixel_dir), "--samples", "2", "--out", str(tmp_path / "u.png")]) == 0
    assert cli.main(["complete-image", "--model", str(pixel_dir), "--samples", "2", "--label", "ankle boot",
                     "--out", str(tmp_path / "c.png")]) == 0
    assert Image.open(tmp_path / "c.png").size == (2 * 48 + 3 * 4, 48 + 2 * 4)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--keep-rows", "12"], "--keep-rows 12"),
        (["--label", "Hat"], "not a class"),
        (["--samples", "0"], "--samples"),
    ],
)
def test_bad_completion_options_fail_clearly(pixel_dir, images, tmp_path, capsys, extra, message):
    argv = ["complete-image", "--model", str(pixel_dir), str(images[0]), "--out", str(tmp_path / "x.png"), *extra]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_completion_of_a_non_image_fails_clearly(pixel_dir, tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_text("text")
    assert cli.main(["complete-image", "--model", str(pixel_dir), str(bad), "--out", str(tmp_path / "g.png")]) == 2
    assert "not an image" in capsys.readouterr().err

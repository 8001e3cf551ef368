"""The two vision recipes end to end on a sliver of Fashion-MNIST (micro models, a few steps)."""

import json

import pytest
import torch

from transmodal.recipes.common import split_train_valid
from transmodal.recipes.fashion_vit import FashionViTRecipe, activation_bytes, epoch_batches
from transmodal.recipes.fashion_vit import run as run_vit
from transmodal.recipes.pixel_gpt import PixelGPTRecipe
from transmodal.recipes.pixel_gpt import run as run_pixel
from transmodal.train import load_model
from transmodal.vision.datasets import fashion_mnist_dir


@pytest.fixture(scope="module")
def data():
    try:
        fashion_mnist_dir()
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not available here")


def test_fashion_vit_recipe_end_to_end(data, tmp_path):
    out = tmp_path / "vit"
    report = run_vit(FashionViTRecipe(out=str(out), model="micro", limit=192, batch_size=64, max_steps=3, valid_size=100,
                                      test_limit=200, threads=1, progress=False))
    assert report["tokens_per_image"] == 17 and report["images"] == {"train": 192, "valid": 100, "test": 200}
    assert 0.0 <= report["test"]["accuracy"] <= 1.0 and len(report["test"]["per_class"]) == 10
    matrix = torch.tensor(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and int(matrix.sum()) == 200
    assert abs(float(matrix.diag().sum()) / 200 - report["test"]["accuracy"]) < 1e-4
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "report.json").read_text())["parameters"] == report["parameters"]
    model = load_model(out / "best")
    labels = json.loads((out / "best" / "labels.json").read_text())
    assert model.arch == "vit" and labels["labels"][9] == "Ankle boot"
    assert labels["tta"] == report["test"]["tta"] == {"shift_by": 1, "flip": True}
    assert 0.0 <= report["test"]["accuracy_plain"] <= 1.0


def test_epochs_are_reproducible_and_augmented(data):
    images = torch.randint(0, 256, (10, 28, 28), dtype=torch.uint8)
    labels = torch.arange(10)
    recipe = FashionViTRecipe(batch_size=4, mix_prob=0.0)  # class labels (mixing, on by default, is tested below)
    a, b = list(epoch_batches(images, labels, recipe, 3)), list(epoch_batches(images, labels, recipe, 3))
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))
    assert sorted(torch.cat([y for _, y in a]).tolist()) == list(range(10))  # every image once per epoch
    plain = FashionViTRecipe(batch_size=4, crop_padding=0, hflip=False, erasing=0.0, mix_prob=0.0)
    for x, y in epoch_batches(images, labels, plain, 3):
        assert torch.equal(x[:, 0], images[y].float() / 255)
    train, valid = split_train_valid(100, 10)
    assert len(set(train.tolist()) | set(valid.tolist())) == 100 and len(valid) == 10


def test_mixed_batches_carry_label_distributions_and_train(data, tmp_path):
    images = torch.randint(0, 256, (16, 28, 28), dtype=torch.uint8)
    labels = torch.arange(16) % 10
    mixed = FashionViTRecipe(batch_size=8, mix_prob=1.0)
    batches = list(epoch_batches(images, labels, mixed, 0))
    for x, y in batches:
        assert y.shape == (8, 10) and torch.allclose(y.sum(1), torch.ones(8))
        assert ((y > 0).sum(1) <= 2).all()  # two images at most in each picture
    report = run_vit(FashionViTRecipe(out=str(tmp_path), model="micro", limit=64, batch_size=32, max_steps=2, valid_size=32,
                                      test_limit=32, mix_prob=1.0, threads=1, progress=False))
    assert 0.0 <= report["test"]["accuracy"] <= 1.0 and report["recipe"]["mix_prob"] == 1.0
    with pytest.raises(ValueError, match="mix_prob=2"):
        run_vit(FashionViTRecipe(out=str(tmp_path / "bad"), mix_prob=2.0))


def test_activation_memory_grows_with_the_number_of_tokens():
    from transmodal.models.vit import VisionTransformer, config

    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    small = activation_bytes(VisionTransformer(config("micro", patch_size=7)), x, y)  # 16 tokens
    large = activation_bytes(VisionTransformer(config("micro", patch_size=4)), x, y)  # 49 tokens
    assert 2 * small < large


def test_pixel_gpt_recipe_end_to_end(data, tmp_path):
    out = tmp_path / "pixel"
    report = run_pixel(PixelGPTRecipe(out=str(out), model="micro", levels=8, palette="kmeans", limit=64, batch_size=32,
                                      max_steps=2, valid_size=32, eval_every=2, test_limit=32, samples=2, threads=1, progress=False))
    test = report["test"]
    assert test["bpd_uniform_guess"] == 3.0 and 0 < test["bpd_no_class"] < 4.0 and 0 < test["bpd_true_class"] < 4.0
    for png in ("samples_unconditional.png", "samples_by_class.png", "completions.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    model = load_model(out / "best")
    assert model.arch == "pixel_gpt" and len(model.config.palette) == 8


def test_comparison_table(data, tmp_path):
    report = run_vit(FashionViTRecipe(out=str(tmp_path), compare=True, compare_models="micro", limit=64, batch_size=32,
                                      max_steps=1, valid_size=0, test_limit=50, threads=1, progress=False))
    (row,) = report["test"]["comparison"]
    assert row["model"] == "micro" and row["tokens_per_image"] == 17 and row["activation_mib_per_batch"] > 0
    table = (tmp_path / "comparison.md").read_text()
    assert "| micro | patch 7 | 17 |" in table
    with pytest.raises(ValueError, match="unknown ViT configuration"):
        run_vit(FashionViTRecipe(out=str(tmp_path), compare=True, compare_models="micro,vit-giant"))


def test_recipe_options_parse_from_the_command_line(monkeypatch):
    import transmodal.cli as cli
    from transmodal.recipes import RECIPES

    monkeypatch.setitem(RECIPES, "fashion-vit", ("transmodal.recipes.fashion_vit", "FashionViTRecipe", "ViT on Fashion-MNIST"))
    monkeypatch.setitem(RECIPES, "pixel-gpt", ("transmodal.recipes.pixel_gpt", "PixelGPTRecipe", "pixel model"))
    args = cli.build_parser().parse_args(["train", "fashion-vit", "--epochs", "3", "--no-hflip", "--warmup-epochs", "0.5",
                                          "--compare-models", "fashion-p4,fashion-p7"])
    assert (args.epochs, args.hflip, args.warmup_epochs, args.compare_models) == (3, False, 0.5, "fashion-p4,fashion-p7")
    args = cli.build_parser().parse_args(["train", "pixel-gpt", "--levels", "8", "--palette", "kmeans", "--top-k", "5"])
    assert (args.levels, args.palette, args.top_k) == (8, "kmeans", 5)


def test_init_starts_from_a_saved_model_and_refuses_a_wrong_one(data, tmp_path):
    first = run_vit(FashionViTRecipe(out=str(tmp_path / "a"), model="micro", limit=64, batch_size=32, max_steps=1,
                                     valid_size=50, test_limit=50, threads=1, progress=False, tta_shift=-1))
    assert first["test"]["tta"] is None and first["test"]["accuracy"] == first["test"]["accuracy_plain"]
    saved = load_model(tmp_path / "a" / "best")
    # one step at a vanishing learning rate after init: the model kept is the saved one, weight for weight
    again = FashionViTRecipe(out=str(tmp_path / "b"), model="micro", init=str(tmp_path / "a" / "best"), limit=64,
                             batch_size=32, max_steps=1, lr=1e-12, valid_size=50, test_limit=50, threads=1, progress=False,
                             tta_shift=-1)
    run_vit(again)
    for (name, a), b in zip(saved.state_dict().items(), load_model(tmp_path / "b" / "best").state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    with pytest.raises(ValueError, match="not a saved model"):
        run_vit(FashionViTRecipe(out=str(tmp_path / "c"), model="micro", init=str(tmp_path / "nothing")))
    with pytest.raises(ValueError, match="do not fit this model"):
        run_vit(FashionViTRecipe(out=str(tmp_path / "d"), model="fashion-p7", init=str(tmp_path / "a" / "best"), limit=64,
                                 batch_size=32, max_steps=1, valid_size=50, test_limit=50, threads=1, progress=False))

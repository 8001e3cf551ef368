"""Patches and position grids, checked against explicit unfold / convolution / hand-computed interpolation."""

import pytest
import torch
import torch.nn.functional as F

from transmodal.models.vit import VisionTransformer, config
from transmodal.vision.patching import grid_size, interpolate_grid, patchify, unpatchify


def test_patchify_matches_unfold_and_round_trips():
    x = torch.randn(2, 3, 8, 12)
    ref = F.unfold(x, kernel_size=4, stride=4).transpose(1, 2)  # (B, N, C·P·P), raster order
    torch.testing.assert_close(patchify(x, 4), ref, rtol=0, atol=0)
    torch.testing.assert_close(unpatchify(patchify(x, 4), 4, (2, 3), 3), x, rtol=0, atol=0)


def test_patchify_rejects_partial_patches():
    with pytest.raises(ValueError, match="whole number"):
        patchify(torch.zeros(1, 1, 10, 8), 4)


@pytest.mark.parametrize("patch,chans", [(4, 1), (7, 1), (2, 3)])
def test_patch_embedding_equals_unfold_matmul_and_strided_conv(patch, chans):
    torch.manual_seed(patch)
    model = VisionTransformer(config("micro", patch_size=patch, in_chans=chans, image_size=28, pixel_mean=[0.0], pixel_std=[1.0]))
    x = torch.randn(3, chans, 28, 28)
    tokens, grid = model.tokenizer(x)
    w, b = model.tokenizer.proj.weight, model.tokenizer.proj.bias  # (D, C·P·P), (D,)
    explicit = F.unfold(x, kernel_size=patch, stride=patch).transpose(1, 2) @ w.T + b
    torch.testing.assert_close(tokens, explicit, rtol=1e-5, atol=1e-5)
    conv = F.conv2d(x, w.view(-1, chans, patch, patch), b, stride=patch).flatten(2).transpose(1, 2)
    torch.testing.assert_close(tokens, conv, rtol=1e-4, atol=1e-5)
    assert grid == (28 // patch, 28 // patch)


def test_pixel_tokens_are_one_linear_map_per_pixel():
    torch.manual_seed(0)
    model = VisionTransformer(config("micro", tokens="pixel", patch_size=1, in_chans=3, image_size=6))
    x = torch.randn(2, 3, 6, 6)
    tokens, grid = model.tokenizer(x)
    w, b = model.tokenizer.proj.weight, model.tokenizer.proj.bias
    expected = torch.einsum("bchw,dc->bhwd", x, w).reshape(2, 36, -1) + b
    torch.testing.assert_close(tokens, expected, rtol=1e-5, atol=1e-5)
    assert grid == (6, 6) and model.num_tokens() == 37


def test_conv_stem_gives_the_patch_grid():
    model = VisionTransformer(config("fashion-conv", d_model=32, n_layers=1, n_heads=2, d_ff=32, stem_channels=[4, 8, 8]))
    tokens, grid = model.tokenizer(torch.rand(2, 1, 28, 28))
    assert grid == (7, 7) and tokens.shape == (2, 49, 32)
    with pytest.raises(ValueError, match="multiply"):
        config("fashion-conv", stem_strides=[2, 2, 2])


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_same_grid_is_identity(mode):
    table = torch.randn(20, 5)
    assert torch.equal(interpolate_grid(table, (4, 5), (4, 5), mode), table)


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
@pytest.mark.parametrize("old,new", [((4, 4), (7, 7)), ((3, 5), (5, 9)), ((3, 3), (9, 9))])
def test_upsampled_grid_keeps_original_values_at_original_positions(mode, old, new):
    torch.manual_seed(1)
    table = torch.randn(old[0] * old[1], 6)
    out = interpolate_grid(table, old, new, mode).view(new[0], new[1], 6)
    step_r, step_c = (new[0] - 1) // (old[0] - 1), (new[1] - 1) // (old[1] - 1)  # corners aligned: old i ↦ new k·i
    kept = out[::step_r, ::step_c]
    torch.testing.assert_close(kept, table.view(old[0], old[1], 6), rtol=0, atol=1e-5)


def test_bilinear_midpoints_are_averages():
    table = torch.tensor([[0.0], [2.0], [4.0], [10.0]])  # 2×2 grid: [[0, 2], [4, 10]]
    out = interpolate_grid(table, (2, 2), (3, 3), "bilinear").view(3, 3)
    expected = torch.tensor([[0.0, 1.0, 2.0], [2.0, 4.0, 6.0], [4.0, 7.0, 10.0]])
    torch.testing.assert_close(out, expected)


def test_model_resamples_positions_for_another_image_size():
    torch.manual_seed(0)
    model = VisionTransformer(config("micro")).eval()  # 28 px, patch 7 → 4×4 grid (+ [class])
    table = model.pos.table.detach()
    assert model._positions((4, 4)) is model.pos.table  # same size: the table itself
    big = model._positions((7, 7)).detach()  # 49 px images
    assert big.shape == (1 + 49, 32)
    torch.testing.assert_close(big[0], table[0])  # [class] position untouched
    torch.testing.assert_close(big[1:].view(7, 7, 32)[::2, ::2], table[1:].view(4, 4, 32), rtol=0, atol=1e-5)
    assert model(torch.rand(2, 1, 49, 49)).shape == (2, 10)


def test_resize_image_is_permanent_and_survives_a_checkpoint(tmp_path):
    from transmodal.train import load_model, save_model

    torch.manual_seed(0)
    model = VisionTransformer(config("micro")).eval()
    x = torch.rand(2, 1, 49, 49)
    on_the_fly = model(x)
    model.resize_image(49)
    assert model.config.image_size == 49 and model.pos.table.shape[0] == 50
    torch.testing.assert_close(model(x), on_the_fly)
    save_model(tmp_path / "m", model)
    torch.testing.assert_close(load_model(tmp_path / "m")(x), on_the_fly)


def test_grid_size_names_the_problem():
    assert grid_size(28, 28, 4) == (7, 7)
    with pytest.raises(ValueError, match="multiple of 5"):
        grid_size(28, 28, 5)

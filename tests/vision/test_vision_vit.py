"""The Vision Transformer: sizes against the paper, batching, pooling, attention weights and rollout, checkpoints."""

import math

import pytest
import torch
import torch.nn.functional as F

from transmodal.models import build
from transmodal.models.vit import VisionTransformer, attention_rollout, config, count_parameters, predict
from vision_testlib import tiny_vit


def expected_params(p, c, d, layers, f, k, tokens):
    """Patch projection + [class] + positions + blocks + final LayerNorm + linear head, counted piece by piece."""
    block = (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (2 * d) + (d * f + f) + (f * d + d)
    return (p * p * c * d + d) + d + tokens * d + layers * block + 2 * d + (d * k + k)


@pytest.mark.parametrize(
    "name, layers, d, mlp, heads, patch, paper",
    [
        ("base-16", 12, 768, 3072, 12, 16, 86e6),
        ("large-16", 24, 1024, 4096, 16, 16, 307e6),
        ("huge-14", 32, 1280, 5120, 16, 14, 632e6),
    ],
)
def test_named_configurations_match_the_paper(name, layers, d, mlp, heads, patch, paper):
    cfg = config(name)
    assert (cfg.n_layers, cfg.d_model, cfg.d_ff, cfg.n_heads, cfg.patch_size) == (layers, d, mlp, heads, patch)
    assert (cfg.image_size, cfg.in_chans, cfg.num_classes, cfg.pool, cfg.head_hidden) == (224, 3, 1000, "cls", 0)
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        model = VisionTransformer(cfg)
    n = count_parameters(model)
    assert n == expected_params(patch, 3, d, layers, mlp, 1000, (224 // patch) ** 2 + 1)
    assert abs(n - paper) / paper < 0.015  # the paper's Table 1 rounds to millions


def test_the_base_model_matches_the_widely_quoted_exact_count():
    with torch.device("meta"):
        assert count_parameters(VisionTransformer(config("base-16"))) == 86_567_656  # ViT-B/16, 1000 classes


def test_mlp_head_adds_one_hidden_layer():
    lin, mlp = VisionTransformer(config("micro")), VisionTransformer(config("micro", head_hidden=48))
    assert count_parameters(mlp) - count_parameters(lin) == (32 * 48 + 48) + (48 * 10 + 10) - (32 * 10 + 10)
    assert isinstance(mlp.head[1], torch.nn.Tanh)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(),  # patch 7, [class] token
        dict(pool="mean"),
        dict(tokens="pixel", patch_size=1, image_size=8),
        dict(tokens="conv", patch_size=4, stem_channels=[4, 8], stem_strides=[2, 2]),
    ],
)
def test_a_batch_classifies_like_its_images_one_by_one(overrides):
    model = tiny_vit(**overrides)
    size = model.config.image_size
    x = torch.rand(5, 1, size, size, generator=torch.Generator().manual_seed(3))
    together = model(x)
    alone = torch.cat([model(x[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)
    assert torch.equal(together.argmax(-1), alone.argmax(-1))
    assert len(set(together.argmax(-1).tolist())) > 1 or together.std(0).max() > 1e-3  # not a constant function


def test_forward_features_and_head_split():
    model = tiny_vit()
    x = torch.rand(2, 1, 28, 28)
    z = model.forward_features(x)
    assert z.shape == (2, 17, 32)
    torch.testing.assert_close(model.forward_head(z), model(x))
    torch.testing.assert_close(model.forward_head(z, pre_logits=True), z[:, 0])
    mean_model = tiny_vit(pool="mean")
    zm = mean_model.forward_features(x)
    assert zm.shape == (2, 16, 32)
    torch.testing.assert_close(mean_model.forward_head(zm, pre_logits=True), zm.mean(1))


def test_attention_weights_are_the_explicit_softmax():
    model = tiny_vit()
    x = torch.rand(2, 1, 28, 28)
    weights = model.attention_maps(x)
    assert len(weights) == 2 and weights[0].shape == (2, 2, 17, 17)
    # first block, by hand: LN → fused qkv → per-head softmax(q kᵀ/√d)
    z0, _ = model.embed(x)
    blk = model.blocks[0]
    h = F.layer_norm(z0, (32,), blk.res_attn.norm.weight, blk.res_attn.norm.bias, eps=1e-6)
    q, k, _ = (h @ blk.attn.qkv_proj.weight.T + blk.attn.qkv_proj.bias).split(32, dim=-1)
    q, k = (t.view(2, 17, 2, 16).transpose(1, 2) for t in (q, k))
    expected = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(16), dim=-1)
    torch.testing.assert_close(weights[0], expected, rtol=1e-4, atol=1e-6)
    # asking for the weights does not change the result
    torch.testing.assert_close(model._encode(x, need_weights=True)[0], model.forward_features(x), rtol=1e-5, atol=1e-5)


def test_attention_rollout_composes_layers_with_the_residual():
    torch.manual_seed(0)
    a1 = torch.softmax(torch.randn(1, 3, 4, 4), -1)
    a2 = torch.softmax(torch.randn(1, 3, 4, 4), -1)
    eye = torch.eye(4)
    r1 = 0.5 * a1[0].mean(0) + 0.5 * eye
    r2 = 0.5 * a2[0].mean(0) + 0.5 * eye
    torch.testing.assert_close(attention_rollout([a1, a2])[0], r2 @ r1)  # rows already sum to 1
    model = tiny_vit()
    logits, rel = model.relevance(torch.rand(3, 1, 28, 28))
    assert rel.shape == (3, 4, 4) and logits.shape == (3, 10)
    torch.testing.assert_close(rel.sum((1, 2)), torch.ones(3))


def test_checkpoint_round_trip_through_the_registry(tmp_path):
    from transmodal.train import load_model, save_model

    model = tiny_vit(tokens="conv", patch_size=4, stem_channels=[4, 8], pool="mean")
    save_model(tmp_path / "vit", model)
    again = load_model(tmp_path / "vit")
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(again(x), model(x))
    assert isinstance(build("vit", {"image_size": 28, "in_chans": 1, "patch_size": 7, "d_model": 16, "n_layers": 1, "n_heads": 2}), VisionTransformer)


def test_no_weight_decay_skips_positions_class_token_and_vectors():
    names = VisionTransformer(config("micro")).no_weight_decay()
    assert {"pos.table", "cls_token", "norm.weight", "head.bias"} <= names
    assert "head.weight" not in names and "blocks.0.attn.qkv_proj.weight" not in names


def test_the_optimizer_spares_what_the_model_exempts_and_decays_the_rest():
    from transmodal.train import TrainConfig, build_optimizer

    model = VisionTransformer(config("micro"))
    opt = build_optimizer(model, TrainConfig(out_dir="unused", max_steps=1, weight_decay=0.05))
    by_id = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert len(by_id) == len(named)
    assert by_id[id(named["pos.table"])] == 0.0 and named["pos.table"].ndim >= 2  # exempt by name, not by shape
    assert by_id[id(named["cls_token"])] == 0.0 and by_id[id(named["head.bias"])] == 0.0
    assert by_id[id(named["head.weight"])] == 0.05 and by_id[id(named["blocks.0.attn.qkv_proj.weight"])] == 0.05


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(tokens="pixel", patch_size=4), "patch_size=1"),
        (dict(tokens="words"), "tokens="),
        (dict(pool="max"), "pool="),
        (dict(image_size=30), "multiple"),
        (dict(tokens="conv", patch_size=4), "stem_channels"),
    ],
)
def test_bad_configurations_are_refused_clearly(overrides, message):
    with pytest.raises(ValueError, match=message):
        config("micro", **overrides)


def test_wrong_image_shape_is_refused_clearly():
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        tiny_vit()(torch.rand(2, 3, 28, 28))


def test_drop_path_only_in_training_and_keeps_the_mean():
    from transmodal.models.vit import DropPath

    dp = DropPath(0.5)
    x = torch.ones(4000, 3)
    assert torch.equal(dp.eval()(x), x)
    y = dp.train()(x)
    rows = y[:, 0]
    assert set(rows.unique().tolist()) <= {0.0, 2.0}
    assert abs(rows.mean().item() - 1.0) < 0.1
    assert torch.equal(y[:, 0], y[:, 1])  # whole samples are dropped, not single values


def test_predict_with_tta_is_the_mean_probability_over_the_views():
    from transmodal.vision.augment import tta_views

    model = tiny_vit(pool="mean")
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    tta = {"shift_by": 1, "flip": True}
    got = predict(model, x, batch_size=2, tta=tta)
    with torch.no_grad():
        expected = torch.stack([F.softmax(model(v), -1) for v in tta_views(x, **tta)]).mean(0)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(got, predict(model, x), atol=1e-4)  # the views do change the answer
    torch.testing.assert_close(got.sum(-1), torch.ones(5))

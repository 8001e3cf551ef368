"""Batch augmentation: each output is a window of the padded image / a mirror / one erased rectangle / a mix of two images."""

import pytest
import torch
import torch.nn.functional as F

from transmodal.vision.augment import random_crop, random_erasing, random_hflip, shift, tta_views


def test_random_crop_is_a_window_of_the_padded_image():
    x = torch.randperm(8 * 2 * 6 * 5).float().view(8, 2, 6, 5)  # distinct values: a window matches at one offset only
    out = random_crop(x, 2, torch.Generator().manual_seed(0))
    padded = F.pad(x, (2, 2, 2, 2))
    offsets = set()
    for i in range(8):
        hits = [(t, l) for t in range(5) for l in range(5) if torch.equal(out[i], padded[i, :, t : t + 6, l : l + 5])]
        assert len(hits) == 1
        offsets.add(hits[0])
    assert len(offsets) > 1  # images get their own offsets
    assert torch.equal(random_crop(x, 0), x)


def test_random_crop_is_reproducible_with_a_seed():
    x = torch.rand(4, 1, 8, 8)
    a = random_crop(x, 3, torch.Generator().manual_seed(5))
    b = random_crop(x, 3, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_hflip_all_or_nothing():
    x = torch.rand(3, 1, 4, 5)
    assert torch.equal(random_hflip(x, 1.0), x[..., torch.arange(4, -1, -1)])
    assert torch.equal(random_hflip(x, 0.0), x)


def test_random_erasing_changes_one_rectangle_per_image():
    x = torch.full((16, 1, 20, 20), -1.0)  # outside [0, 1]: erased pixels are always different
    out = random_erasing(x, p=1.0, generator=torch.Generator().manual_seed(1))
    for i in range(16):
        changed = out[i, 0] != -1.0
        rows, cols = changed.any(1).nonzero().flatten(), changed.any(0).nonzero().flatten()
        assert rows.numel() and cols.numel()
        box = changed[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        assert bool(box.all()) and int(changed.sum()) == box.numel()  # exactly a filled rectangle
        assert 0.0 <= float(out[i].max()) <= 1.0
    assert torch.equal(random_erasing(x, p=0.0), x)


def test_mixup_is_the_convex_combination_with_the_reversed_batch():
    from transmodal.vision.augment import mixup

    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 6, 6, generator=g)
    y = torch.tensor([0, 1, 2, 3])
    mixed, soft, lam = mixup(x, y, 5, alpha=0.8, generator=g)
    assert 0.0 < lam < 1.0
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * x.flip(0))
    assert soft.shape == (4, 5)
    torch.testing.assert_close(soft.sum(1), torch.ones(4))
    assert float(soft[0, 0]) == pytest.approx(lam) and float(soft[0, 3]) == pytest.approx(1 - lam)


def test_cutmix_pastes_one_box_and_weighs_labels_by_its_area():
    from transmodal.vision.augment import cutmix

    x = torch.stack([torch.full((1, 10, 10), float(i)) for i in range(3)])  # image i is all i
    y = torch.tensor([0, 1, 2])
    for seed in range(20):
        out, soft, lam = cutmix(x, y, 3, alpha=1.0, generator=torch.Generator().manual_seed(seed))
        pasted = (out[0] == 2.0).float().mean()  # image 0's partner is image 2
        assert float(pasted) == pytest.approx(1 - lam)
        assert torch.equal(out[1], x[1])  # the middle image is its own partner
        ys, xs = torch.nonzero(out[0, 0] == 2.0, as_tuple=True)
        if ys.numel():  # the pasted region is one rectangle
            assert ys.numel() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        assert float(soft[0, 0]) == pytest.approx(lam) and float(soft[0, 2]) == pytest.approx(1 - lam)


def test_mix_batch_off_gives_one_hot_labels_and_is_reproducible():
    from transmodal.vision.augment import mix_batch

    x, y = torch.rand(8, 1, 4, 4), torch.arange(8) % 3
    same, soft = mix_batch(x, y, 3, p=0.0)
    assert same is x and torch.equal(soft, torch.nn.functional.one_hot(y, 3).float())
    a = mix_batch(x, y, 3, p=1.0, generator=torch.Generator().manual_seed(3))
    b = mix_batch(x, y, 3, p=1.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], x)
    with pytest.raises(ValueError, match="must lie in"):
        mix_batch(x, y, 3, p=1.5)


def test_shift_moves_content_and_fills_the_border():
    x = torch.arange(1, 13).float().view(1, 1, 3, 4)
    right = shift(x, 1, 0)
    assert torch.equal(right[..., :, 1:], x[..., :, :-1]) and torch.equal(right[..., :, 0], torch.zeros(1, 1, 3))
    up = shift(x, 0, -1, fill=-1.0)
    assert torch.equal(up[..., :-1, :], x[..., 1:, :]) and torch.equal(up[..., -1, :], torch.full((1, 1, 4), -1.0))
    assert torch.equal(shift(x, 0, 0), x) and torch.equal(shift(x, 5, 0), torch.zeros_like(x))


def test_tta_views_are_every_shift_of_the_image_and_its_mirror():
    x = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    views = tta_views(x, shift_by=1, flip=True)
    assert len(views) == 18 and torch.equal(views[0], x) and torch.equal(views[9], x.flip(-1))
    expected = {(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    for base, group in ((x, views[:9]), (x.flip(-1), views[9:])):
        found = {(dx, dy) for dx, dy in expected for v in group if torch.equal(v, shift(base, dx, dy))}
        assert found == expected
    assert len(tta_views(x, shift_by=2, flip=False)) == 25
    assert len(tta_views(x, shift_by=0, flip=False)) == 1
    with pytest.raises(ValueError, match="shift_by"):
        tta_views(x, shift_by=-1)

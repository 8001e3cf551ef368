"""Batch augmentation: each output is a window of the padded image / a mirror / one erased rectangle."""

import torch
import torch.nn.functional as F

from transmodal.vision.augment import random_crop, random_erasing, random_hflip


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

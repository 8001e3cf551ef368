"""1-D CNN baseline: lengths, receptive field, padding, both norms."""

import pytest
import torch
from torch import nn

from sm_reference import check_padded_batch
from transmodal.models.registry import build
from transmodal.models.speech_cnn import SpeechCNN, config


@pytest.mark.parametrize("t", [1, 2, 3, 4, 5, 50])
def test_lengths_are_ceil_of_t_over_4(t):
    model = SpeechCNN(config("tiny")).eval()
    out, lengths = model(torch.randn(1, t, 80), torch.tensor([t]))
    want = -(-(-(-t // 2)) // 2)  # two centred stride-2 convolutions: ⌈⌈T/2⌉/2⌉
    assert out.shape == (1, want, 64) and lengths.tolist() == [want]
    assert model.subsampling == 4


def test_receptive_field():
    # Two k=5 stride-2 layers: output j sees inputs 4j-6 … 4j+6; each of the 2 residual k=5 layers adds
    # ±2 frames at step 4, so ±8 inputs: 4j-22 … 4j+22. Input 60 can reach outputs 10 … 20 only.
    torch.manual_seed(0)
    model = SpeechCNN(config("tiny")).eval()
    x = torch.randn(1, 120, 80)
    base, _ = model(x, torch.tensor([120]))
    x2 = x.clone()
    x2[0, 60] += 10.0
    moved, _ = model(x2, torch.tensor([120]))
    changed = ((moved - base).abs().amax(-1) > 1e-6)[0].nonzero().flatten().tolist()
    assert set(changed) <= set(range(10, 21)) and {10, 15, 20} <= set(changed)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_padded_batch_equals_items_alone(norm):
    torch.manual_seed(1)
    model = SpeechCNN(config("tiny", norm=norm))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    check_padded_batch(model, [70, 45, 13, 1])


def test_config_errors_and_registry():
    with pytest.raises(ValueError, match="odd"):
        SpeechCNN(config("tiny", kernel_size=4))
    with pytest.raises(ValueError, match="norm"):
        SpeechCNN(config("tiny", norm="group"))
    model = build("speech_cnn", {"d_model": 16, "n_layers": 1, "strides": [2]})
    assert model.subsampling == 2 and model(torch.randn(1, 9, 80), torch.tensor([9]))[0].shape == (1, 5, 16)

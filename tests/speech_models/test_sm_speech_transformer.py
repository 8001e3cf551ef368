"""Speech Transformer baseline: conv subsampling + pre-norm Transformer encoder."""

import pytest
import torch

import transmodal.nn.multihead as multihead
from sm_reference import check_padded_batch
from transmodal.models.registry import build
from transmodal.models.speech_transformer import SpeechTransformer, config


def test_shapes_lengths_and_padding():
    torch.manual_seed(0)
    model = SpeechTransformer(config("tiny"))
    out, lengths = check_padded_batch(model, [90, 51, 7])
    assert out.shape == (3, 21, 64) and lengths.tolist() == [21, 12, 1]  # ⌊(⌊(T − 1)/2⌋ − 1)/2⌋
    assert model.subsampling == 4 and model.config.d_model == 64


def test_attention_goes_through_the_shared_function_with_a_key_mask(monkeypatch):
    seen = []
    real = multihead.attention

    def spy(q, k, v, mask=None, **kw):
        seen.append(None if mask is None else tuple(mask.shape))
        return real(q, k, v, mask, **kw)

    monkeypatch.setattr(multihead, "attention", spy)
    model = SpeechTransformer(config("tiny")).eval()
    model(torch.randn(2, 40, 80), torch.tensor([40, 30]))
    assert seen == [(2, 1, 1, 9)] * model.config.n_layers


def test_positions_grow_past_max_len():
    model = SpeechTransformer(config("tiny", max_len=8)).eval()
    out, _ = model(torch.randn(1, 200, 80), torch.tensor([200]))
    assert out.shape == (1, 49, 64) and torch.isfinite(out).all()


def test_registry_and_too_short():
    model = build("speech_transformer", {"d_model": 32, "n_heads": 2, "n_layers": 1, "d_ff": 64})
    with pytest.raises(ValueError, match="at least 7 frames"):
        model(torch.randn(1, 5, 80), torch.tensor([5]))

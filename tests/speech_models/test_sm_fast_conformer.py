"""Fast Conformer: 8× depthwise-separable subsampling, limited context + global token, parameter count."""

import pytest
import torch
from torch import nn

import transmodal.nn.local_attention as local_mod
import transmodal.nn.relative as relative
from sm_reference import check_padded_batch, count
from transmodal.models.fast_conformer import CONFIGS, FastConformer, config


def out_len(t):
    for _ in range(3):  # 3×3, stride 2, padding 1: ⌊(L − 1)/2⌋ + 1 = ⌈L/2⌉
        t = (t - 1) // 2 + 1
    return t


@pytest.mark.parametrize("t", [1, 2, 8, 9, 17, 64, 101])
def test_eight_times_subsampling(t):
    model = FastConformer(config("tiny")).eval()
    out, lengths = model(torch.randn(1, t, 80), torch.tensor([t]))
    assert out.shape == (1, out_len(t), 64) and lengths.tolist() == [out_len(t)]
    assert model.subsampling == 8


def test_padded_batch_with_local_window_and_global_token():
    torch.manual_seed(0)
    model = FastConformer(config("tiny"))  # window 4 (frames at 80 ms), 1 global token
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    check_padded_batch(model, [200, 131, 75, 9])


def test_padded_batch_with_full_attention():
    torch.manual_seed(1)
    check_padded_batch(FastConformer(config("tiny", window=None, global_tokens=0)), [120, 64, 33])


def test_long_input_never_builds_a_full_score_matrix(monkeypatch):
    shapes = []
    for mod in (local_mod, relative):
        real = mod.attention

        def spy(q, k, v, mask=None, _real=real, **kw):
            shapes.append((q.shape[-2], k.shape[-2]))
            return _real(q, k, v, mask, **kw)

        monkeypatch.setattr(mod, "attention", spy)
    model = FastConformer(config("tiny")).eval()
    t = 4000  # 500 frames after 8×
    with torch.no_grad():
        model(torch.randn(1, t, 80), torch.tensor([t]))
    w, g = model.config.window, model.config.global_tokens
    for q_len, k_len in shapes:
        # Either a block (w queries × (3w + G) keys) or the global token's row (G queries × all keys).
        assert (q_len, k_len) == (w, 3 * w + g) or (q_len == g and k_len == g + out_len(t))
    assert len(shapes) == 2 * model.config.n_layers


def test_global_tokens_need_a_window():
    with pytest.raises(ValueError, match="window"):
        FastConformer(config("tiny", window=None, global_tokens=1))


def closed_form_encoder(d, layers, c=256, k=9, n_mels=80):
    f = n_mels
    for _ in range(3):
        f = (f - 1) // 2 + 1  # 80 → 40 → 20 → 10
    subsampling = (9 * c + c) + 2 * ((9 * c + c) + (c * c + c)) + (c * f * d + d)
    return subsampling + layers * (24 * d * d + k * d + 32 * d)


def test_parameter_count_of_fast_conformer_large():
    c = CONFIGS["L"]
    with torch.device("meta"):
        model = FastConformer(c)
        n = count(model)
        # NeMo's RNN-T decoder for it: 1-layer LSTM of 640 over a 1024(+blank)-token embedding; joint of 640.
        decoder = (
            count(nn.Embedding(1025, 640)) + count(nn.LSTM(640, 640))
            + count(nn.Linear(512, 640)) + count(nn.Linear(640, 640)) + count(nn.Linear(640, 1025))
        )
    assert n == closed_form_encoder(512, 17)
    assert abs(n - 108.76e6) < 0.01e6
    assert abs(n + decoder - 115e6) / 115e6 < 0.05  # the paper's 115 M is for the whole transducer
    with torch.device("meta"):
        assert count(FastConformer(CONFIGS["L_longform"])) == n + 512  # + the one global token

"""Gated Multimodal Units and the fusion baselines: the equations against float64 hand computations,
missing modalities, modality dropout, and reloading a checkpoint through the registry."""

import numpy as np
import pytest
import torch

from transmodal.models.gmu import GMU, BimodalGMU, GMUClassifier, GMUClassifierConfig, drop_modalities
from transmodal.train import load_model, save_model


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def weights(linear) -> np.ndarray:
    return linear.weight.detach().double().numpy()


def test_bimodal_gmu_matches_hand_computation():
    torch.manual_seed(0)
    unit = BimodalGMU(5, 3, 4).double()
    x_v, x_t = torch.randn(6, 5, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    h, z, terms = unit(x_v, x_t)
    xv, xt = x_v.numpy(), x_t.numpy()
    h_v = np.tanh(xv @ weights(unit.w_v).T)
    h_t = np.tanh(xt @ weights(unit.w_t).T)
    z_ref = sigmoid(np.concatenate([xv, xt], 1) @ weights(unit.w_z).T)
    np.testing.assert_allclose(z.detach().numpy(), z_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), z_ref * h_v + (1 - z_ref) * h_t, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(terms[:, 1].detach().numpy(), (1 - z_ref) * h_t, rtol=1e-12, atol=1e-12)


def test_bimodal_gmu_tiny_numbers_by_hand():
    # 1-d everything: W_v = 2, W_t = −1, W_z = [1, 1]; x_v = 0.5, x_t = 1 → h_v = tanh 1, h_t = tanh −1, z = σ(1.5)
    unit = BimodalGMU(1, 1, 1).double()
    with torch.no_grad():
        unit.w_v.weight.fill_(2.0)
        unit.w_t.weight.fill_(-1.0)
        unit.w_z.weight.copy_(torch.tensor([[1.0, 1.0]]))
    h, z, _ = unit(torch.tensor([[0.5]], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64))
    zz = 1 / (1 + np.exp(-1.5))
    assert z.item() == pytest.approx(zz, abs=1e-15)
    assert h.item() == pytest.approx(zz * np.tanh(1.0) + (1 - zz) * np.tanh(-1.0), abs=1e-15)


def test_n_modal_gmu_matches_hand_computation():
    torch.manual_seed(1)
    dims = [4, 2, 3]
    unit = GMU(dims, 5).double()
    xs = [torch.randn(7, d, dtype=torch.float64) for d in dims]
    h, z, terms = unit(xs)
    joined = np.concatenate([x.numpy() for x in xs], 1)
    ref = np.zeros((7, 5))
    for i, x in enumerate(xs):
        z_i = sigmoid(joined @ weights(unit.w_z[i]).T)
        np.testing.assert_allclose(z[:, i].detach().numpy(), z_i, rtol=1e-12, atol=1e-12)
        term = z_i * np.tanh(x.numpy() @ weights(unit.w[i]).T)
        np.testing.assert_allclose(terms[:, i].detach().numpy(), term, rtol=1e-12, atol=1e-12)
        ref += term
    np.testing.assert_allclose(h.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert not np.allclose(z[:, 0].detach().numpy() + z[:, 1].detach().numpy() + z[:, 2].detach().numpy(), 1.0)


def test_bimodal_gmu_missing_modality_takes_the_other_alone():
    torch.manual_seed(2)
    unit = BimodalGMU(3, 3, 4).double()
    x_v, x_t = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    present = torch.tensor([[True, True], [True, False], [False, True], [True, False]])
    h, z, _ = unit(x_v, x_t, present)
    h_v, h_t = torch.tanh(unit.w_v(x_v)), torch.tanh(unit.w_t(x_t))
    torch.testing.assert_close(h[[1, 3]], h_v[[1, 3]])
    torch.testing.assert_close(h[2], h_t[2])
    assert torch.equal(z[1], torch.ones(4, dtype=torch.float64)) and torch.equal(z[2], torch.zeros(4, dtype=torch.float64))
    # the missing modality's input cannot leak into the output
    h2 = unit(x_v, x_t + 100 * torch.randn_like(x_t), present).h
    torch.testing.assert_close(h2[[1, 3]], h[[1, 3]])
    assert not torch.allclose(h2[0], h[0])


def test_n_modal_gmu_missing_modality():
    torch.manual_seed(3)
    unit = GMU([3, 3, 3], 4).double()
    xs = [torch.randn(2, 3, dtype=torch.float64) for _ in range(3)]
    present = torch.tensor([[True, False, True], [True, True, True]])
    h, z, _ = unit(xs, present)
    assert torch.equal(z[0, 1], torch.zeros(4, dtype=torch.float64))
    # row 0 by hand: gates see [x_1; 0; x_3], only modalities 1 and 3 contribute
    joined = torch.cat([xs[0][0], torch.zeros(3, dtype=torch.float64), xs[2][0]])
    ref = sum(torch.sigmoid(unit.w_z[i](joined)) * torch.tanh(unit.w[i](xs[i][0])) for i in (0, 2))
    torch.testing.assert_close(h[0], ref)
    xs_garbage = [xs[0], xs[1] + 50, xs[2]]
    torch.testing.assert_close(unit(xs_garbage, present)[0][0], h[0])


@pytest.mark.parametrize("fusion", ["concat", "sum", "late", "gmu"])
@pytest.mark.parametrize("modalities", [("image", "audio"), ("image", "audio", "text")])
def test_classifier_missing_modality(fusion, modalities):
    torch.manual_seed(4)
    model = GMUClassifier(GMUClassifierConfig(modalities=modalities, fusion=fusion, n_mels=8, text_vocab=30,
                                              encoder_dim=6, hidden=5)).eval()
    b = 3
    inputs = {"image": torch.rand(b, 1, 8, 8), "audio": torch.randn(b, 11, 8), "audio_lengths": torch.tensor([11, 7, 3]),
              "text": torch.randint(1, 30, (b, 5))}
    if "text" not in modalities:
        del inputs["text"]
    full = model(**inputs)
    assert full.shape == (b, 10)
    # audio missing for row 1 only: garbage audio in that row must not matter, other rows unchanged
    present = torch.ones(b, len(modalities), dtype=torch.bool)
    present[1, 1] = False
    out = model(**inputs, present=present)
    garbage = dict(inputs, audio=inputs["audio"] * 1000 + 5)
    out_garbage = model(**garbage, present=present)
    torch.testing.assert_close(out_garbage[1], out[1])
    torch.testing.assert_close(out[[0, 2]], full[[0, 2]])
    assert not torch.allclose(out[1], full[1])
    # a modality passed as None = missing in every row
    no_audio = dict(inputs, audio=None, audio_lengths=None)
    torch.testing.assert_close(model(**no_audio), model(**inputs, present=present.new_tensor([[True, False] + [True] * (len(modalities) - 2)] * b)))


def test_classifier_late_fusion_averages_present_probabilities():
    torch.manual_seed(5)
    model = GMUClassifier(GMUClassifierConfig(modalities=("image", "audio"), fusion="late", n_mels=8, encoder_dim=6)).double().eval()
    image, audio = torch.rand(2, 1, 8, 8, dtype=torch.float64), torch.randn(2, 9, 8, dtype=torch.float64)
    present = torch.tensor([[True, True], [False, True]])
    out = model(image=image, audio=audio, present=present)
    xs, _ = model.encode(image=image, audio=audio)
    p = [torch.softmax(model.heads[i](xs[i]), -1) for i in range(2)]
    torch.testing.assert_close(out[0], ((p[0][0] + p[1][0]) / 2).log())
    torch.testing.assert_close(out[1], p[1][1].log())
    torch.testing.assert_close(model(image=image), p[0].log())  # audio not given at all


def test_classifier_rejects_bad_inputs():
    model = GMUClassifier(GMUClassifierConfig(modalities=("image", "audio"), n_mels=8))
    with pytest.raises(ValueError, match="at least one"):
        model()
    with pytest.raises(ValueError, match="all False"):
        model(image=torch.rand(2, 1, 8, 8), present=torch.tensor([[True, False], [False, False]]))
    with pytest.raises(ValueError, match="also given"):
        model(image=torch.rand(2, 1, 8, 8), text=torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="fusion"):
        GMUClassifierConfig(fusion="attention")
    with pytest.raises(ValueError, match="modalities"):
        GMUClassifierConfig(modalities=("image", "smell"))


def test_drop_modalities_never_drops_the_last_one():
    g = torch.Generator().manual_seed(0)
    present = torch.ones(4000, 3, dtype=torch.bool)
    present[:1000, 1:] = False  # a quarter has only one modality
    out = drop_modalities(present, 0.5, g)
    assert bool(out.any(1).all())
    assert torch.equal(out[:1000], present[:1000])
    assert not bool((out & ~present).any())  # never adds one
    dropped = (present.sum(1) - out.sum(1))[1000:]
    assert set(dropped.tolist()) <= {0, 1}
    assert 0.45 < dropped.float().mean().item() < 0.55
    assert torch.equal(drop_modalities(present, 0.0, g), present)


def test_checkpoint_reloads_through_the_registry(tmp_path):
    torch.manual_seed(6)
    model = GMUClassifier(GMUClassifierConfig(modalities=("image", "audio", "text"), fusion="gmu", n_mels=8, text_vocab=30)).eval()
    save_model(tmp_path / "m", model)
    again = load_model(tmp_path / "m").eval()
    assert isinstance(again, GMUClassifier) and again.config == model.config
    inputs = {"image": torch.rand(2, 1, 8, 8), "audio": torch.randn(2, 6, 8), "text": torch.randint(1, 30, (2, 4))}
    torch.testing.assert_close(again(**inputs), model(**inputs))

"""SpeechRecognizer shapes, resampling, padding invariance, and the Transcriber's batching."""

from dataclasses import replace

import pytest
import torch
from am_testlib import save_checkpoint, tiny_model, write_wav

from transmodal.asr.model import SpeechRecognizer, Transcriber
from transmodal.asr.vocab import CharVocab
from transmodal.audio.errors import AudioError
from transmodal.train import load_model


def test_registered_and_round_trips(tmp_path):
    path = save_checkpoint(tmp_path / "c", seed=3)
    m = load_model(path)
    assert isinstance(m, SpeechRecognizer) and m.arch == "ctc_asr"
    assert m.config.encoder_config["n_mels"] == 80
    w = torch.randn(1, 8000)
    torch.testing.assert_close(m(w)[0], tiny_model(3)(w)[0])


def test_forward_shapes_for_8khz_resampled(tmp_path):
    m = tiny_model()
    t = Transcriber(m, CharVocab())
    wav = write_wav(tmp_path / "x.wav", 1.0, rate=8000)
    wave = t.read(wav)
    assert wave.shape == (16000,)  # 1 s at 8 kHz → 16 000 samples at the model's 16 kHz
    lp, lengths = m(torch.stack([wave, wave]), torch.tensor([16000, 8000]))
    frames = m.frontend.frame_lengths(torch.tensor([16000, 8000]))  # 98, 48
    assert frames.tolist() == [98, 48]
    assert lp.shape[0] == 2 and lp.shape[2] == m.config.vocab_size
    assert lengths[0] == lp.shape[1] and lengths[1] < lengths[0]
    assert abs(int(lengths[0]) - 98 / 4) <= 2 and abs(int(lengths[1]) - 48 / 4) <= 2
    torch.testing.assert_close(lp.exp().sum(-1), torch.ones(lp.shape[:2]))


def test_padding_invariance_eval():
    m = tiny_model(1)
    torch.manual_seed(0)
    a, b = torch.randn(12000), torch.randn(5000)
    batch = torch.zeros(2, 12000)
    batch[0], batch[1, :5000] = a, b
    batch[1, 5000:] = 7.0  # garbage in the padding must not matter
    lp, n = m(batch, torch.tensor([12000, 5000]))
    lp_b, n_b = m(b[None])
    assert int(n[1]) == int(n_b[0])
    torch.testing.assert_close(lp[1, : int(n[1])], lp_b[0], atol=1e-5, rtol=1e-5)


def test_spec_augment_only_in_training():
    m = tiny_model(2)
    w = torch.randn(2, 16000)
    torch.testing.assert_close(m(w)[0], m(w)[0])
    m.train()
    m.config.freq_masks = 2
    feats_a = m.features(w)[0]
    feats_b = m.features(w)[0]
    assert not torch.equal(feats_a, feats_b)


def test_vtlp_only_in_training():
    m = SpeechRecognizer(replace(tiny_model(2).config, n_mels=40, vtlp=0.2)).eval()  # VTLP needs bands ≥ 2 FFT bins
    m.spec_augment.freq_masks = m.spec_augment.time_masks = 0  # only the warp may differ
    w = torch.randn(2, 16000)
    plain = m.features(w)[0]
    torch.testing.assert_close(m.features(w)[0], plain)  # eval mode: no warp
    m.train()
    warped = m.features(w)[0]
    assert not torch.allclose(warped[0], plain[0]) and not torch.allclose(warped[1], plain[1])
    m.config.vtlp = 0.0
    torch.testing.assert_close(m.features(w)[0], plain)


def test_vtlp_training_refused_when_a_mel_band_is_one_fft_bin_wide():
    cfg = tiny_model().config
    narrow = SpeechRecognizer(replace(cfg, vtlp=0.1, n_mels=80, sample_rate=8000)).eval()
    w = torch.randn(1, 8000)
    narrow(w)  # a trained model with such a config still loads and runs for inference
    with pytest.raises(ValueError, match="two FFT bins"):
        narrow.train()(w)
    SpeechRecognizer(replace(cfg, vtlp=0.1, n_mels=40, sample_rate=8000)).train()(w)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="vtlp"):
            SpeechRecognizer(replace(cfg, vtlp=bad))


def test_batch_equals_one_at_a_time(tmp_path):
    path = save_checkpoint(tmp_path / "c")
    files = [write_wav(tmp_path / f"w{i}.wav", s, rate=r, freq=f, seed=i)
             for i, (s, r, f) in enumerate([(0.5, 8000, 400.0), (1.7, 8000, 900.0), (1.0, 16000, 250.0), (0.3, 22050, 600.0)])]
    batched = Transcriber.load(path, batch_size=4)
    single = Transcriber.load(path, batch_size=1)
    for choices in (None, ["yes", "no", "maybe"]):
        rb = batched.transcribe(files, choices=choices, keep_log_probs=True)
        rs = single.transcribe(files, choices=choices, keep_log_probs=True)
        assert [r.text for r in rb] == [r.text for r in rs]
        for x, y in zip(rb, rs):
            assert x.confidence == pytest.approx(y.confidence, abs=1e-5)
            torch.testing.assert_close(x.log_probs, y.log_probs, atol=1e-5, rtol=1e-5)


def test_too_short_audio_names_the_file(tmp_path):
    path = save_checkpoint(tmp_path / "c")
    f = write_wav(tmp_path / "blip.wav", 0.01, rate=8000)
    with pytest.raises(AudioError, match="blip.wav"):
        Transcriber.load(path).transcribe([f])


def test_vocab_mismatch_refused():
    with pytest.raises(ValueError, match="outputs"):
        Transcriber(tiny_model(), CharVocab(chars=[" ", "a", "b"]))

"""Every speech encoder saves and reloads through the shared checkpoint format (config.json + safetensors)."""

import pytest
import torch

from sm_reference import randomize
from transmodal.models import conformer, fast_conformer, speech_cnn, speech_transformer, zipformer
from transmodal.train.checkpoint import load_model, read_config, save_model

MODELS = {
    "speech_cnn": lambda: speech_cnn.SpeechCNN(speech_cnn.config("tiny", norm="batch")),
    "speech_transformer": lambda: speech_transformer.SpeechTransformer(speech_transformer.config("tiny")),
    "conformer": lambda: conformer.Conformer(conformer.config("tiny")),
    "fast_conformer": lambda: fast_conformer.FastConformer(fast_conformer.config("tiny")),
    "zipformer": lambda: zipformer.Zipformer(zipformer.config("tiny")),
}


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_save_and_reload_gives_the_same_outputs(arch, tmp_path):
    torch.manual_seed(0)
    model = randomize(MODELS[arch](), scale=0.1).eval()
    feats, lengths = torch.randn(2, 48, 80), torch.tensor([48, 30])
    with torch.no_grad():
        want, want_len = model(feats, lengths)
    save_model(tmp_path / arch, model)
    assert read_config(tmp_path / arch)["arch"] == arch
    again = load_model(tmp_path / arch)
    with torch.no_grad():
        got, got_len = again(feats, lengths)
    assert torch.equal(got_len, want_len)
    torch.testing.assert_close(got, want)
    assert again.config.d_model == model.config.d_model and again.subsampling == model.subsampling

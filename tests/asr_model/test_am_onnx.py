"""ONNX export of encoder + CTC head: onnxruntime output equals PyTorch's."""

import numpy as np
import pytest
import torch
from am_testlib import tiny_model

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx onnxruntime)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

from transmodal.asr.onnx import export_onnx  # noqa: E402


def test_onnxruntime_matches_pytorch(tmp_path):
    m = tiny_model(5)
    path = export_onnx(m, tmp_path / "am.onnx")
    onnx.checker.check_model(str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(0)
    for b, t in ((1, 41), (3, 173)):  # two lengths, neither the export example's
        feats = torch.randn(b, t, 80, generator=g)
        lengths = torch.tensor([t, t - 9, t - 30][:b])
        with torch.no_grad():
            ref, ref_len = m.forward_features(feats, lengths)
        out, out_len = sess.run(None, {"feats": feats.numpy(), "lengths": lengths.numpy()})
        assert out.shape == tuple(ref.shape)
        np.testing.assert_array_equal(out_len, ref_len.numpy())
        np.testing.assert_allclose(out, ref.numpy(), atol=1e-4, rtol=0)


def test_export_rejects_non_speech_model(tmp_path):
    with pytest.raises(ValueError, match="forward_features"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")


@pytest.mark.parametrize("encoder", ["zipformer", "fast_conformer"])
def test_an_export_that_only_fits_the_example_length_is_refused(encoder, tmp_path):
    from dataclasses import asdict
    from importlib import import_module

    from transmodal.asr.model import SpeechRecognizer, SpeechRecognizerConfig
    from transmodal.asr.vocab import CharVocab

    enc = import_module(f"transmodal.models.{encoder}").config("tiny")
    torch.manual_seed(0)
    m = SpeechRecognizer(SpeechRecognizerConfig(encoder=encoder, encoder_config=asdict(enc),
                                                vocab_size=CharVocab().vocab_size)).eval()
    with pytest.raises(ValueError, match="other input lengths|cannot be exported to ONNX yet"):
        export_onnx(m, tmp_path / "am.onnx")
    assert not (tmp_path / "am.onnx").exists()

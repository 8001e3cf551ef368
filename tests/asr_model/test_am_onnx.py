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


def _speech_model(encoder: str, name: str = "tiny"):
    from dataclasses import asdict
    from importlib import import_module

    from transmodal.asr.model import SpeechRecognizer, SpeechRecognizerConfig
    from transmodal.asr.vocab import CharVocab

    torch.manual_seed(0)
    enc = import_module(f"transmodal.models.{encoder}").config(name)
    return SpeechRecognizer(SpeechRecognizerConfig(encoder=encoder, encoder_config=asdict(enc),
                                                   vocab_size=CharVocab().vocab_size)).eval()


@pytest.mark.parametrize("encoder, name", [("zipformer", "tiny"), ("fast_conformer", "tiny"), ("speech_transformer", "tiny"),
                                           ("speech_cnn", "tiny"),
                                           ("fast_conformer", "cpu")])  # window 16: longer than a short input's frames
def test_other_encoders_export_and_match_at_new_lengths(encoder, name, tmp_path):
    m = _speech_model(encoder, name)
    sess = ort.InferenceSession(str(export_onnx(m, tmp_path / "am.onnx")), providers=["CPUExecutionProvider"])
    feats, lengths = torch.randn(2, 131, 80), torch.tensor([131, 77])  # export_onnx checked two other shapes itself
    with torch.no_grad():
        ref, ref_len = m.forward_features(feats, lengths)
    out, out_len = sess.run(None, {"feats": feats.numpy(), "lengths": lengths.numpy()})
    assert out_len.tolist() == ref_len.tolist()
    for i, n in enumerate(ref_len.tolist()):
        np.testing.assert_allclose(out[i, :n], ref[i, :n].numpy(), atol=1e-4, rtol=0)


class _CeilByNegativeFloor(torch.nn.Module):
    """Halves the frame rate with ⌈T/2⌉ written as -(-T // 2): right in PyTorch, ⌊T/2⌋ once traced to ONNX."""

    class config:
        n_mels = 80

    def forward_features(self, feats, lengths):
        t_out = -(-feats.shape[1] // 2)
        return feats[:, : 2 * t_out : 2].log_softmax(-1) + torch.zeros(feats.shape[0], t_out, 1), -(-lengths // 2)


def test_an_export_that_only_fits_the_example_length_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not reproduce PyTorch at other input lengths"):
        export_onnx(_CeilByNegativeFloor(), tmp_path / "am.onnx")
    assert not (tmp_path / "am.onnx").exists()


class _DynamicUnfold(torch.nn.Module):
    """``unfold`` over a time axis of dynamic length: an operator the tracing exporter cannot handle."""

    class config:
        n_mels = 80

    def forward_features(self, feats, lengths):
        return feats.unfold(1, 3, 2).mean(-1).log_softmax(-1), (lengths - 1) // 2


def test_a_model_the_exporter_cannot_trace_is_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="_DynamicUnfold cannot be exported to ONNX yet"):
        export_onnx(_DynamicUnfold(), tmp_path / "am.onnx")
    assert not (tmp_path / "am.onnx").exists()

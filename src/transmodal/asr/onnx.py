"""Export a :class:`~transmodal.asr.model.SpeechRecognizer`'s encoder + CTC head to ONNX.

The graph starts at normalised log-mel features (the front end stays in Python/NumPy, where it is cheap
and exact): inputs ``feats`` (B, T, n_mels) float32 and ``lengths`` (B,) int64; outputs ``log_probs``
(B, T', V) and ``out_lengths`` (B,). Batch and time axes are dynamic. Needs ``onnx``; check the result with onnxruntime.

It uses the tracing (TorchScript) exporter: the encoders validate lengths with data-dependent Python
checks (``int(lengths.min())``), which the dynamo exporter refuses; tracing records them as constants
(the checks simply do not run inside the graph) while every shape-carrying op stays dynamic.

Tracing can also freeze a shape that is computed in Python into a constant, and then the graph is right only at the
example's length. So, when onnxruntime is installed, the export is checked at two other shapes against PyTorch and
refused (the file removed, a ``ValueError``) if they differ. Every encoder passes. The example is 401 frames (4 s)
so that, after 8× subsampling, the Fast Conformer's attention window is full: its clamp of the window to a
shorter sequence is a Python ``min``, which tracing would freeze.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn


class _FeaturesToLogProbs(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.forward_features(feats, lengths)


def export_onnx(model: nn.Module, path: str | Path, opset: int = 18, example_frames: int = 401) -> Path:
    """Write ``model``'s features → log_probs graph to ``path`` (eval mode); returns the path."""
    if not hasattr(model, "forward_features"):
        raise ValueError(f"{type(model).__name__} has no forward_features(feats, lengths); export a SpeechRecognizer")
    try:
        import onnx  # noqa: F401
    except ImportError as e:
        raise RuntimeError("ONNX export needs the `onnx` package: pip install onnx onnxscript onnxruntime") from e
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    n_mels = model.config.n_mels
    feats = torch.randn(2, example_frames, n_mels)
    lengths = torch.tensor([example_frames, example_frames - 20])
    wrapper = _FeaturesToLogProbs(model).eval()

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings from the (skipped) Python-level checks
            try:
                torch.onnx.export(
                    wrapper, (feats, lengths), str(path), dynamo=False, opset_version=opset,
                    input_names=["feats", "lengths"], output_names=["log_probs", "out_lengths"],
                    dynamic_axes={"feats": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                                  "log_probs": {0: "batch", 1: "frames"}, "out_lengths": {0: "batch"}},
                )
            except torch.onnx.errors.OnnxExporterError as e:
                path.unlink(missing_ok=True)
                raise ValueError(f"{_encoder_name(model)} cannot be exported to ONNX yet: "
                                 f"{str(e).splitlines()[0][:200]}") from e
        problem = _differs_from_pytorch(model, path, example_frames)
    finally:
        model.train(was_training)
    if problem:
        path.unlink(missing_ok=True)
        raise ValueError(f"{_encoder_name(model)}: the traced ONNX graph does not reproduce PyTorch at other input "
                         f"lengths ({problem}); this encoder cannot be exported yet")
    return path


def _encoder_name(model: nn.Module) -> str:
    return type(getattr(model, "encoder", model)).__name__


def _differs_from_pytorch(model: nn.Module, path: Path, example_frames: int, atol: float = 1e-3) -> str:
    """Run the exported graph with onnxruntime at shapes other than the example's; '' when it matches PyTorch (or
    onnxruntime is not installed), else what differs."""
    try:
        import onnxruntime as ort
    except ImportError:
        return ""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(0)
    for frames in ([41], [example_frames + 76, example_frames + 60, example_frames + 3]):
        feats = torch.randn(len(frames), max(frames), model.config.n_mels, generator=g)
        lengths = torch.tensor(frames)
        with torch.no_grad():
            ref, ref_lengths = model.forward_features(feats, lengths)
        try:
            out, out_lengths = sess.run(None, {"feats": feats.numpy(), "lengths": lengths.numpy()})
        except Exception as e:  # onnxruntime raises its own error types
            return f"onnxruntime failed at {len(frames)} × {max(frames)} frames: {str(e).splitlines()[0][:160]}"
        if out.shape != tuple(ref.shape) or out_lengths.tolist() != ref_lengths.tolist():
            return f"at {len(frames)} × {max(frames)} frames: shape {out.shape}, expected {tuple(ref.shape)}"
        worst = max(float((torch.from_numpy(out[i, :n]) - ref[i, :n]).abs().max()) for i, n in enumerate(ref_lengths.tolist()))
        if worst > atol:
            return f"at {len(frames)} × {max(frames)} frames: log-probabilities differ by up to {worst:.2g}"
    return ""

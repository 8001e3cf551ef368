"""Export a :class:`~transmodal.asr.model.SpeechRecognizer`'s encoder + CTC head to ONNX.

The graph starts at normalised log-mel features (the front end stays in Python/NumPy, where it is cheap
and exact): inputs ``feats`` (B, T, n_mels) float32 and ``lengths`` (B,) int64; outputs ``log_probs``
(B, T', V) and ``out_lengths`` (B,). Batch and time axes are dynamic. Needs ``onnx``; check the result with onnxruntime.

It uses the tracing (TorchScript) exporter: the encoders validate lengths with data-dependent Python
checks (``int(lengths.min())``), which the dynamo exporter refuses; tracing records them as constants
(the checks simply do not run inside the graph) while every shape-carrying op stays dynamic.
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


def export_onnx(model: nn.Module, path: str | Path, opset: int = 18, example_frames: int = 97) -> Path:
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
            torch.onnx.export(
                wrapper, (feats, lengths), str(path), dynamo=False, opset_version=opset,
                input_names=["feats", "lengths"], output_names=["log_probs", "out_lengths"],
                dynamic_axes={"feats": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                              "log_probs": {0: "batch", 1: "frames"}, "out_lengths": {0: "batch"}},
            )
    finally:
        model.train(was_training)
    return path

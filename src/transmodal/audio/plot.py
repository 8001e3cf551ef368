"""A picture of digitised sound: the waveform, a few samples and their b-bit quantisation, the log-mel spectrogram."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from transmodal.audio.digitize import quantize, snr_db  # noqa: E402
from transmodal.audio.errors import AudioError  # noqa: E402
from transmodal.audio.features import LogMel  # noqa: E402
from transmodal.audio.io import Audio  # noqa: E402
from transmodal.audio.resample import resample  # noqa: E402
from transmodal.viz import save_figure  # noqa: E402

FEATURE_RATE = 16000
ENVELOPE_POINTS = 2000


def zoom_window(x: torch.Tensor, width: int) -> int:
    """Start of the ``width``-sample stretch of ``x: (N,)`` with the most energy (where there is something to see)."""
    if x.shape[0] <= width:
        return 0
    energy = torch.nn.functional.avg_pool1d(x.double().square()[None, None], width, stride=max(1, width // 4))[0, 0]
    return int(energy.argmax()) * max(1, width // 4)


def plot_audio(audio: Audio, out: str | Path, bits: int = 4, zoom_samples: int = 48, title: str = "") -> Path:
    """Three panels: the waveform (first channel), ``zoom_samples`` samples as stems with their ``bits``-bit
    mid-tread quantisation as steps, and the 80-bin log-mel spectrogram at 16 kHz (what the models see)."""
    x = audio.samples[0].detach().cpu().double()
    rate = audio.sample_rate
    if x.numel() == 0:
        raise AudioError("nothing to plot: the audio has no samples")
    q = quantize(x, bits, mode="mid-tread")
    start = zoom_window(x, zoom_samples)
    stop = min(x.shape[0], start + zoom_samples)

    wave16 = resample(x.float(), rate, FEATURE_RATE)[None]
    feats, _ = LogMel(FEATURE_RATE)(wave16)

    fig, axes = plt.subplots(3, 1, figsize=(10, 9), gridspec_kw={"height_ratios": [1, 1.2, 1.3]})
    t = np.arange(x.shape[0]) / rate
    ax = axes[0]
    if x.shape[0] > 20 * ENVELOPE_POINTS:        # long audio: draw the min/max envelope of short blocks
        block = x.shape[0] // ENVELOPE_POINTS
        blocks = x[: block * ENVELOPE_POINTS].reshape(ENVELOPE_POINTS, block)
        ax.fill_between(t[: block * ENVELOPE_POINTS: block], blocks.min(1).values.numpy(), blocks.max(1).values.numpy(),
                        color="tab:blue", lw=0)
    else:
        ax.plot(t, x.numpy(), lw=0.6, color="tab:blue")
    ax.axvspan(start / rate, stop / rate, color="tab:orange", alpha=0.3, label="zoomed below")
    ax.set(xlim=(0, t[-1] if len(t) > 1 else 1 / rate), ylim=(-1.05, 1.05), xlabel="time (s)", ylabel="amplitude",
           title=f"waveform: {x.shape[0]} samples at {rate} Hz ({x.shape[0] / rate:.2f} s)")
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[1]
    n = np.arange(start, stop)
    ax.stem(n, x[start:stop].numpy(), linefmt="tab:blue", markerfmt="o", basefmt=" ", label="samples x[n]")
    ax.step(n, q.values[start:stop].numpy(), where="mid", color="tab:red", lw=1.5, label=f"{bits}-bit quantised")
    if bits <= 6:
        for level in (np.arange(-(2 ** (bits - 1)), 2 ** (bits - 1)) * q.step):
            ax.axhline(level, color="0.85", lw=0.5, zorder=0)
    ax.set(xlabel="sample index n", ylabel="amplitude",
           title=f"{stop - start} samples and their {bits}-bit quantisation (step {q.step:.4g}, "
                 f"SNR {snr_db(x, q.values):.1f} dB over the whole signal)")
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[2]
    f = feats[0].T.numpy()
    ax.imshow(f, origin="lower", aspect="auto", cmap="magma", extent=(0, f.shape[1] * 0.01, 0, f.shape[0]),
              vmin=max(f.min(), f.max() - 20) if f.size else None)
    ax.set(xlabel="time (s)", ylabel="mel bin", title="log-mel spectrogram (80 bins, 25 ms / 10 ms, 16 kHz)")

    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out, dpi=100)

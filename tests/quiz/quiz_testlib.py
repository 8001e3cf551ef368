"""Small XLSForm workbooks written on the fly for the quiz tests."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

SURVEY_HEADER = ["type", "name", "label::Portuguese (pt)", "required", "constraint", "constraint_message", "relevant",
                 "appearance"]
CHOICES_HEADER = ["list_name", "name", "label::Portuguese (pt)"]
YES_NO = [["sn", "sim", "Sim"], ["sn", "nao", "Não"]]


def write_xlsform(path: Path, survey: list[list], choices: list[list] | None = None, settings: list[list] | None = None,
                  survey_header: list[str] | None = None, choices_header: list[str] | None = None) -> Path:
    """survey/choices/settings: data rows (header rows are added; settings' first row IS its header)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(survey_header or SURVEY_HEADER)
    for r in survey:
        ws.append(r)
    if choices is not None:
        wc = wb.create_sheet("choices")
        wc.append(choices_header or CHOICES_HEADER)
        for r in choices:
            wc.append(r)
    if settings is not None:
        st = wb.create_sheet("settings")
        for r in settings:
            st.append(r)
    wb.save(path)
    return path


# --- a tiny stand-in speech model ------------------------------------------------------------------------------
def tiny_speech_model(seed: int = 0):
    """A randomly initialised 1-layer Conformer-CTC over the Portuguese character vocabulary."""
    from dataclasses import asdict

    import torch

    from transmodal.asr.model import SpeechRecognizer, SpeechRecognizerConfig
    from transmodal.asr.vocab import CharVocab
    from transmodal.models.conformer import config

    torch.manual_seed(seed)
    enc = config("tiny", d_model=32, n_layers=1, n_heads=2, kernel_size=7)
    cfg = SpeechRecognizerConfig(encoder="conformer", encoder_config=asdict(enc), vocab_size=CharVocab().vocab_size)
    return SpeechRecognizer(cfg).eval()


def save_tiny_checkpoint(path: Path, seed: int = 0, calibration: float | None = None) -> Path:
    from transmodal.asr.closed_set import Calibrator
    from transmodal.asr.model import CALIBRATION
    from transmodal.asr.vocab import CharVocab
    from transmodal.train import save_model

    extra = {CharVocab.FILENAME: CharVocab().to_json()}
    if calibration is not None:
        extra[CALIBRATION] = Calibrator(temperature=calibration).to_json()
    return save_model(path, tiny_speech_model(seed), extra_files=extra)


def spell(vocab, text: str, frames_per_char: int = 3, sure: float = 0.97):
    """CTC log-probs (T, V) whose best path spells ``text``: blank, then each character held for a few frames
    with a blank between characters (so doubled letters survive)."""
    import torch

    ids = [vocab.blank_id]
    for i in vocab.encode(text):
        ids += [i] * frames_per_char + [vocab.blank_id]
    v = vocab.vocab_size
    p = torch.full((len(ids), v), (1.0 - sure) / (v - 1))
    p[torch.arange(len(ids)), torch.tensor(ids)] = sure
    return p.log()


def tone(seconds: float = 0.5, rate: int = 16000, amplitude: float = 0.3):
    import math

    import torch

    t = torch.arange(int(seconds * rate)) / rate
    return amplitude * torch.sin(2 * math.pi * 220.0 * t) + 0.03 * amplitude * torch.randn(t.shape, generator=torch.Generator().manual_seed(0))

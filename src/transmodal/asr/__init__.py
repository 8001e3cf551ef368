"""Speech recognition on top of any encoder that outputs frame log-probabilities ``(B, T, V)``.

vocab.py       the CTC character vocabulary (blank = 0; English + Brazilian Portuguese letters)
ctc.py         CTC head (Linear + log-softmax) and loss
decode.py      best path, prefix beam search, beam search constrained to a word list
closed_set.py  scoring a few allowed answers, temperature calibration, reliability / ECE
"""

from transmodal.asr.closed_set import (
    Calibrator,
    ClosedSetResult,
    ClosedSetScorer,
    Reliability,
    plot_reliability,
    posterior,
    reliability,
    score_answers,
)
from transmodal.asr.ctc import CTCHead, ctc_log_likelihood, ctc_loss
from transmodal.asr.decode import beam_decode, constrained_beam_decode, constrained_decode, greedy_decode
from transmodal.asr.vocab import BLANK_ID, DEFAULT_CHARS, CharVocab

__all__ = [
    "Calibrator", "ClosedSetResult", "ClosedSetScorer", "Reliability", "plot_reliability", "posterior",
    "reliability", "score_answers", "CTCHead", "ctc_log_likelihood", "ctc_loss", "beam_decode",
    "constrained_beam_decode", "constrained_decode", "greedy_decode", "BLANK_ID", "DEFAULT_CHARS", "CharVocab",
]

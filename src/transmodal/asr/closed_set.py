r"""Closed-set answer scoring: which of a few allowed answers was spoken, and how sure are we?

When the answer must be one of N known strings ("sim", "não", "talvez"), there is no need to decode
freely: score every candidate y_i by its CTC log-likelihood (see :mod:`transmodal.asr.ctc`)

    s_i = log p(y_i | x) = −CTC(x, y_i)          or, length-normalised,   s_i / max(|y_i|, 1)

(all N candidates in one batched ``F.ctc_loss`` call) and turn the scores into a posterior over the
candidates with a temperature τ (Guo et al. 2017, "On Calibration of Modern Neural Networks"):

    p_i = softmax(s / τ)_i = exp(s_i / τ) / Σ_j exp(s_j / τ)

The best answer is argmax_i s_i whatever τ is; τ only decides how sure we claim to be. A
:class:`Calibrator` fits τ on held-out questions by minimising the negative log-likelihood of the
right answers, and :func:`reliability` measures the result: bin the confidences, compare each bin's
accuracy with its mean confidence, and summarise with the expected calibration error

    ECE = Σ_b (n_b / n) · |acc_b − conf_b|

**No answer.** Among N wrong-for-the-audio candidates the argmax still picks the least bad one. With
``allow_none=True`` the empty label sequence — the all-blank path, s_∅ = Σ_t log p_t(−) — joins the
candidates, so silence and noise (mass on the blank) come out as "no answer" (``answer=None``).
``min_confidence`` also reports no answer when the best posterior is below a threshold. Note that
length normalisation leaves s_∅ as it is (it divides by max(0, 1) = 1).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from transmodal.asr.ctc import _check_inputs, ctc_log_likelihood
from transmodal.asr.vocab import CharVocab

NO_ANSWER = None


@dataclass
class ClosedSetResult:
    """The verdict on one utterance. Candidates are the answers in order, then ``None`` if ``allow_none``."""

    answer: str | None  # the chosen answer as given, or None for "no answer"
    index: int | None  # its position in the answers, or None
    confidence: float  # posterior of the best-scoring candidate (even when it was rejected)
    best: int  # position of the best-scoring candidate in ``candidates``
    candidates: list[str | None]
    scores: list[float]  # s_i (−inf: the answer cannot fit in the audio's frames)
    posterior: list[float]  # softmax(s / τ)


class ClosedSetScorer:
    """Scores a fixed list of allowed answers against batches of CTC posteriors.

    Args:
        answers: the allowed answers (normalised with ``vocab``; two that normalise alike are an error).
        vocab: the character vocabulary the CTC model was trained with.
        length_norm: divide each log-likelihood by the answer's number of characters.
        allow_none: add the empty answer (all-blank path) as a last candidate meaning "no answer".
        temperature: τ of the posterior, or a fitted :class:`Calibrator`.
        min_confidence: below this posterior, report no answer instead of the best candidate.
    """

    def __init__(
        self,
        answers: Sequence[str],
        vocab: CharVocab,
        *,
        length_norm: bool = False,
        allow_none: bool = False,
        temperature: "float | Calibrator" = 1.0,
        min_confidence: float = 0.0,
    ):
        if isinstance(answers, str) or not answers:
            raise ValueError("answers must be a non-empty list of strings")
        self.answers = list(answers)
        self.vocab = vocab
        self.targets = []
        seen: dict[str, str] = {}
        for a in self.answers:
            norm = vocab.normalize(a)
            if not norm:
                raise ValueError(f"answer {a!r} is empty after normalisation; use allow_none=True for 'no answer'")
            if norm in seen:
                raise ValueError(f"answers {seen[norm]!r} and {a!r} both normalise to {norm!r}; keep one of them")
            seen[norm] = a
            self.targets.append(vocab.encode(a))
        if allow_none:
            self.targets.append([])
        self.candidates: list[str | None] = self.answers + ([NO_ANSWER] if allow_none else [])
        self.length_norm = length_norm
        self.allow_none = allow_none
        self.temperature = temperature.temperature if isinstance(temperature, Calibrator) else float(temperature)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0; got {self.temperature}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must lie in [0, 1]; got {min_confidence}")
        self.min_confidence = min_confidence

    @torch.no_grad()
    def scores(self, log_probs: Tensor, lengths: Tensor) -> Tensor:
        """(B, T, V), (B,) → s: (B, N) candidate scores, from one batched CTC call over all B·N pairs."""
        _check_inputs(log_probs, lengths)
        if log_probs.shape[-1] != self.vocab.vocab_size:
            raise ValueError(f"log_probs has V={log_probs.shape[-1]} outputs but the vocabulary has {self.vocab.vocab_size}")
        b, n = log_probs.shape[0], len(self.targets)
        lp = log_probs.repeat_interleave(n, dim=0)  # row b*N + i = utterance b with candidate i
        frames = lengths.repeat_interleave(n)
        flat = torch.tensor([c for _ in range(b) for t in self.targets for c in t], dtype=torch.long, device=lp.device)
        sizes = torch.tensor([len(t) for t in self.targets], dtype=torch.long, device=lp.device)
        s = ctc_log_likelihood(lp, frames, flat, sizes.repeat(b)).view(b, n)
        if self.length_norm:
            s = s / sizes.clamp(min=1).to(s.dtype)
        return s

    def __call__(self, log_probs: Tensor, lengths: Tensor) -> list[ClosedSetResult]:
        s = self.scores(log_probs, lengths)
        post = posterior(s, self.temperature)
        out = []
        for row, p in zip(s.tolist(), post.tolist()):
            best = max(range(len(row)), key=row.__getitem__)
            conf = p[best]
            accept = math.isfinite(row[best]) and self.candidates[best] is not NO_ANSWER and conf >= self.min_confidence
            out.append(
                ClosedSetResult(
                    answer=self.candidates[best] if accept else None,
                    index=best if accept else None,
                    confidence=conf,
                    best=best,
                    candidates=list(self.candidates),
                    scores=row,
                    posterior=p,
                )
            )
        return out


def score_answers(log_probs: Tensor, lengths: Tensor, answers: Sequence[str], vocab: CharVocab, **options) -> list[ClosedSetResult]:
    """One-shot :class:`ClosedSetScorer` (same keyword options): the verdict for each utterance."""
    return ClosedSetScorer(answers, vocab, **options)(log_probs, lengths)


def posterior(scores: Tensor, temperature: float = 1.0) -> Tensor:
    """softmax(scores / τ) over the last axis; a row of only −inf scores gets all zeros (not NaN)."""
    p = torch.softmax(scores / temperature, dim=-1)
    return torch.nan_to_num(p, nan=0.0)


# --- temperature calibration ------------------------------------------------------------------------
def _stack_scores(scores, correct) -> tuple[Tensor, Tensor]:
    """(M, N) tensor or M rows of possibly different lengths → (M, N_max) float64 padded with −inf, and (M,) indices."""
    if isinstance(scores, Tensor):
        if scores.dim() != 2:
            raise ValueError(f"scores must be (M, N); got shape {tuple(scores.shape)}")
        s = scores.detach().double().cpu()
    else:
        rows = [torch.as_tensor(r, dtype=torch.float64).flatten() for r in scores]
        if not rows:
            raise ValueError("no scores to calibrate on")
        s = torch.full((len(rows), max(len(r) for r in rows)), float("-inf"), dtype=torch.float64)
        for i, r in enumerate(rows):
            s[i, : len(r)] = r
    y = torch.as_tensor(correct, dtype=torch.long).flatten().cpu()
    if y.shape[0] != s.shape[0] or s.shape[0] == 0:
        raise ValueError(f"need one correct index per score row: {s.shape[0]} rows, {y.shape[0]} indices")
    if int(y.min()) < 0 or int(y.max()) >= s.shape[1]:
        raise ValueError(f"correct indices must lie in 0..{s.shape[1] - 1}")
    bad = ~torch.isfinite(s.gather(1, y[:, None]).squeeze(1))
    if bool(bad.any()):
        raise ValueError(f"the correct candidate has a non-finite score in rows {bad.nonzero().flatten().tolist()[:10]}; drop them")
    return s, y


def _nll(s: Tensor, y: Tensor, temperature: float) -> float:
    """Mean over rows of −log softmax(s / τ)_y."""
    z = s / temperature
    return float((torch.logsumexp(z, dim=1) - z.gather(1, y[:, None]).squeeze(1)).mean())


@dataclass
class Calibrator:
    """Temperature scaling: p = softmax(s / τ), τ fitted by minimising the held-out NLL.

    NLL(β) with β = 1/τ is convex (log-sum-exp of functions linear in β, minus a linear term), hence
    unimodal in u = log τ, so golden-section search over u ∈ [log τ_min, log τ_max] finds the optimum.
    If the held-out answers are all ranked first, the NLL keeps falling as τ → 0 and the fit stops
    at τ_min. Fit it on the same kind of scores (raw or length-normalised) that it will be used with.
    """

    temperature: float = 1.0
    bounds: tuple[float, float] = (1e-3, 1e3)
    fit_nll: float | None = None  # mean NLL at the fitted τ
    n_fit: int = 0  # number of held-out examples it was fitted on
    extra: dict = field(default_factory=dict)  # free-form notes saved with it (e.g. the scorer's options)

    FILENAME = "calibration.json"  # the name a speech checkpoint keeps it under (asr.model.CALIBRATION)

    def fit(self, scores, correct, tol: float = 1e-6) -> "Calibrator":
        """scores: (M, N) tensor or M lists of candidate scores; correct: (M,) index of the right one."""
        s, y = _stack_scores(scores, correct)
        lo, hi = math.log(self.bounds[0]), math.log(self.bounds[1])
        if not lo < hi:
            raise ValueError(f"bounds must satisfy 0 < τ_min < τ_max; got {self.bounds}")
        f = lambda u: _nll(s, y, math.exp(u))  # noqa: E731
        g = (math.sqrt(5.0) - 1.0) / 2.0  # 1/φ
        a, b = lo, hi
        c, d = b - g * (b - a), a + g * (b - a)
        fc, fd = f(c), f(d)
        while b - a > tol:
            if fc <= fd:
                b, d, fd = d, c, fc
                c = b - g * (b - a)
                fc = f(c)
            else:
                a, c, fc = c, d, fd
                d = a + g * (b - a)
                fd = f(d)
        self.temperature = math.exp((a + b) / 2.0)
        self.fit_nll = _nll(s, y, self.temperature)
        self.n_fit = int(s.shape[0])
        return self

    def nll(self, scores, correct, temperature: float | None = None) -> float:
        """Mean −log p(correct) at τ (the fitted one by default)."""
        s, y = _stack_scores(scores, correct)
        return _nll(s, y, self.temperature if temperature is None else temperature)

    def posterior(self, scores: Tensor) -> Tensor:
        return posterior(scores, self.temperature)

    def to_json(self) -> str:
        return json.dumps({"type": "temperature", **asdict(self)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Calibrator":
        data = json.loads(text)
        if data.pop("type", None) != "temperature":
            raise ValueError("not a transmodal temperature calibrator (expected type 'temperature')")
        data["bounds"] = tuple(data.get("bounds", (1e-3, 1e3)))
        return cls(**data)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / self.FILENAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Calibrator":
        path = Path(path)
        if path.is_dir():
            path = path / cls.FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"no calibrator file at {path}; fit one and save it with Calibrator.save()")
        return cls.from_json(path.read_text(encoding="utf-8"))


# --- reliability --------------------------------------------------------------------------------------
@dataclass
class Reliability:
    """Per-bin accuracy, mean confidence and count (empty bins: NaN, NaN, 0) and the ECE."""

    edges: list[float]  # bins + 1 edges over [0, 1]
    accuracy: list[float]
    confidence: list[float]
    count: list[int]
    ece: float


def reliability(confidences, correct, bins: int = 10) -> Reliability:
    """Bin the confidences into ``bins`` equal-width bins of [0, 1] (1.0 falls in the last one) and compare.

    confidences: (n,) the confidence of each chosen answer; correct: (n,) whether it was right.
    """
    c = torch.as_tensor(confidences, dtype=torch.float64).flatten()
    ok = torch.as_tensor(correct).flatten().to(torch.float64)
    if c.numel() == 0 or c.shape != ok.shape:
        raise ValueError(f"need as many correctness flags as confidences (and at least one): {c.numel()} vs {ok.numel()}")
    if bool(((c < 0) | (c > 1) | c.isnan()).any()):
        raise ValueError("confidences must lie in [0, 1]")
    if bins < 1:
        raise ValueError(f"bins must be ≥ 1; got {bins}")
    idx = (c * bins).long().clamp(max=bins - 1)
    count = torch.bincount(idx, minlength=bins).to(torch.float64)
    acc_sum = torch.bincount(idx, weights=ok, minlength=bins)
    conf_sum = torch.bincount(idx, weights=c, minlength=bins)
    safe = count.clamp(min=1)
    acc = torch.where(count > 0, acc_sum / safe, torch.nan)
    conf = torch.where(count > 0, conf_sum / safe, torch.nan)
    ece = float(((acc_sum - conf_sum).abs()).sum() / c.numel())  # Σ_b (n_b/n)|acc_b − conf_b|
    return Reliability(
        edges=torch.linspace(0, 1, bins + 1, dtype=torch.float64).tolist(),
        accuracy=acc.tolist(),
        confidence=conf.tolist(),
        count=count.long().tolist(),
        ece=ece,
    )


def plot_reliability(confidences, correct, out: str | Path, bins: int = 10, title: str = "Reliability") -> Path:
    """Write a reliability diagram (accuracy per confidence bin vs the diagonal, and the bin counts) as a PNG."""
    from transmodal.viz import save_figure  # selects the Agg backend (no screen needed)

    import matplotlib.pyplot as plt

    r = reliability(confidences, correct, bins)
    width = 1.0 / bins
    centres = [e + width / 2 for e in r.edges[:-1]]
    acc = [0.0 if math.isnan(a) else a for a in r.accuracy]
    conf = [centres[i] if math.isnan(x) else x for i, x in enumerate(r.confidence)]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.bar(centres, acc, width=width, edgecolor="black", color="tab:blue", label="accuracy")
    top.bar(centres, [c - a if n else 0.0 for c, a, n in zip(conf, acc, r.count)], bottom=acc, width=width,
            edgecolor="tab:red", color="tab:red", alpha=0.3, hatch="//", label="gap to confidence")
    top.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.set_title(f"{title} (ECE = {r.ece:.3f}, n = {sum(r.count)})")
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(centres, r.count, width=width, edgecolor="black", color="tab:gray")
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("count")
    fig.tight_layout()
    return save_figure(fig, out, dpi=100)

"""Translate sentences with a trained seq2seq checkpoint (used by ``transmodal translate`` and the recipe)."""

from __future__ import annotations

from pathlib import Path

import torch

from transmodal.models.decoding import beam_search, greedy_search
from transmodal.text import Tokenizer


class Translator:
    """A seq2seq model and its tokenizer. Inputs are lower-cased, space-tokenised sentences."""

    def __init__(self, model, tokenizer: Tokenizer, batch_size: int = 64):
        self.model, self.tok, self.batch_size = model, tokenizer, batch_size

    @classmethod
    def load(cls, name_or_path: str | Path) -> "Translator":
        from transmodal.hub import load_as

        model, path = load_as(name_or_path, "seq2seq", "a translation model")
        return cls(model, Tokenizer.load(path))

    def _encode(self, sentences: list[str]) -> list[list[int]]:
        ids = self.tok.encode_batch(sentences, eos=True)
        limit = self.model.config.max_len
        for i, s in enumerate(ids):
            if len(s) > limit:
                raise ValueError(f"sentence {i + 1} is {len(s)} tokens long; this model reads at most {limit}")
        return ids

    def _max_len(self, src_len: int) -> int:
        """Longest translation allowed for a source of ``src_len`` tokens (EOS included)."""
        return min(self.model.config.max_len, 2 * src_len + 10)

    @torch.no_grad()
    def translate(self, sentences: list[str], beam: int = 4) -> list[str]:
        """One translation per sentence, in order. Empty sentences translate to empty strings."""
        if beam < 1:
            raise ValueError(f"beam must be ≥ 1, got {beam}")
        self.model.eval()
        out = [""] * len(sentences)
        todo = [i for i, s in enumerate(sentences) if s.strip()]
        ids = dict(zip(todo, self._encode([sentences[i] for i in todo])))
        todo.sort(key=lambda i: len(ids[i]))  # similar lengths together: less padding
        c = self.model.config
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            src = torch.full((len(chunk), max(len(ids[i]) for i in chunk)), c.pad_id, dtype=torch.long)
            for row, i in enumerate(chunk):
                src[row, : len(ids[i])] = torch.tensor(ids[i])
            limits = torch.tensor([self._max_len(len(ids[i])) for i in chunk])
            kw = dict(bos=c.bos_id, eos=c.eos_id, pad=c.pad_id, max_len=limits)
            hyps = greedy_search(self.model, src, **kw)[0] if beam == 1 else beam_search(self.model, src, beam=beam, **kw)
            for i, h in zip(chunk, hyps):
                out[i] = self.tok.decode(h)
        return out

    @torch.no_grad()
    def cross_attention(self, sentence: str) -> tuple[list[str], list[str], torch.Tensor]:
        """Greedy-translate one sentence recording cross-attention.

        Returns (source tokens, target tokens, weights (L, H, T, S)): for each decoder layer and head, how
        much target token t attended to source token s.
        """
        if not sentence.strip():
            raise ValueError("nothing to translate: the sentence is empty")
        self.model.eval()
        ids = self._encode([sentence])[0]
        c = self.model.config
        src = torch.tensor([ids])
        hyp, state = greedy_search(self.model, src, bos=c.bos_id, eos=c.eos_id, pad=c.pad_id, max_len=self._max_len(len(ids)), need_weights=True)
        weights = torch.cat(state.cross_weights, dim=3)[:, 0]  # steps (L, 1, H, 1, S) → (L, H, T, S)
        tgt_ids = hyp[0] + [c.eos_id]
        weights = weights[:, :, : len(tgt_ids)]
        return [self.tok.id_to_token(i) for i in ids], [self.tok.id_to_token(i) for i in tgt_ids], weights

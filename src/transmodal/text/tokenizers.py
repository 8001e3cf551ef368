"""Subword tokenizers built with Hugging Face's ``tokenizers`` library, wrapped in one small class.

BPE (Sennrich et al. 2016) starts from characters and repeatedly merges the most frequent adjacent
pair until the vocabulary has the requested size, so frequent words become one token and rare words
split into known pieces — no word is ever out of vocabulary. Word boundaries are kept by a "▁" marker
on the first piece of each word (the Metaspace scheme), so decoding is exact::

    "os pais do tom"  →  ▁os ▁pais ▁do ▁to m   →  "os pais do tom"

Special tokens have fixed ids: <pad>=0, <s>=1 (BOS), </s>=2 (EOS), <unk>=3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]


def train_bpe(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2) -> "Tokenizer":
    """Learn a BPE vocabulary of (at most) ``vocab_size`` tokens from an iterable of sentences."""
    tok = HFTokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(_nonempty(texts), trainer=trainer)
    return Tokenizer(tok)


def _nonempty(texts: Iterable[str]) -> Iterator[str]:
    for t in texts:
        if t.strip():
            yield t


class Tokenizer:
    """Text ↔ ids with BOS/EOS handling; saved as one ``tokenizer.json`` beside a model's weights."""

    FILENAME = "tokenizer.json"

    def __init__(self, hf: HFTokenizer):
        self.hf = hf
        for i, s in enumerate(SPECIALS):
            if hf.token_to_id(s) != i:
                raise ValueError(f"tokenizer must map special token {s} to id {i}; got {hf.token_to_id(s)}")
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = range(4)

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        ids = self.hf.encode(text).ids
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def encode_batch(self, texts: list[str], bos: bool = False, eos: bool = False) -> list[list[int]]:
        pre, post = [self.bos_id] if bos else [], [self.eos_id] if eos else []
        return [pre + e.ids + post for e in self.hf.encode_batch(texts)]

    def tokens(self, text: str) -> list[str]:
        return self.hf.encode(text).tokens

    def id_to_token(self, i: int) -> str:
        return self.hf.id_to_token(i)

    def decode(self, ids: list[int]) -> str:
        return self.hf.decode([i for i in ids if i >= len(SPECIALS)]).strip()

    def to_json(self) -> str:
        return self.hf.to_str()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        path = Path(path)
        if path.is_dir():
            path = path / cls.FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer at {path}: a model directory must contain {cls.FILENAME}")
        try:
            json.loads(path.read_text(encoding="utf-8"))
            return cls(HFTokenizer.from_file(str(path)))
        except (ValueError, Exception) as e:  # tokenizers raises plain Exception on bad files
            raise ValueError(f"cannot read tokenizer {path}: {e}") from e

"""WordPiece tokenizer for BERT-style models (Hugging Face ``tokenizers``), wrapped in one small class.

WordPiece (Schuster & Nakajima 2012; used by BERT) splits text into words and punctuation, then each
word greedily into the longest vocabulary pieces from the left; a piece that continues a word is
written with a ``##`` prefix::

    "apanhá-la, Honório"  →  apan ##há - la , hon ##ório

Text is NFC-normalised and lower-cased (accents are *kept*: "é" and "e" stay different). The special
tokens have fixed ids, in the order BERT needs them:

    [PAD]=0  [UNK]=1  [CLS]=2  [SEP]=3  [MASK]=4

A single sentence is read as ``[CLS] A [SEP]`` (segment 0), a pair as ``[CLS] A [SEP] B [SEP]`` with
segment ids 0 up to and including the first [SEP], 1 after it. The literal text ``[MASK]`` in an input
becomes the mask token (used by fill-mask).

Decoding joins ``##`` pieces to the piece before and puts spaces between words, so punctuation comes
back with spaces around it ("apanhá - la ,"): ``decode(encode(s))`` equals ``s`` lower-cased up to the
spacing (see :meth:`WordPieceTokenizer.decode`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)


def train_wordpiece(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2) -> "WordPieceTokenizer":
    """Learn a lower-cased WordPiece vocabulary of (at most) ``vocab_size`` pieces from an iterable of texts."""
    if vocab_size <= len(WORDPIECE_SPECIALS):
        raise ValueError(f"vocab_size={vocab_size} leaves no room for pieces; give more than {len(WORDPIECE_SPECIALS)}")
    tok = HFTokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##", max_input_chars_per_word=100))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # split on whitespace and around every punctuation mark
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=WORDPIECE_SPECIALS,
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tok.train_from_iterator(_nonempty(texts), trainer=trainer)
    return WordPieceTokenizer(tok)


def _nonempty(texts: Iterable[str]) -> Iterator[str]:
    for t in texts:
        if t.strip():
            yield t


class WordPieceTokenizer:
    """Text ↔ ids for BERT; saved as one ``tokenizer.json`` beside a model's weights."""

    FILENAME = "tokenizer.json"
    SPECIALS = WORDPIECE_SPECIALS

    def __init__(self, hf: HFTokenizer):
        self.hf = hf
        for i, s in enumerate(WORDPIECE_SPECIALS):
            if hf.token_to_id(s) != i:
                raise ValueError(
                    f"a WordPiece tokenizer must map {s} to id {i} (got {hf.token_to_id(s)}); "
                    "train it with transmodal.text.wordpiece.train_wordpiece"
                )
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID
        self.n_special = len(WORDPIECE_SPECIALS)

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    # ---------------------------------------------------------------------------------- encoding
    def encode(self, text: str) -> list[int]:
        """Piece ids of ``text`` without [CLS]/[SEP]."""
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.hf.encode_batch(texts, add_special_tokens=False)]

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Piece ids and, for each, its (start, end) character span in ``text``."""
        e = self.hf.encode(text, add_special_tokens=False)
        return e.ids, e.offsets

    def tokens(self, text: str) -> list[str]:
        return self.hf.encode(text, add_special_tokens=False).tokens

    def word_ids(self, text: str) -> list[int | None]:
        """For each piece, the index of the pre-tokenised word (or punctuation mark) it belongs to."""
        return self.hf.encode(text, add_special_tokens=False).word_ids

    def build_inputs(self, a: list[int], b: list[int] | None = None, max_len: int | None = None) -> tuple[list[int], list[int]]:
        """``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]`` → (ids, segment ids).

        With ``max_len``, the longer of a and b is cut (from its end) one piece at a time until the
        whole input fits, as BERT does for sentence pairs.
        """
        a, b = list(a), (list(b) if b is not None else None)
        if max_len is not None:
            budget = max_len - (3 if b is not None else 2)
            if budget < (2 if b is not None else 1):
                raise ValueError(f"max_len={max_len} is too short for [CLS]/[SEP] and some text")
            while len(a) + (len(b) if b is not None else 0) > budget:
                if b is not None and len(b) > len(a):
                    b.pop()
                else:
                    a.pop()
        ids = [self.cls_id] + a + [self.sep_id]
        segments = [0] * len(ids)
        if b is not None:
            ids += b + [self.sep_id]
            segments += [1] * (len(b) + 1)
        return ids, segments

    def is_special(self, i: int) -> bool:
        return i < self.n_special

    # ---------------------------------------------------------------------------------- decoding
    def id_to_token(self, i: int) -> str:
        return self.hf.id_to_token(i)

    def token_to_id(self, token: str) -> int | None:
        return self.hf.token_to_id(token)

    def decode(self, ids: list[int], skip_special: bool = True) -> str:
        """Join pieces: ``##`` pieces attach to the previous piece, others are separated by one space."""
        words: list[str] = []
        for i in ids:
            if skip_special and self.is_special(i):
                continue
            piece = self.hf.id_to_token(i)
            if piece is None:
                raise ValueError(f"id {i} is outside the vocabulary (size {self.vocab_size})")
            if piece.startswith("##") and words:
                words[-1] += piece[2:]
            else:
                words.append(piece)
        return " ".join(words)

    # ---------------------------------------------------------------------------------- files
    def to_json(self) -> str:
        return self.hf.to_str()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "WordPieceTokenizer":
        path = Path(path)
        if path.is_dir():
            path = path / cls.FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer at {path}: a BERT model directory must contain {cls.FILENAME}")
        try:
            json.loads(path.read_text(encoding="utf-8"))
            hf = HFTokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises plain Exception on bad files
            raise ValueError(f"cannot read tokenizer {path}: {e}") from e
        return cls(hf)

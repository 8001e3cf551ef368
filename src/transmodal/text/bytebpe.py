"""Cased byte-level BPE (GPT-2 style) for language models that must write text back exactly.

:func:`transmodal.text.train_bpe` lower-cases (right for the translation data). A generative model of
Machado de Assis should keep capitals, accents, punctuation and line breaks, so this tokenizer works on
the UTF-8 *bytes* of NFC-normalised text: the 256 byte values are the initial alphabet (no input is
ever unknown), BPE merges frequent pairs from there ("Ã§" + "Ã£o" → "ção"), and decoding concatenates
the bytes again, so ``decode(encode(s)) == NFC(s)`` exactly, spaces and newlines included.

It is wrapped in the same :class:`transmodal.text.Tokenizer` as the BPE vocabulary (same special ids
<pad>=0, <s>=1, </s>=2, <unk>=3; </s> also separates documents in a training stream).
"""

from __future__ import annotations

from typing import Iterable, Iterator

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

from transmodal.text.tokenizers import SPECIALS, Tokenizer


def train_byte_bpe(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2) -> Tokenizer:
    """Learn a cased byte-level BPE vocabulary of (at most) ``vocab_size`` tokens (specials and 256 bytes included)."""
    if vocab_size < len(SPECIALS) + 256:
        raise ValueError(f"vocab_size={vocab_size} is smaller than the 256 byte tokens + {len(SPECIALS)} specials")
    tok = HFTokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_nonempty(texts), trainer=trainer)
    return Tokenizer(tok)


def decode_exact(tok: Tokenizer, ids: list[int]) -> str:
    """The text of ``ids`` (special tokens dropped) without the stripping :meth:`Tokenizer.decode` does."""
    return tok.hf.decode([i for i in ids if i >= len(SPECIALS)])


def _nonempty(texts: Iterable[str]) -> Iterator[str]:
    for t in texts:
        if t.strip():
            yield t

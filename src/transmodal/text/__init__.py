"""Text: tokenizers (BPE, byte-level BPE, WordPiece), masking for BERT, and the Machado de Assis corpus."""

from transmodal.text.bytebpe import train_byte_bpe
from transmodal.text.tokenizers import SPECIALS, Tokenizer, train_bpe
from transmodal.text.wordpiece import WordPieceTokenizer, train_wordpiece

__all__ = ["SPECIALS", "Tokenizer", "train_bpe", "train_byte_bpe", "WordPieceTokenizer", "train_wordpiece"]

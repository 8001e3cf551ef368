"""Text: tokenizers (BPE, WordPiece) and text datasets."""

from transmodal.text.tokenizers import SPECIALS, Tokenizer, train_bpe

__all__ = ["SPECIALS", "Tokenizer", "train_bpe"]

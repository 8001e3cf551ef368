"""``transmodal fill-mask [--model machado-bert] TEXT``: guess the words hidden by [MASK] with a BERT model.

For each [MASK] in TEXT, prints the most probable pieces with their probabilities, then TEXT with the
best guesses filled in. The Machado model reads lower-cased text, so its guesses are lower-case; a
guess starting with ``##`` continues the word before it.
"""

from __future__ import annotations

DEFAULT_MODEL = "machado-bert"


def register(sub) -> None:
    p = sub.add_parser("fill-mask", help="guess the words written as [MASK] in a text with a BERT model")
    p.add_argument("text", nargs="+", metavar="TEXT", help="text with one or more [MASK] (several words are joined by spaces)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"shipped model name or checkpoint directory (default: {DEFAULT_MODEL})")
    p.add_argument("--top", type=int, default=5, help="guesses shown per [MASK] (default: 5)")
    p.set_defaults(func=run)


def load_bert(name_or_path: str):
    """(masked-LM model, WordPiece tokenizer) of a checkpoint directory or shipped model name."""
    from transmodal.hub import load_as
    from transmodal.text.wordpiece import WordPieceTokenizer

    model, path = load_as(name_or_path, "bert", "a masked-LM BERT", train_hint="Train one with "
                          "`transmodal train bert-pretrain --out runs/machado-bert` and pass --model runs/machado-bert/best")
    return model, WordPieceTokenizer.load(path)


def fill(model, tok, text: str, top: int = 5) -> tuple[list[list[tuple[str, float]]], str]:
    """(per [MASK]: [(piece, probability)] best first, the text with the best guesses filled in)."""
    from transmodal.recipes.bert_pretrain import fill_mask

    if top < 1:
        raise ValueError(f"--top {top}: give 1 or more")
    guesses = fill_mask(model, tok, text, top=top)
    filled = text
    for g in guesses:
        word = g[0][0]
        filled = filled.replace("[MASK]", word[2:] if word.startswith("##") else word, 1)
    return guesses, filled


def run(args) -> None:
    text = " ".join(args.text)
    if "[MASK]" not in text:
        raise ValueError(f"no [MASK] in {text!r}: write [MASK] where a word should be guessed")
    model, tok = load_bert(args.model)
    guesses, filled = fill(model, tok, text, args.top)
    for k, g in enumerate(guesses, 1):
        print(f"[MASK] {k}: " + "  ".join(f"{piece} ({p:.3f})" for piece, p in g))
    print(filled)

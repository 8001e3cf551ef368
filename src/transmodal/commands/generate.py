"""``transmodal generate [--model machado-gpt] PROMPT``: continue a text with a GPT language model.

Sampling: temperature, then top-k, then top-p (nucleus), with a key/value cache (``--no-cache``
re-reads the whole context at every step: slower, same result). ``--task`` wraps the prompt in one of
the task formats the Machado model was trained on (``continua``, ``quem fala``, ``época``) and prints
only the answer line.
"""

from __future__ import annotations

import sys

DEFAULT_MODEL = "machado-gpt"


def register(sub) -> None:
    p = sub.add_parser("generate", help="continue a text with a GPT model (sampling with temperature, top-k, top-p)")
    p.add_argument("prompt", nargs="+", metavar="PROMPT", help="the beginning of the text (several words are joined by spaces)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"shipped model name or checkpoint directory (default: {DEFAULT_MODEL})")
    p.add_argument("--max-new-tokens", type=int, default=200, help="tokens to add (default: 200)")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; higher = more varied (default: 0.8)")
    p.add_argument("--top-k", type=int, default=None, help="sample among the k most probable tokens only")
    p.add_argument("--top-p", type=float, default=0.95, help="sample within the smallest set of probability ≥ p (default: 0.95; 1 = off)")
    p.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable sample")
    p.add_argument("--task", default=None, help="prompted task: continua, 'quem fala' or época (prints the answer only)")
    p.add_argument("--no-cache", dest="cache", action="store_false", help="recompute the whole context at each step")
    p.set_defaults(func=run)


def load_gpt(name_or_path: str):
    """(model, tokenizer) of a GPT checkpoint directory or shipped model name."""
    from transmodal.hub import load_as
    from transmodal.text import Tokenizer

    model, path = load_as(name_or_path, "gpt", "a GPT language model", train_hint="Train one with "
                          "`transmodal train gpt-pretrain --out runs/machado-gpt` and pass --model runs/machado-gpt/best")
    return model, Tokenizer.load(path)


def generate_text(model, tok, prompt: str, *, max_new_tokens: int = 200, temperature: float = 0.8, top_k: int | None = None,
                  top_p: float | None = 0.95, seed: int | None = None, task: str | None = None, use_cache: bool = True) -> str:
    """The prompt's continuation (without the prompt); with ``task``, the answer line only."""
    import torch

    from transmodal.models.gpt import generate
    from transmodal.text.bytebpe import decode_exact

    if max_new_tokens < 1:
        raise ValueError(f"--max-new-tokens {max_new_tokens}: give 1 or more")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"--top-p {top_p}: give a probability in (0, 1]")
    if top_k is not None and top_k < 1:
        raise ValueError(f"--top-k {top_k}: give 1 or more")
    if temperature < 0:
        raise ValueError(f"--temperature {temperature}: give 0 (greedy) or more")
    if task is not None:
        from transmodal.recipes.gpt_pretrain import prompt_text

        prompt = prompt_text(task, prompt)
    ids = [tok.eos_id] + tok.encode(prompt)  # </s> opens every document in training
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    out = generate(model, torch.tensor([ids]), max_new_tokens, temperature=temperature, top_k=top_k,
                   top_p=None if top_p == 1 else top_p, eos_id=tok.eos_id, use_cache=use_cache, generator=generator)
    text = decode_exact(tok, out[0, len(ids):].tolist())
    return text.split("\n")[0].strip() if task is not None else text


def run(args) -> None:
    prompt = " ".join(args.prompt)
    if not prompt.strip():
        raise ValueError("the prompt is empty; give the beginning of a text")
    model, tok = load_gpt(args.model)
    text = generate_text(model, tok, prompt, max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                         top_p=args.top_p, seed=args.seed, task=args.task, use_cache=args.cache)
    sys.stdout.write(text + "\n" if args.task else prompt + text + "\n")

"""The shipped machado-gpt: present, the `generate` default, and better than chance on works it never saw."""

import math

import pytest
import torch

from transmodal.commands.generate import DEFAULT_MODEL, generate_text, load_gpt
from transmodal.hub import shipped_models
from transmodal.recipes.gpt_pretrain import evaluate_lm, work_text


def test_machado_gpt_is_shipped_and_is_the_generate_default():
    assert DEFAULT_MODEL == "machado-gpt" and "machado-gpt" in shipped_models()


def test_shipped_gpt_predicts_a_held_out_work_far_better_than_uniform():
    from transmodal.text.machado import read_works, split_works

    try:
        works = read_works()
    except FileNotFoundError:
        pytest.skip("the Machado corpus is not available here")
    model, tok = load_gpt("machado-gpt")
    test_work = split_works(works, seed=0)["test"][0]  # kept out of training by the recipe
    ids = [tok.eos_id] + tok.encode(work_text(test_work)[:20000])
    torch.manual_seed(0)
    nll, n = evaluate_lm(model, [torch.tensor(ids)], context=model.config.max_len)
    perplexity = math.exp(nll / n)
    # Shipped at 66.9 over all 17 test works (50.5 on this one); uniform guessing over the vocabulary is 8000,
    # and the earlier 550-step model got 163.8.
    assert perplexity < 120, perplexity


def test_shipped_gpt_generates_portuguese_words():
    model, tok = load_gpt("machado-gpt")
    text = generate_text(model, tok, "Capítulo primeiro", max_new_tokens=40, seed=0)
    words = text.split()
    assert len(words) >= 10
    common = {"de", "a", "o", "que", "e", "não", "se", "do", "da", "um", "uma", "com", "para", "me", "lhe"}
    assert sum(w.lower().strip(",.;:!?") in common for w in words) >= 2, text

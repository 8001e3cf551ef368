"""Masked-LM corruption: BERT's 15 % / 80-10-10 proportions checked statistically, specials never touched."""

import math

import pytest
import torch
import torch.nn.functional as F

from transmodal.text.masking import IGNORE_INDEX, MaskingSpec, mask_tokens

N_SPECIAL, MASK_ID = 5, 4
Z = 5.0  # two-sided bound at ~6e-7: a correct implementation essentially never fails, a 1-point bias always does


def within_binomial(k: int, n: int, p: float, z: float = Z) -> bool:
    """Is count k of n trials within z standard deviations of n·p?"""
    return abs(k - n * p) <= z * math.sqrt(n * p * (1 - p))


def batch_with_specials(b=400, t=256, vocab=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(N_SPECIAL, vocab, (b, t), generator=g)
    ids[:, 0] = 2  # [CLS]
    ids[:, t // 2] = 3  # [SEP]
    ids[:, -1] = 3
    lengths = torch.randint(t // 2 + 1, t, (b,), generator=g)
    ids[torch.arange(t)[None, :] >= lengths[:, None]] = 0  # [PAD] tail
    ids[:, 5] = 1  # an [UNK]
    return ids


def test_proportions_match_bert_within_binomial_bounds():
    vocab = 1000
    spec = MaskingSpec(MASK_ID, vocab, N_SPECIAL)
    ids = batch_with_specials(vocab=vocab)
    inputs, labels = mask_tokens(ids, spec, torch.Generator().manual_seed(1))
    maskable = ids >= N_SPECIAL
    chosen = labels != IGNORE_INDEX
    n, k = int(maskable.sum()), int(chosen.sum())
    assert n > 50_000
    assert within_binomial(k, n, 0.15), f"{k / n:.4f} of tokens chosen, expected 0.15"
    # a wrong rate of 0.14 or 0.16 would be far outside these bounds
    assert not within_binomial(k, n, 0.14) and not within_binomial(k, n, 0.16)

    x, y = inputs[chosen], ids[chosen]
    to_mask = int((x == MASK_ID).sum())
    kept = int((x == y).sum())
    replaced = int(((x != y) & (x != MASK_ID)).sum())
    assert to_mask + kept + replaced == k
    ordinary = vocab - N_SPECIAL
    # a random replacement draws the original token with probability 1/ordinary: it then counts as kept
    assert within_binomial(to_mask, k, 0.8)
    assert within_binomial(replaced, k, 0.1 * (1 - 1 / ordinary))
    assert within_binomial(kept, k, 0.1 + 0.1 / ordinary)


def test_labels_are_the_originals_exactly_at_chosen_positions():
    spec = MaskingSpec(MASK_ID, 1000, N_SPECIAL)
    ids = batch_with_specials(b=50)
    inputs, labels = mask_tokens(ids, spec, torch.Generator().manual_seed(3))
    chosen = labels != IGNORE_INDEX
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])  # nothing else is touched


def test_special_tokens_are_never_chosen_nor_drawn():
    spec = MaskingSpec(MASK_ID, 30, N_SPECIAL, select_prob=0.9)  # heavy masking, small vocabulary: many chances to err
    ids = batch_with_specials(b=200, t=64, vocab=30, seed=4)
    special = ids < N_SPECIAL
    for seed in range(20):
        inputs, labels = mask_tokens(ids, spec, torch.Generator().manual_seed(seed))
        assert (labels[special] == IGNORE_INDEX).all()
        assert torch.equal(inputs[special], ids[special])
        drawn = inputs[~special]
        assert ((drawn >= N_SPECIAL) | (drawn == MASK_ID)).all()  # the only special id ever written is [MASK]


def test_random_replacements_are_uniform_over_ordinary_tokens():
    vocab = 25
    spec = MaskingSpec(MASK_ID, vocab, N_SPECIAL, select_prob=1.0)
    ids = torch.full((2000, 100), 7)
    inputs, _ = mask_tokens(ids, spec, torch.Generator().manual_seed(5))
    # every token is chosen; 10 % get a uniform draw from ids 5..24; draws of 7 look like unchanged tokens
    counts = torch.bincount(inputs[inputs != MASK_ID], minlength=vocab)
    assert counts[:N_SPECIAL].sum() == 0
    draws = int(((inputs != MASK_ID) & (inputs != 7)).sum())
    for tok in range(N_SPECIAL, vocab):
        if tok != 7:
            assert within_binomial(int(counts[tok]), draws, 1 / 19), (tok, int(counts[tok]), draws)
    assert within_binomial(draws, ids.numel(), 0.1 * 19 / 20)


def test_masking_is_reproducible_with_a_generator_and_varies_without():
    spec = MaskingSpec(MASK_ID, 1000, N_SPECIAL)
    ids = batch_with_specials(b=20)
    a = mask_tokens(ids, spec, torch.Generator().manual_seed(9))
    b = mask_tokens(ids, spec, torch.Generator().manual_seed(9))
    c = mask_tokens(ids, spec, torch.Generator().manual_seed(10))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_loss_averages_over_every_chosen_token_including_unchanged_ones():
    from transmodal.models.bert import BertForMaskedLM, config
    from transmodal.recipes.bert_pretrain import mlm_loss

    torch.manual_seed(0)
    model = BertForMaskedLM(config("tiny", vocab_size=60)).eval()
    spec = MaskingSpec(MASK_ID, 60, N_SPECIAL, select_prob=0.5)
    ids = torch.randint(N_SPECIAL, 60, (4, 20))
    ids[:, 0] = 2
    inputs, labels = mask_tokens(ids, spec, torch.Generator().manual_seed(0))
    batch = {"ids": inputs, "segments": torch.zeros_like(ids), "labels": labels, "original": ids}
    loss, _ = mlm_loss(model, batch)
    # independent: full-vocabulary logits at every position, −log p(original) averaged over chosen positions
    logp = F.log_softmax(model(inputs, torch.zeros_like(ids)).double(), dim=-1)
    chosen = labels != IGNORE_INDEX
    assert bool((inputs[chosen] == ids[chosen]).any()), "test needs some chosen-but-unchanged tokens"
    expected = -logp.detach()[chosen].gather(-1, ids[chosen][:, None]).mean()
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-5)


def test_invalid_specs_are_rejected():
    with pytest.raises(ValueError):
        MaskingSpec(MASK_ID, 100, N_SPECIAL, select_prob=0.0)
    with pytest.raises(ValueError):
        MaskingSpec(MASK_ID, 100, N_SPECIAL, mask_prob=0.95, random_prob=0.1)
    with pytest.raises(ValueError):
        MaskingSpec(10, 100, N_SPECIAL)

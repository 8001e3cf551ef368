"""The seq2seq Transformer: sizes, causality, padding, cached decoding, overfitting a batch."""

import pytest
import torch
import torch.nn.functional as F

from transmodal.models import build
from transmodal.models.decoding import greedy_search
from transmodal.models.seq2seq import Transformer, config, count_parameters

PAD, BOS, EOS = 0, 1, 2
V = 20


def tiny(**kw):
    kw.setdefault("src_vocab", V)
    kw.setdefault("tgt_vocab", V)
    return Transformer(config("tiny", **kw)).eval()


def rand_tokens(*shape, vocab=V):
    return torch.randint(3, vocab, shape)  # never PAD/BOS/EOS


# --- parameter counts -------------------------------------------------------------------------------
def expected_params(vocab, d, d_ff, n_enc, n_dec):
    """Shared source/target embedding tied to the generator (counted once) + generator bias."""
    attn = 4 * (d * d + d)  # W_q, W_k, W_v, W_o with biases
    ffn = d * d_ff + d_ff + d_ff * d + d
    ln = 2 * d
    enc_layer = attn + ffn + 2 * ln
    dec_layer = 2 * attn + ffn + 3 * ln
    return vocab * d + n_enc * enc_layer + n_dec * dec_layer + vocab


@pytest.mark.parametrize(
    "name,d,d_ff,paper,rel",
    [("base", 512, 2048, 65e6, 0.05), ("big", 1024, 4096, 213e6, 0.02)],
)
def test_parameter_counts(name, d, d_ff, paper, rel):
    torch.manual_seed(0)
    cfg = config(name)
    assert (cfg.d_model, cfg.d_ff, cfg.n_enc_layers, cfg.n_dec_layers) == (d, d_ff, 6, 6)
    assert cfg.src_vocab == cfg.tgt_vocab == 37000 and cfg.shared_vocab
    with torch.device("meta"):  # no memory, no init cost; shapes are all we count
        model = Transformer(cfg)
    n = count_parameters(model)
    assert n == expected_params(37000, d, d_ff, 6, 6)
    assert abs(n - paper) / paper <= rel
    # tying really shares one matrix
    assert model.generator.proj.weight is model.src_embed.weight is model.tgt_embed.weight


@pytest.mark.parametrize("positions", ["sinusoidal", "learned", "rotary"])
def test_parameter_count_untied_tiny(positions):
    torch.manual_seed(1)
    m = Transformer(config("tiny", src_vocab=11, tgt_vocab=13, shared_vocab=False, positions=positions))
    d, ff, max_len = 64, 128, 64
    layers = expected_params(0, d, ff, 2, 2)
    embeddings = 11 * d + 13 * d + 13 * d + 13  # source, target, untied generator + bias
    pos = 2 * max_len * d if positions == "learned" else 0  # separate source and target tables
    assert count_parameters(m) == layers + embeddings + pos


def test_bad_configs():
    torch.manual_seed(2)
    with pytest.raises(ValueError):
        config("nope")
    with pytest.raises(ValueError):
        Transformer(config("tiny", src_vocab=10, tgt_vocab=12))
    Transformer(config("tiny", src_vocab=10, tgt_vocab=12, shared_vocab=False))  # fine when not shared
    with pytest.raises(TypeError):
        config("tiny", no_such_field=1)
    with pytest.raises(ValueError):
        build("seq2seq", {"src_vocab": 10, "bogus": 1})
    m = build("seq2seq", {"src_vocab": 10, "tgt_vocab": 10, "d_model": 16, "n_heads": 2, "n_enc_layers": 1, "n_dec_layers": 1})
    assert isinstance(m, Transformer)


# --- masking ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("positions", ["sinusoidal", "rotary"])
def test_decoder_is_causal(positions):
    torch.manual_seed(3)
    model = tiny(positions=positions)
    src = rand_tokens(2, 5)
    tgt = torch.cat([torch.full((2, 1), BOS), rand_tokens(2, 6)], 1)
    with torch.no_grad():
        out = model(src, tgt)
        assert out.shape == (2, 7, V)
        torch.testing.assert_close(out.exp().sum(-1), torch.ones(2, 7))
        for t in (0, 2, 5):
            tgt2 = tgt.clone()
            # a different non-special token at every later position
            shift = torch.randint(1, V - 3, (2, 6 - t))
            tgt2[:, t + 1 :] = 3 + (tgt[:, t + 1 :] - 3 + shift) % (V - 3)
            assert torch.all(tgt2[:, t + 1 :] != tgt[:, t + 1 :])
            out2 = model(src, tgt2)
            torch.testing.assert_close(out2[:, : t + 1], out[:, : t + 1], atol=1e-5, rtol=1e-5)
            assert not torch.allclose(out2[:, t + 1 :], out[:, t + 1 :], atol=1e-4)


@pytest.mark.parametrize("positions", ["sinusoidal", "learned", "rotary"])
def test_source_padding_does_not_change_output(positions):
    torch.manual_seed(4)
    model = tiny(positions=positions)
    short = rand_tokens(1, 4)
    long = rand_tokens(1, 7)
    batch = torch.cat([F.pad(short, (0, 3), value=PAD), long], 0)
    tgt = torch.cat([torch.full((2, 1), BOS), rand_tokens(2, 4)], 1)
    with torch.no_grad():
        both = model(batch, tgt)
        alone_short = model(short, tgt[:1])
        alone_long = model(long, tgt[1:])
    torch.testing.assert_close(both[0], alone_short[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(both[1], alone_long[0], atol=1e-5, rtol=1e-5)
    # The pad content matters only through the mask: a different pad id would change things.
    with torch.no_grad():
        unmasked = model(torch.cat([F.pad(short, (0, 3), value=5), long], 0), tgt)
    assert not torch.allclose(unmasked[0], both[0], atol=1e-4)


# --- cached incremental decoding ---------------------------------------------------------------------
@pytest.mark.parametrize("positions", ["sinusoidal", "learned", "rotary"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_incremental_decoding_equals_full(positions, norm_first):
    torch.manual_seed(5)
    model = tiny(positions=positions, norm_first=norm_first)
    src = torch.cat([rand_tokens(1, 6), F.pad(rand_tokens(1, 3), (0, 3), value=PAD)], 0)
    tgt_in = torch.cat([torch.full((2, 1), BOS), rand_tokens(2, 7)], 1)
    with torch.no_grad():
        full = model(src, tgt_in)
        state = model.start(src)
        for t in range(tgt_in.shape[1]):
            lp = model.step(tgt_in[:, t : t + 1], state)
            assert lp.shape == (2, V)
            torch.testing.assert_close(lp, full[:, t], atol=2e-5, rtol=2e-5)
        assert state.offset == tgt_in.shape[1]
        assert all(c.self_attn.length == tgt_in.shape[1] for c in state.cache)
        assert all(c.cross_attn.length == src.shape[1] for c in state.cache)


def test_incremental_need_weights_records_cross_attention():
    torch.manual_seed(6)
    model = tiny()
    src = torch.cat([rand_tokens(1, 5), F.pad(rand_tokens(1, 3), (0, 2), value=PAD)], 0)
    with torch.no_grad():
        state = model.start(src)
        model.step(torch.full((2, 1), BOS), state, need_weights=True)
        model.step(rand_tokens(2, 1), state, need_weights=True)
    assert len(state.cross_weights) == 2
    w = state.cross_weights[0]
    assert w.shape == (2, 2, 4, 1, 5)  # (layers, N, heads, 1, S)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 4, 1))
    assert torch.all(w[:, 1, ..., 3:] == 0)


# --- decoding -----------------------------------------------------------------------------------------
def test_batched_greedy_equals_each_alone():
    torch.manual_seed(7)
    model = tiny()
    lens = [5, 2, 7, 4]
    srcs = [rand_tokens(1, n) for n in lens]
    batch = torch.cat([F.pad(s, (0, max(lens) - s.shape[1]), value=PAD) for s in srcs], 0)
    hyps, _ = greedy_search(model, batch, bos=BOS, eos=EOS, pad=PAD, max_len=9)
    assert len(hyps) == 4
    for s, h in zip(srcs, hyps):
        alone, _ = greedy_search(model, s, bos=BOS, eos=EOS, pad=PAD, max_len=9)
        assert alone[0] == h


def test_greedy_matches_argmax_of_full_model():
    """Greedy output reproduced step by step with full recomputation (no cache)."""
    torch.manual_seed(8)
    model = tiny()
    src = rand_tokens(1, 6)
    hyp, _ = greedy_search(model, src, bos=BOS, eos=EOS, pad=PAD, max_len=8)
    prefix = [BOS]
    with torch.no_grad():
        for _ in range(7):  # max_len counts EOS: at most 7 content tokens
            nxt = int(model(src, torch.tensor([prefix]))[0, -1].argmax())
            if nxt == EOS:
                break
            prefix.append(nxt)
    assert hyp[0] == prefix[1:]


# --- learning -----------------------------------------------------------------------------------------
def test_tiny_model_overfits_small_batch():
    torch.manual_seed(9)
    model = tiny(positions="sinusoidal")
    n, s_len, t_len = 8, 6, 6
    src = rand_tokens(n, s_len)
    tgt = rand_tokens(n, t_len)
    tgt_in = torch.cat([torch.full((n, 1), BOS), tgt], 1)
    tgt_out = torch.cat([tgt, torch.full((n, 1), EOS)], 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(200):
        logprobs = model(src, tgt_in)
        loss = F.nll_loss(logprobs.reshape(-1, V), tgt_out.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(src, tgt_in).argmax(-1) == tgt_out).float().mean().item()
    assert acc == 1.0
    hyps, _ = greedy_search(model, src, bos=BOS, eos=EOS, pad=PAD, max_len=t_len + 3)
    assert hyps == tgt.tolist()


def test_initialisation_keeps_each_parameter_kind_at_its_scale():
    torch.manual_seed(0)
    m = Transformer(config("small", src_vocab=1000, tgt_vocab=1000, positions="learned"))
    assert abs(m.src_pos.table.std().item() - 0.02) < 0.003  # LearnedPositions' own init, not Xavier
    assert abs(m.src_embed.weight.std().item() - 256**-0.5) < 0.005  # N(0, d^-1/2), tied to the generator
    assert m.generator.proj.weight is m.src_embed.weight
    w = m.encoder.layers[0].ff.w1.weight  # Xavier-uniform: std = sqrt(2 / (fan_in + fan_out))
    assert abs(w.std().item() - (2 / (256 + 1024)) ** 0.5) < 0.003

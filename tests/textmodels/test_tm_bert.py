"""BERT: reference math with padding, bidirectional attention, segments, task heads, fill-mask after a tiny overfit."""

import argparse
import math

import pytest
import torch

from transmodal.models.bert import (
    BertClassifier,
    BertForMaskedLM,
    BertSpanExtractor,
    BertTagger,
    best_spans,
    config,
)
from transmodal.text.masking import MaskingSpec, mask_tokens


def tiny(**kw):
    torch.manual_seed(0)
    return BertForMaskedLM(config("tiny", vocab_size=40, **kw)).eval()


def _ln(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def reference_states(model: BertForMaskedLM, ids, segments, pad=0):
    """BERT's post-norm encoder written out in float64 from the parameters; padded keys get −∞."""
    P = {k: v.detach().double() for k, v in model.state_dict().items()}
    c = model.config
    B, T = ids.shape
    H, dh = c.n_heads, c.d_model // c.n_heads
    x = P["bert.tokens.emb.weight"][ids] + P["bert.positions.table"][:T] + P["bert.segments.weight"][segments]
    x = _ln(x, P["bert.norm.weight"], P["bert.norm.bias"])
    padded_key = (ids == pad)[:, None, None, :]
    for i in range(c.n_layers):
        p = f"bert.encoder.layers.{i}."
        q, k, v = (x @ P[p + "self_attn.qkv_proj.weight"].T + P[p + "self_attn.qkv_proj.bias"]).split(c.d_model, dim=-1)
        q, k, v = (t.reshape(B, T, H, dh).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-1, -2) / math.sqrt(dh)).masked_fill(padded_key, float("-inf"))
        a = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(B, T, c.d_model)
        a = a @ P[p + "self_attn.out_proj.weight"].T + P[p + "self_attn.out_proj.bias"]
        x = _ln(x + a, P[p + "res_attn.norm.weight"], P[p + "res_attn.norm.bias"])
        u = x @ P[p + "ff.w1.weight"].T + P[p + "ff.w1.bias"]
        u = 0.5 * u * (1 + torch.erf(u / math.sqrt(2)))
        x = _ln(x + u @ P[p + "ff.w2.weight"].T + P[p + "ff.w2.bias"], P[p + "res_ff.norm.weight"], P[p + "res_ff.norm.bias"])
    return x


def reference_mlm_logits(model, h):
    P = {k: v.detach().double() for k, v in model.state_dict().items()}
    u = h @ P["transform.weight"].T + P["transform.bias"]
    u = 0.5 * u * (1 + torch.erf(u / math.sqrt(2)))
    u = _ln(u, P["transform_norm.weight"], P["transform_norm.bias"])
    return u @ P["bert.tokens.emb.weight"].T + P["generator.proj.bias"]


def padded_batch():
    ids = torch.randint(5, 40, (3, 12))
    ids[:, 0] = 2
    ids[1, 8:] = 0
    ids[2, 5:] = 0
    segments = torch.zeros_like(ids)
    segments[0, 6:] = 1
    return ids, segments


def test_encoder_and_mlm_head_match_reference_math():
    model = tiny()
    with torch.no_grad():  # non-trivial norms and biases, so that a mix-up of them shows
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn_like(p))
    ids, segments = padded_batch()
    h = reference_states(model, ids, segments)
    assert torch.allclose(model.bert(ids, segments).double(), h, atol=1e-5)
    assert torch.allclose(model(ids, segments).double(), reference_mlm_logits(model, h), atol=1e-5)
    select = ids > 4
    assert torch.allclose(model(ids, segments, select).double(), reference_mlm_logits(model, h)[select], atol=1e-5)


def test_padding_does_not_change_real_positions():
    model = tiny()
    ids = torch.tensor([[2, 9, 10, 11, 3]])
    short = model.bert(ids)
    long = model.bert(torch.cat([ids, torch.zeros(1, 6, dtype=torch.long)], dim=1))
    assert torch.allclose(long[:, :5], short, atol=1e-5)


def test_attention_is_bidirectional_and_segments_matter():
    model = tiny()
    ids = torch.tensor([[2, 9, 10, 11, 12, 3]])
    base = model.bert(ids)
    later = ids.clone()
    later[0, 4] = 20
    assert not torch.allclose(model.bert(later)[:, 1], base[:, 1], atol=1e-4)  # position 1 sees position 4
    seg = torch.tensor([[0, 0, 0, 1, 1, 1]])
    assert not torch.allclose(model.bert(ids, seg), base, atol=1e-4)


def test_tied_output_matrix_and_zero_padding_embedding():
    model = tiny()
    assert model.generator.proj.weight is model.bert.tokens.weight
    assert model.bert.tokens.weight[0].abs().max() == 0
    assert 0.015 < float(model.bert.tokens.weight[5:].detach().std()) < 0.025  # BERT's N(0, 0.02²)


def test_heads_shapes_and_encoder_transfer():
    mlm = tiny()
    ids, segments = padded_batch()
    clf = BertClassifier.from_pretrained(mlm, n_labels=4)
    tagger = BertTagger.from_pretrained(mlm, n_labels=2)
    span = BertSpanExtractor.from_pretrained(mlm)
    for m in (clf, tagger, span):
        m.eval()
        for name, t in mlm.bert.state_dict().items():
            assert torch.equal(m.bert.state_dict()[name], t), name
    assert clf(ids, segments).shape == (3, 4)
    assert tagger(ids, segments).shape == (3, 12, 2)
    logits = span(ids, segments)
    assert logits.shape == (3, 12, 2)
    assert (logits[2, 5:] < -1e30).all()  # padding can never be an answer
    with pytest.raises(ValueError, match="n_labels"):
        BertClassifier(config("tiny", vocab_size=40))


def test_best_spans_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 15, 2, generator=g)
    allowed = torch.rand(5, 15, generator=g) > 0.3
    spans = best_spans(logits, allowed, max_span=4)
    for b in range(5):
        best, arg = -math.inf, None
        for i in range(15):
            for j in range(i, min(i + 4, 15)):
                if allowed[b, i] and allowed[b, j] and logits[b, i, 0] + logits[b, j, 1] > best:
                    best, arg = float(logits[b, i, 0] + logits[b, j, 1]), [i, j]
        assert spans[b].tolist() == arg


SENTENCES = [
    "O Honório achou uma carteira na rua da Quitanda.",
    "Camilo foi ver a cartomante num domingo de chuva.",
    "A mulher do Vilela tocava piano todas as noites.",
    "Garcia estudava medicina e morava no Catete.",
    "Fortunato deu dinheiro para a casa de saúde.",
    "Rubião herdou a fortuna do filósofo de Barbacena.",
]
MASKED = [(0, "carteira"), (1, "cartomante"), (2, "piano"), (3, "medicina"), (4, "dinheiro"), (5, "fortuna")]


@pytest.fixture(scope="module")
def overfit_bert(tmp_path_factory):
    """A tiny BERT trained by the recipe's masking and loss on six sentences until it knows them."""
    from transmodal.recipes.bert_pretrain import mlm_loss
    from transmodal.text.wordpiece import train_wordpiece
    from transmodal.train import Trainer, TrainConfig

    tok = train_wordpiece(SENTENCES * 3, vocab_size=200, min_frequency=1)
    rows = [tok.build_inputs(tok.encode(s)) for s in SENTENCES]
    t = max(len(r[0]) for r in rows)
    ids = torch.tensor([r[0] + [0] * (t - len(r[0])) for r in rows]).repeat(8, 1)
    spec = MaskingSpec(tok.mask_id, tok.vocab_size, tok.n_special)

    def batches(epoch):
        g = torch.Generator().manual_seed(epoch)
        for _ in range(10):
            inputs, labels = mask_tokens(ids, spec, g)
            yield {"ids": inputs, "segments": torch.zeros_like(ids), "labels": labels, "original": ids}

    torch.manual_seed(0)
    model = BertForMaskedLM(config("tiny", vocab_size=tok.vocab_size))
    out = tmp_path_factory.mktemp("bert-overfit")
    cfg = TrainConfig(out_dir=str(out), max_steps=200, lr=3e-3, warmup_steps=20, schedule="cosine", progress=False, log_every=50)
    Trainer(model, cfg, batches, mlm_loss, extra_files={tok.FILENAME: tok.to_json()}).fit()
    return out / "last"


def test_fill_mask_recovers_training_words(overfit_bert, capsys):
    from transmodal.commands import fill_mask

    model, tok = fill_mask.load_bert(str(overfit_bert))
    for i, word in MASKED:
        text = SENTENCES[i].replace(word, "[MASK]")
        guesses, filled = fill_mask.fill(model, tok, text, top=3)
        assert guesses[0][0][0] == word, (text, guesses)
        assert filled.lower() == SENTENCES[i].lower()
    # the command itself
    parser = argparse.ArgumentParser()
    fill_mask.register(parser.add_subparsers())
    args = parser.parse_args(["fill-mask", "--model", str(overfit_bert), "Camilo foi ver a [MASK] num domingo de chuva."])
    args.func(args)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[MASK] 1: cartomante (")
    assert out[-1].lower() == SENTENCES[1].lower()


def test_fill_mask_errors_are_explained(overfit_bert, tmp_path):
    from transmodal.commands import fill_mask

    model, tok = fill_mask.load_bert(str(overfit_bert))
    with pytest.raises(ValueError, match=r"no \[MASK\]"):
        fill_mask.fill(model, tok, "sem máscara")
    with pytest.raises(ValueError, match="bert-pretrain"):
        fill_mask.load_bert(str(tmp_path / "nowhere"))

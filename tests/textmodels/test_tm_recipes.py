"""The three recipes end to end on a few works with tiny models: they train, evaluate on held-out works, report."""

import json

import pytest

from transmodal.text.machado import corpus_path

pytestmark = pytest.mark.skipif(not corpus_path().is_file(), reason="machado.txt not under $TRANSMODAL_DATA")


@pytest.fixture(scope="module")
def bert_run(tmp_path_factory):
    from transmodal.recipes.bert_pretrain import BertPretrainRecipe, run

    out = tmp_path_factory.mktemp("bert")
    report = run(BertPretrainRecipe(out=str(out), model="tiny", vocab_size=1500, max_len=64, batch_size=16, max_steps=6,
                                    warmup=2, eval_every=3, save_every=3, eval_sequences=16, limit_works=3,
                                    threads=1, progress=False))
    return out, report


def test_bert_pretrain_reports_masked_accuracy_on_test_works(bert_run):
    out, report = bert_run
    assert json.loads((out / "report.json").read_text(encoding="utf-8")) == json.loads(json.dumps(report))
    test = report["test"]
    assert 0.0 <= test["mask_accuracy"] <= 1.0 and test["chosen"] > 10_000
    assert test["mlm_perplexity"] > 1.0
    assert report["works"]["test"] == len(report["test_works"]) == 17
    assert report["fill_mask_examples"] and (out / "best" / "tokenizer.json").is_file()


def test_bert_finetune_reports_pretrained_and_scratch(bert_run, tmp_path):
    from transmodal.recipes.bert_finetune import BertFinetuneRecipe, run

    out, _ = bert_run
    report = run(BertFinetuneRecipe(out=str(tmp_path), task="speaker", pretrained=str(out / "best"), init="both",
                                    max_steps=4, batch_size=8, eval_every=2, limit_train=64, eval_examples=16,
                                    max_len=64, threads=1, progress=False))
    assert set(report["test"]) == {"pretrained", "scratch"}
    assert "pretraining_gain" in report and report["examples"]["test"] > 50
    for r in report["test"].values():
        assert 0.0 <= r["exact_match"] <= r["token_f1"] <= 1.0


def test_gpt_pretrain_reports_perplexity_and_bits_per_char(tmp_path):
    from transmodal.recipes.gpt_pretrain import GptPretrainRecipe, run

    report = run(GptPretrainRecipe(out=str(tmp_path), model="tiny", vocab_size=600, context=32, batch_size=8, max_steps=6,
                                   warmup=2, eval_every=3, save_every=3, eval_tokens=512, task_eval_examples=3,
                                   limit_works=3, threads=1, progress=False))
    test = report["test"]
    # bits per character and perplexity describe the same log-likelihood: bpc = ln(ppl) · tokens / chars / ln 2
    import math

    assert test["bits_per_char"] == pytest.approx(math.log(test["perplexity"]) * test["tokens"] / test["chars"] / math.log(2), rel=1e-3)
    assert test["chars"] > 300_000  # every test work is scored
    assert set(report["prompted_tasks"]) == {"quem fala", "época"}
    assert report["train_tokens"]["task_units"] > 0


def test_finetune_labels_line_up_with_the_pieces(bert_run):
    import random

    from transmodal.recipes.bert_finetune import _tagged, build_examples
    from transmodal.text.machado import read_works, speaker_examples, split_works
    from transmodal.text.wordpiece import WordPieceTokenizer

    out, _ = bert_run
    tok = WordPieceTokenizer.load(out / "tokenizer.json")
    test = split_works(read_works())["test"]
    # span: the gold pieces spell the speaker's name (lower-cased, spaces aside)
    examples = build_examples("speaker", test, tok, 128, random.Random(0))
    names = [p[s:e] for p, s, e in speaker_examples(test)]
    assert len(examples) > 0.9 * len(names)
    spelled = {"".join(tok.decode(ex["ids"][ex["start"] : ex["end"] + 1]).split()) for ex in examples}
    assert spelled <= {"".join(n.lower().split()) for n in names}
    # tagging: a piece tagged 1 starts a word written with a capital in the original paragraph
    paragraphs = [p for w in test for p in w.paragraphs if len(p) >= 80]
    checked = 0
    for p in paragraphs[:60]:
        ids, offsets = tok.encode_with_offsets(p)
        ex = _tagged(tok, p, 128)
        if ex is None:
            continue
        for label, (a, _) in zip(ex["labels"][1:-1], offsets):
            if label == 1:
                assert p[a].isupper() and (a == 0 or not p[a - 1].isalpha())
                checked += 1
            elif label == 0:
                assert p[a].islower()
    assert checked > 20

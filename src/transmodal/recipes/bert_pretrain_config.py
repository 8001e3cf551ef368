"""Options of the BERT pre-training recipe (see :mod:`transmodal.recipes.bert_pretrain`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BertPretrainRecipe:
    out: str = "runs/machado-bert"
    model: str = "small"  # a name from transmodal.models.bert.CONFIGS
    vocab_size: int = 8000  # WordPiece vocabulary, learned on the training works only
    max_len: int = 128  # pieces per sequence, [CLS] and [SEP]s included
    batch_size: int = 64
    max_steps: int = 6000  # ≈ 25 passes over the 1.9 M training pieces; ≈ 3.5 h for 'small' on 2 free CPU cores
    lr: float = 5e-4
    warmup: int = 300
    weight_decay: float = 0.01
    dropout: float = 0.1
    select_prob: float = 0.15  # share of tokens chosen for prediction (80 % [MASK], 10 % random, 10 % kept)
    eval_every: int = 500
    save_every: int = 500
    eval_sequences: int = 256  # validation sequences scored during training (the final report uses every test work)
    seed: int = 0
    threads: int = 0  # 0 = PyTorch's default
    limit_works: int = 0  # train on the first N training works only (0 = all): for quick tests
    progress: bool = True

"""Options of the BERT fine-tuning recipe (see :mod:`transmodal.recipes.bert_finetune`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BertFinetuneRecipe:
    out: str = "runs/machado-bert-period"
    task: str = "period"  # period | pairs | names | speaker (how their labels are made: transmodal.text.machado)
    pretrained: str = "machado-bert"  # shipped model name or checkpoint directory of a masked-LM BERT
    init: str = "both"  # pretrained | scratch | both (same model, same data, same schedule; both are reported)
    max_steps: int = 1000  # per run; ≈ 20 min per run for 'small' on 2 free CPU cores
    batch_size: int = 32
    lr: float = 1e-4
    scratch_lr: float = 0.0  # learning rate of the from-scratch run (0 = same as lr)
    warmup: int = 100
    weight_decay: float = 0.01
    max_len: int = 128  # pieces per input ([CLS]/[SEP] included); at most the model's max_len
    limit_train: int = 0  # use at most N training examples (0 = all): pre-training matters most with few labels
    eval_every: int = 250
    eval_examples: int = 500  # validation examples scored during training (the final report uses every test example)
    seed: int = 0
    threads: int = 0  # 0 = PyTorch's default
    progress: bool = True

"""Options of the GPT pre-training recipe (see :mod:`transmodal.recipes.gpt_pretrain`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GptPretrainRecipe:
    out: str = "runs/machado-gpt"
    model: str = "small"  # a name from transmodal.models.gpt.CONFIGS
    positions: str = "learned"  # learned | rotary
    vocab_size: int = 8000  # cased byte-level BPE, learned on the training works only
    context: int = 256  # tokens per training window (the model's max_len)
    batch_size: int = 32
    max_steps: int = 4000  # ≈ 14 passes over the ≈ 2.3 M training tokens; ≈ 3 h for 'small' on 2 free CPU cores
    lr: float = 1e-3
    warmup: int = 200
    weight_decay: float = 0.1
    dropout: float = 0.1
    task_fraction: float = 0.1  # share of the training tokens spent on prompted tasks (0 = plain text only)
    eval_every: int = 500
    save_every: int = 500
    eval_tokens: int = 65536  # validation tokens scored during training (the final report uses every test work)
    task_eval_examples: int = 200  # prompted-task questions per task in the final report
    seed: int = 0
    threads: int = 0  # 0 = PyTorch's default
    limit_works: int = 0  # train on the first N training works only (0 = all): for quick tests
    progress: bool = True

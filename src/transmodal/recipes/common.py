"""What every recipe does before and after training (thread count, output folder, artifacts built once per job,
fit then reload the best checkpoint), and the pieces several recipes share (a fixed train/valid split, the
Fashion-MNIST splits, AdamW with a no-decay list, uint8 pictures to floats, starting from another saved model)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, TypeVar

import torch

from transmodal.train import distributed, load_model

T = TypeVar("T")


def start_run(out: str | Path, threads: int = 0) -> Path:
    """Set PyTorch's thread count (0 = keep its default) and create the run's output folder."""
    if threads:
        torch.set_num_threads(threads)
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_init(checkpoint: str) -> None:
    """Fail at once (before data are built or read) when ``init`` names no saved model."""
    if checkpoint and not (Path(checkpoint) / "config.json").is_file():
        raise ValueError(f"init={checkpoint!r}: not a saved model (a folder with config.json and model.safetensors)")


def init_from(model: torch.nn.Module, checkpoint: str) -> None:
    """Start ``model`` from the weights of a saved model (fine-tuning, or transfer from another recipe's model).

    Every weight must be there with the same shape. (Speech models: the feature front end holds no weights, so a
    checkpoint trained at another sample rate loads too; its filters then meet a different band and fine-tuning
    adapts them.)
    """
    source = load_model(checkpoint).state_dict()
    target = model.state_dict()
    wrong = [k for k in target if k not in source or source[k].shape != target[k].shape]
    if wrong or set(source) - set(target):
        raise ValueError(f"init={checkpoint!r}: its weights do not fit this model (first differences: "
                         f"{(wrong or sorted(set(source) - set(target)))[:3]}); give a checkpoint of the same "
                         "configuration (and, for speech, the same vocabulary)")
    model.load_state_dict(source)


def build_once(path: Path, build: Callable[[Path], None], load: Callable[[Path], T]) -> T:
    """An artifact (e.g. a tokenizer) built by rank 0 of a torchrun job only if ``path`` is missing, then loaded by all.

    Keeping an existing file matters when resuming: the checkpoint was trained with that vocabulary.
    """
    distributed.init_distributed()  # no-op unless launched by torchrun
    if distributed.is_main_process() and not path.is_file():
        build(path)
    distributed.barrier()
    return load(path)


def split_train_valid(n: int, valid_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed random split of ``n`` training indices (the same for every seed): (train, valid)."""
    if not 0 <= valid_size < n:
        raise ValueError(f"valid_size={valid_size} must be in [0, {n})")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(20170825))
    return perm[valid_size:].sort().values, perm[:valid_size].sort().values


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W) → float (N, 1, H, W) in [0, 1]."""
    return images.float().div_(255.0)[:, None]


def fit_and_load_best(trainer, model, out: Path) -> tuple[torch.nn.Module | None, float, dict]:
    """Run ``trainer.fit()``; return (the best checkpoint of ``out/best`` — or ``model`` itself when none was kept —
    on the trainer's device, seconds of training, the fit's summary). Other ranks of a torchrun job get ``None``."""
    t0 = time.time()
    summary = trainer.fit()
    seconds = time.time() - t0
    if not distributed.is_main_process():
        return None, seconds, summary
    best = load_model(out / "best") if (out / "best" / "config.json").is_file() else model.eval()
    return best.to(trainer.device), seconds, summary


def fashion_mnist_splits(valid_size: int, limit: int = 0, test_limit: int = 0):
    """``(images, labels, train_idx, valid_idx, test_images, test_labels)``: the 60,000 training pictures with the
    fixed validation split (the first ``limit`` training indices only, if given) and the first ``test_limit`` test ones."""
    from transmodal.vision.datasets import load_fashion_mnist

    images, labels = load_fashion_mnist("train")
    train_idx, valid_idx = split_train_valid(images.shape[0], valid_size)
    if limit:
        train_idx = train_idx[:limit]
    test_images, test_labels = load_fashion_mnist("test")
    if test_limit:
        test_images, test_labels = test_images[:test_limit], test_labels[:test_limit]
    return images, labels, train_idx, valid_idx, test_images, test_labels

"""Checkpoints: one directory holding everything needed to rebuild a model (and resume training).

Layout::

    model.safetensors   the state_dict (tied weights stored once, see `_unique_tensors`)
    config.json         {"arch", "config", "transmodal_version", "extra"}
    <extra files>       e.g. tokenizer.json, given by the caller
    trainer_state.pt    training checkpoints only: optimizer, scheduler, position, RNG states

Every save is atomic (see `transmodal.train.atomic`). Every loading problem raises `CheckpointError`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

import transmodal
from transmodal.train.atomic import atomic_directory

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TRAINER_STATE = "trainer_state.pt"
RESERVED = (WEIGHTS, CONFIG, TRAINER_STATE)

ExtraFile = str | bytes | Callable[[Path], None]  # text, bytes, or a writer given the destination


class CheckpointError(ValueError):
    """A checkpoint directory is missing, incomplete, corrupt or does not match the model."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def model_identity(model: nn.Module) -> tuple[str, dict[str, Any]]:
    """``(arch, config as dict)`` of a registered model; raises CheckpointError for other modules."""
    model = unwrap_model(model)
    arch = getattr(model, "arch", None)
    config = getattr(model, "config", None)
    if not isinstance(arch, str):
        raise CheckpointError(
            f"{type(model).__name__} has no `arch` name, so a checkpoint could not rebuild it; register "
            "its class with @transmodal.models.registry.register(arch, ConfigClass)"
        )
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise CheckpointError(
            f"{type(model).__name__}.config must be a dataclass instance (got {type(config).__name__}); "
            "store the config passed to __init__ as self.config"
        )
    return arch, dataclasses.asdict(config)


# ----------------------------------------------------------------------------------------- saving


def save_model(
    path: str | os.PathLike,
    model: nn.Module,
    extra_files: dict[str, ExtraFile] | None = None,
    extra_meta: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Save an inference checkpoint directory at ``path`` atomically; returns the path.

    ``extra_files`` maps a file name to its text, its bytes, or a function that writes it given the
    destination path. ``extra_meta`` goes to ``config.json["extra"]``. ``dtype`` (e.g.
    ``torch.float16``) stores floating-point weights smaller; `load_model` casts them back.
    """
    return _save(path, model, extra_files, extra_meta, dtype, trainer_state=None)


def save_training_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    trainer_state: dict[str, Any],
    extra_files: dict[str, ExtraFile] | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> Path:
    """`save_model` plus ``trainer_state.pt`` (``torch.save`` of ``trainer_state``), in one atomic save."""
    return _save(path, model, extra_files, extra_meta, None, trainer_state=trainer_state)


def _save(path, model, extra_files, extra_meta, dtype, trainer_state) -> Path:
    path = Path(path)
    model = unwrap_model(model)
    arch, config = model_identity(model)
    header = {
        "arch": arch,
        "config": config,
        "transmodal_version": transmodal.__version__,
        "extra": dict(extra_meta or {}),
    }
    try:
        config_text = json.dumps(header, indent=2)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"cannot save {path}: the model config or extra_meta is not JSON-serialisable ({e}); "
            "use plain numbers, strings, lists and dicts"
        ) from e
    extra_files = dict(extra_files or {})
    for name in extra_files:
        _check_extra_name(name)

    with atomic_directory(path) as tmp:
        tensors, aliases = _unique_tensors(model.state_dict(), dtype)
        metadata = {"format": "pt", "aliases": json.dumps(aliases)}
        save_file(tensors, str(tmp / WEIGHTS), metadata=metadata)
        (tmp / CONFIG).write_text(config_text + "\n", encoding="utf-8")
        for name, content in extra_files.items():
            _write_extra(tmp / name, content)
        if trainer_state is not None:
            torch.save(trainer_state, tmp / TRAINER_STATE)
    return path


def _unique_tensors(
    state: dict[str, torch.Tensor], dtype: torch.dtype | None
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Split a state_dict into tensors safetensors accepts plus ``aliases`` {name: stored name}.

    safetensors refuses tensors sharing memory. Identical views (tied weights) are stored once and
    recorded as aliases; other overlapping or non-contiguous tensors are copied.
    """
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, t in state.items():
        t = t.detach()
        key = (t.device, t.untyped_storage().data_ptr(), t.storage_offset(), t.shape, t.stride(), t.dtype)
        if t.numel() > 0 and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        tensors[name] = t
    storages = Counter((t.device, t.untyped_storage().data_ptr()) for t in tensors.values())
    out = {}
    for name, t in tensors.items():
        shared = storages[(t.device, t.untyped_storage().data_ptr())] > 1
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        out[name] = t.contiguous().clone() if shared or not t.is_contiguous() else t
    return out, aliases


def _check_extra_name(name: str) -> None:
    p = Path(name)
    if not name or p.is_absolute() or ".." in p.parts:
        raise CheckpointError(f"extra file name {name!r} must be a relative path inside the checkpoint")
    if name in RESERVED:
        raise CheckpointError(f"extra file name {name!r} is reserved by the checkpoint format; rename it")


def _write_extra(dest: Path, content: ExtraFile) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        dest.write_text(content, encoding="utf-8")
    elif isinstance(content, (bytes, bytearray)):
        dest.write_bytes(bytes(content))
    elif callable(content):
        content(dest)
        if not dest.exists():
            raise CheckpointError(f"the writer function for extra file {dest.name!r} did not create {dest}")
    else:
        raise CheckpointError(
            f"extra file {dest.name!r} has content of type {type(content).__name__}; "
            "give str, bytes, or a function taking the destination Path"
        )


# ---------------------------------------------------------------------------------------- loading


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``config.json`` of a checkpoint directory (validated to have "arch" and "config")."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory {path} does not exist; check the path")
    file = path / CONFIG
    if not file.is_file():
        raise CheckpointError(f"{path} has no {CONFIG}; it is not a transmodal checkpoint (or an incomplete copy)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{file} is not valid JSON ({e}); the file is corrupt, re-save the checkpoint") from e
    if not isinstance(data, dict) or not isinstance(data.get("arch"), str) or not isinstance(data.get("config"), dict):
        raise CheckpointError(f'{file} must be an object with a string "arch" and an object "config"')
    return data


def read_weights(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The state_dict stored in ``path/model.safetensors`` (tied names restored)."""
    file = Path(path) / WEIGHTS
    if not file.is_file():
        raise CheckpointError(f"{Path(path)} has no {WEIGHTS}; the checkpoint is incomplete")
    try:
        with safe_open(str(file), framework="pt", device=str(device)) as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        aliases = json.loads(metadata.get("aliases", "{}"))
    except Exception as e:  # safetensors raises several types for damaged files
        raise CheckpointError(
            f"cannot read {file}: {e}. The file is truncated or corrupt; re-save or re-copy the checkpoint"
        ) from e
    for name, stored in aliases.items():
        tensors[name] = tensors[stored]
    return tensors


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load the checkpoint's weights into an existing ``model`` (same arch, strict key/shape match)."""
    path = Path(path)
    data = read_config(path)
    arch, _ = model_identity(model)
    if data["arch"] != arch:
        raise CheckpointError(f"{path} holds a {data['arch']!r} model, but the model to load into is {arch!r}")
    _load_state(unwrap_model(model), read_weights(path), path)
    return model


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)  # copy_ casts float16 weights back to the model dtype
    except RuntimeError as e:
        raise CheckpointError(
            f"the weights in {path / WEIGHTS} do not match the model built from {path / CONFIG}: {e}"
        ) from e


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved at ``path`` via the registry, load its weights, return it in eval mode."""
    from transmodal.models.registry import build

    path = Path(path)
    data = read_config(path)
    try:
        model = build(data["arch"], data["config"])
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(
            f"cannot build the model of {path / CONFIG}: {e}. If the architecture is defined outside "
            "transmodal.models, import the module that registers it before loading"
        ) from e
    _load_state(model, read_weights(path), path)
    return model.to(map_location).eval()


def load_trainer_state(path: str | os.PathLike) -> dict[str, Any]:
    """The ``trainer_state.pt`` dict of a training checkpoint (tensors on CPU)."""
    file = Path(path) / TRAINER_STATE
    if not file.is_file():
        raise CheckpointError(f"{Path(path)} has no {TRAINER_STATE}; it is an inference-only checkpoint")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(
            f"cannot read {file}: {e}. Delete {Path(path)} or call fit(resume=False) to start over"
        ) from e

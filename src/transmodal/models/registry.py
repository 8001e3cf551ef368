"""Registry of model architectures, so a checkpoint's ``config.json`` rebuilds its model without code edits.

A model class is registered under an architecture name together with its config dataclass::

    @register("seq2seq", Seq2SeqConfig)
    class Transformer(nn.Module):
        def __init__(self, config: Seq2SeqConfig): ...

``build("seq2seq", {"d_model": 256, ...})`` then returns a fresh model.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

_ARCHS: dict[str, tuple[type, type]] = {}


def register(arch: str, config_cls: type) -> Callable[[type], type]:
    """Class decorator: record ``model_cls`` under ``arch``; sets ``model_cls.arch = arch``."""

    def wrap(model_cls: type) -> type:
        if arch in _ARCHS and _ARCHS[arch][1] is not model_cls:
            raise ValueError(f"architecture {arch!r} is already registered by {_ARCHS[arch][1].__name__}")
        _ARCHS[arch] = (config_cls, model_cls)
        model_cls.arch = arch
        return model_cls

    return wrap


def architectures() -> list[str]:
    _import_all()
    return sorted(_ARCHS)


def config_from_dict(arch: str, values: dict[str, Any]):
    """Build the config dataclass of ``arch`` from a dict, rejecting unknown keys with a clear message."""
    _import_all()
    if arch not in _ARCHS:
        raise ValueError(f"unknown model architecture {arch!r}; known: {', '.join(sorted(_ARCHS)) or 'none'}")
    config_cls = _ARCHS[arch][0]
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"config for {arch!r} has unknown fields {unknown}; expected a subset of {sorted(names)}")
    return config_cls(**values)


def build(arch: str, config: Any):
    """Instantiate the model registered as ``arch`` from a config dataclass or a plain dict."""
    if isinstance(config, dict):
        config = config_from_dict(arch, config)
    _import_all()
    return _ARCHS[arch][1](config)


# Registered models that live outside transmodal/models (a model built from several packages' parts).
_OTHER_MODULES = ["transmodal.asr.model"]


def _import_all() -> None:
    # Importing the model modules runs their @register decorators.
    import importlib
    import pkgutil

    import transmodal.models as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "registry":
            importlib.import_module(f"transmodal.models.{info.name}")
    for name in _OTHER_MODULES:
        importlib.import_module(name)

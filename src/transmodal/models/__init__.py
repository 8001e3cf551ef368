"""Models, one file per architecture, built from :mod:`transmodal.nn`. See :mod:`transmodal.models.registry`."""

from transmodal.models.registry import architectures, build, register

__all__ = ["architectures", "build", "register"]

"""Sub-commands of the ``transmodal`` CLI, one module each.

Each module defines ``register(subparsers)``, which adds its parser(s) and sets ``func`` to a function
taking the parsed arguments. Heavy imports (torch, models) happen inside those functions, so
``transmodal --help`` stays fast. To add a command: write a module here and list it in ``MODULES``.
"""

MODULES = [
    "transmodal.commands.translate",
    "transmodal.commands.train",
    "transmodal.commands.models",
    "transmodal.commands.export",
    "transmodal.commands.audio_plot",
    "transmodal.commands.speech_corpus",
    "transmodal.commands.transcribe",
    "transmodal.commands.generate",
    "transmodal.commands.fill_mask",
    "transmodal.commands.classify",
    "transmodal.commands.zero_shot",
    "transmodal.commands.complete_image",
    "transmodal.commands.imagine",
    "transmodal.commands.serve",
    "transmodal.commands.forms",
]

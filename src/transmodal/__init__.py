"""transmodal: transformers for every modality — sound, images and text — in one small PyTorch library."""

__version__ = "0.1.0"

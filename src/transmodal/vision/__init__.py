"""Images as tensors: reading image files, Fashion-MNIST, augmentation, patching, pixel quantisation, plots.

* :mod:`~transmodal.vision.io` — any image PIL reads → a float tensor shaped like the model's training
  images (grey, 28×28, dark background for Fashion-MNIST models); clear errors for non-images.
* :mod:`~transmodal.vision.datasets` — IDX files, Fashion-MNIST (its class names, where it lives, download code).
* :mod:`~transmodal.vision.augment` — batch-wise random crop with padding, horizontal flip, random erasing, CutMix/mixup; test-time views.
* :mod:`~transmodal.vision.patching` — patchify / unpatchify, 2-D interpolation of position grids.
* :mod:`~transmodal.vision.quantize` — grey levels and k-means palettes for the autoregressive pixel model.
* :mod:`~transmodal.vision.plot` — confusion matrix, attention rollout over images, image grids (PNG).
"""

from transmodal.vision.io import ImageError, load_image, load_images, prepare_image

__all__ = ["ImageError", "load_image", "load_images", "prepare_image"]

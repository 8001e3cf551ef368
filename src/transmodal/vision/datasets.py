r"""Image data sets: the IDX file format and Fashion-MNIST.

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research, MIT licence): 70,000 grey 28×28 pictures
of clothing (60,000 training, 10,000 test), 10 classes, stored as four gzipped IDX files. Where it is
looked for, in order:

1. ``$TRANSMODAL_DATA/fashion-mnist`` (:func:`transmodal.datasets.data_root`),
2. ``/usr/share/datasets/fashion-mnist`` (Debian's packaged copy),

and if neither holds the four files a :class:`FileNotFoundError` says so;
:func:`download_fashion_mnist` fetches them from the official mirror (it is never called implicitly).

IDX (LeCun et al.'s MNIST format): a 4-byte magic ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian
uint32 sizes, then the data, big-endian, row-major. Type codes: 0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from transmodal.datasets import RemoteDataset, _download, data_root

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # spelled as in the data set's README; index = label id
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530  # of the training pixels scaled to [0, 1]
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # the README's official mirror
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST = RemoteDataset(
    "fashion-mnist",
    {f: FASHION_MNIST_URL + f for pair in FASHION_MNIST_FILES.values() for f in pair},
    "MIT (Zalando SE)",
)

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> Tensor:
    """Read an IDX file (gzipped or not, told apart by its first bytes) into a tensor of its shape."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: corrupt gzip data ({e}); download the file again") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: IDX header is truncated")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX data has {len(raw) - header} bytes, but shape {shape} needs {expected}; the file is truncated or corrupt")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(data.astype(dtype.newbyteorder("="), copy=True))


def _complete(folder: Path) -> bool:
    return all((folder / f).is_file() for pair in FASHION_MNIST_FILES.values() for f in pair)


def fashion_mnist_dir() -> Path:
    """The folder holding the four Fashion-MNIST files (see the module docstring for where it looks)."""
    candidates = [data_root() / "fashion-mnist", DEBIAN_FASHION_MNIST]
    for folder in candidates:
        if _complete(folder):
            return folder
    raise FileNotFoundError(
        "Fashion-MNIST not found in " + " or ".join(str(c) for c in candidates) + ": set TRANSMODAL_DATA to the "
        "folder that holds fashion-mnist/, or fetch it with "
        "`python -c 'from transmodal.vision.datasets import download_fashion_mnist; download_fashion_mnist()'`"
    )


def load_fashion_mnist(split: str, folder: str | os.PathLike | None = None) -> tuple[Tensor, Tensor]:
    """``(images uint8 (N, 28, 28), labels int64 (N,))`` of split "train" (60,000) or "test" (10,000)."""
    if split not in FASHION_MNIST_FILES:
        raise ValueError(f"split={split!r}: choose 'train' or 'test'")
    folder = Path(folder) if folder is not None else fashion_mnist_dir()
    image_file, label_file = (folder / f for f in FASHION_MNIST_FILES[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{folder}: {split} images {tuple(images.shape)} and labels {tuple(labels.shape)} do not match")
    if int(labels.min()) < 0 or int(labels.max()) >= len(FASHION_MNIST_CLASSES):
        raise ValueError(f"{label_file}: labels outside 0..9")
    return images, labels.long()


def download_fashion_mnist(dest: str | os.PathLike | None = None) -> Path:
    """Fetch the four files from the official mirror into ``dest`` (default ``$TRANSMODAL_DATA/fashion-mnist``)."""
    folder = Path(dest) if dest is not None else data_root() / "fashion-mnist"
    missing = [f for f in FASHION_MNIST.files if not (folder / f).is_file()]
    if missing:
        _download(FASHION_MNIST, folder, missing)
    return folder

"""Fashion-MNIST from idx .gz files: for the DCGAN padded to 32x32 to fit its 32-pixel layers
(fashion_mnist), and as torchvision's 28x28 dataset (FashionMNIST)."""

import math
import struct
from pathlib import Path

import numpy as np

from .dataset import LabeledImages
from .download import download as fetch
from .errors import DatasetError
from .limits import read_gzip

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# Zalando's published checksums; Debian recompresses the files, so its copies differ.
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # package dataset-fashion-mnist

_UBYTE = 0x08  # idx type code of unsigned bytes, the only type Fashion-MNIST uses
_PAD = 2  # 28 + 2 * 2 = 32
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def fashion_mnist(root=None, train=True, download=True, progress=True):
    """Return (images uint8 (N, 1, 32, 32), labels int64 (N,)) of the train or test split, the
    28x28 images padded with 2 black pixels on each side.

    Reads from `root` if it has the files, else from Debian's package, else
    downloads into `root`.
    """
    images, labels = _read_split(root, train, download, progress)
    return np.pad(images, ((0, 0), (0, 0), (_PAD, _PAD), (_PAD, _PAD))), labels


class FashionMNIST(LabeledImages):
    """torchvision.datasets.FashionMNIST: item i is (image uint8 (1, 28, 28), label), unpadded;
    see LabeledImages. Found as fashion_mnist() finds it; download=True may fetch it into root."""

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        images, labels = _read_split(root, train, download, progress=True)
        super().__init__(images, labels, CLASSES, transform, target_transform)
        self.train = train


def _read_split(root, train, download, progress):
    """(images uint8 (N, 1, 28, 28), labels int64 (N,)) of one split."""
    prefix = "train" if train else "t10k"
    names = (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz")
    folder = _find(root, names, download, progress)
    images = _read_idx(folder / names[0], ndim=3)
    labels = _read_idx(folder / names[1], ndim=1)
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise DatasetError(f"{folder}: expected N 28x28 images and N labels, "
                           f"got images {images.shape} and labels {labels.shape}")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{folder / names[1]} has labels outside 0..9")
    return images[:, None], labels.astype(np.int64)


def _find(root, names, download, progress):
    """Return the folder holding `names`, downloading them into `root` if allowed."""
    candidates = ([Path(root)] if root is not None else []) + [DEBIAN_DIR]
    for folder in candidates:
        if all((folder / name).exists() for name in names):  # a FIFO there is refused, not skipped
            return folder
    if not download or root is None:
        how = "allow downloading" if root is not None else "give a data folder (--data-dir) to download into"
        raise DatasetError(
            f"Fashion-MNIST could not be found in {' or '.join(map(str, candidates))}. Install Debian's "
            f"dataset-fashion-mnist package, or {how} (the files come from {FASHION_MNIST_URL}).")
    for name in names:
        if not (Path(root) / name).exists():
            fetch(FASHION_MNIST_URL + name, Path(root) / name, FASHION_MNIST_MD5[name], progress)
    return Path(root)


def _read_idx(path, ndim):
    """Parse an idx file: 2 zero bytes, a type code, the number of dims, big-endian uint32 dims, data."""
    raw = read_gzip(path)
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:4] != bytes([0, 0, _UBYTE, ndim]):
        raise DatasetError(f"{path} has a bad idx magic number {raw[:4].hex()}, "
                           f"expected {bytes([0, 0, _UBYTE, ndim]).hex()} (unsigned bytes, {ndim} dims)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + math.prod(dims)  # Python ints: dims of 2**32 - 1 cannot overflow
    if len(raw) != expected:
        raise DatasetError(f"{path} has {len(raw)} bytes, expected {expected} for dims {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)

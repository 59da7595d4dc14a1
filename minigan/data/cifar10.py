"""CIFAR-10 from a local copy (python or binary format, folder or tarball) or a download."""

import os
import tempfile
from pathlib import Path

import numpy as np

from .dataset import LabeledImages
from .download import download as fetch, safe_extract
from .errors import DatasetError
from .limits import open_regular
from .safe_pickle import safe_load

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_PY_DIR, _PY_TAR = "cifar-10-batches-py", "cifar-10-python.tar.gz"
_BIN_DIR, _BIN_TAR = "cifar-10-batches-bin", "cifar-10-binary.tar.gz"
_PIXELS = 3 * 32 * 32
_RECORD = 1 + _PIXELS  # binary format: one label byte, then the R, G and B planes
_KIND_NAMES = {"U": "str", "S": "bytes"}  # numpy's names for these say their width: str32, bytes8
_CONTAINERS = (list, tuple, dict, set, frozenset)


def cifar10(root, train=True, download=True, url=CIFAR10_URL, md5=CIFAR10_MD5, progress=True):
    """Return (images uint8 (N, 3, 32, 32), labels int64 (N,)) of the train or test split.

    Looks in `root` for cifar-10-batches-py/, then cifar-10-batches-bin/, then
    either tarball; otherwise downloads the python tarball if `download`.
    """
    root = Path(root)
    if root.name in (_PY_DIR, _BIN_DIR):  # pointed at the batches folder itself
        root = root.parent
    batches = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    if (root / _PY_DIR).is_dir():
        return _concat([_read_python_batch(root / _PY_DIR / name) for name in batches])
    if (root / _BIN_DIR).is_dir():
        return _concat([_read_binary_batch(root / _BIN_DIR / f"{name}.bin") for name in batches])
    try:
        _obtain(root, download, url, md5, progress)
    except DatasetError as exc:
        raise DatasetError(
            f"CIFAR-10 could not be found in {root} or downloaded ({exc}). Download it on a machine "
            f"with internet from {url} and point --data-dir at the folder holding it, or use "
            f"--dataset fashion-mnist (works offline with Debian's dataset-fashion-mnist package)."
        ) from exc
    return cifar10(root, train, download=False, url=url, md5=md5, progress=progress)


class CIFAR10(LabeledImages):
    """torchvision.datasets.CIFAR10: item i is (image uint8 (3, 32, 32), label); see LabeledImages.
    Found as cifar10() finds it; download=True may fetch it into root."""

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        images, labels = cifar10(root, train, download=download)
        super().__init__(images, labels, CLASSES, transform, target_transform)
        self.train = train


def _obtain(root, download, url, md5, progress):
    """Make cifar-10-batches-py/ or -bin/ appear in `root`, from a tarball there or a download."""
    for tar_name, folder in ((_PY_TAR, _PY_DIR), (_BIN_TAR, _BIN_DIR)):
        if (root / tar_name).exists():  # a FIFO or folder there is refused, not replaced
            return _extract_folder(root / tar_name, folder, root)
    if not download:
        raise DatasetError("no copy was found and download=False")
    fetch(url, root / _PY_TAR, md5, progress)
    _extract_folder(root / _PY_TAR, _PY_DIR, root)


def _extract_folder(tar_path, folder, root):
    """Extract `folder` from `tar_path` into `root` all at once, so a failed run leaves no half folder."""
    with tempfile.TemporaryDirectory(prefix=".extract-", dir=root) as scratch:
        safe_extract(tar_path, scratch)
        extracted = Path(scratch) / folder
        if not extracted.is_dir():
            raise DatasetError(f"{tar_path} does not contain the folder {folder}/")
        os.replace(extracted, root / folder)


def _read_python_batch(path):
    try:
        with open_regular(path) as f:
            batch = safe_load(f, encoding="bytes")
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing; the CIFAR-10 folder is incomplete") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"{path} is not a CIFAR-10 batch: expected a dict with b'data' and b'labels'")
    if not isinstance(batch[b"data"], np.ndarray):
        raise DatasetError(f"{path}: the pixels must be a numpy array, got a {type(batch[b'data']).__name__}")
    # Other tools write the labels as an array, or as a list of numpy integers of any width.
    data = _integers(batch[b"data"], path, "pixels", 255)
    labels = _integers(batch[b"labels"], path, "labels", 9)
    if not (data.ndim == 2 and data.shape[1] == _PIXELS and labels.shape == (len(data),)):
        raise DatasetError(f"{path} has the wrong shape: expected data (N, {_PIXELS}) and N labels, "
                           f"got data {data.shape} and labels {labels.shape}")
    return data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _read_binary_batch(path):
    try:
        with open_regular(path) as f:
            raw = np.fromfile(f, dtype=np.uint8)
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing; the CIFAR-10 folder is incomplete") from None
    if raw.size == 0 or raw.size % _RECORD:
        raise DatasetError(f"{path} has {raw.size} bytes, not a whole number of {_RECORD}-byte records "
                           f"(the official files hold 10000 records, {10000 * _RECORD} bytes)")
    records = raw.reshape(-1, _RECORD)
    labels = _integers(records[:, 0], path, "labels", 9)
    return records[:, 1:].reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _integers(values, path, what, top):
    """`values` as an integer array, refusing any other type and values outside 0..top."""
    expected = f"{path}: {what} must be integers 0..{top}, got"
    # Through shared references, a small pickle's nested lists can expand to any size in numpy.
    if isinstance(values, (list, tuple)) and any(isinstance(v, _CONTAINERS) for v in values):
        raise DatasetError(f"{expected} a nested list")
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        raise DatasetError(f"{expected} {_KIND_NAMES.get(array.dtype.kind, array.dtype.name)}")
    if array.size and (array.min() < 0 or array.max() > top):
        raise DatasetError(f"{expected} values from {array.min()} to {array.max()}")
    return array


def _concat(parts):
    images, labels = zip(*parts)
    return np.concatenate(images), np.concatenate(labels)

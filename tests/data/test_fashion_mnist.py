"""Fashion-MNIST from Debian's package, from a folder, and downloaded; idx header checks."""

import gzip
import hashlib
import importlib
import struct
from pathlib import Path

import numpy as np
import pytest

from minigan.data import DatasetError, FashionMNIST, fashion_mnist

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
module = importlib.import_module("minigan.data.fashion_mnist")  # the name minigan.data.fashion_mnist is the function


def write_idx(path, array, magic=None):
    """Write `array` (uint8) as a gzipped idx file: magic 0x0000 08 ndim, big-endian dims, bytes."""
    magic = bytes([0, 0, 8, array.ndim]) if magic is None else magic
    header = magic + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def write_split(folder, prefix, images, labels):
    write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)


def tiny(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def assert_padded(got_images, raw_images):
    n = len(raw_images)
    assert got_images.shape == (n, 1, 32, 32) and got_images.dtype == np.uint8
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert not got_images[:, 0, border].any()
    np.testing.assert_array_equal(got_images[:, 0, 2:30, 2:30], raw_images)


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="needs Debian's dataset-fashion-mnist package")
@pytest.mark.parametrize("train, n", [(True, 60000), (False, 10000)])
def test_reads_debian_package(train, n):
    images, labels = fashion_mnist(train=train, download=False)
    prefix = "train" if train else "t10k"
    with gzip.open(DEBIAN / f"{prefix}-images-idx3-ubyte.gz") as f:  # Zalando's reader: skip the 16-byte header
        raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(n, 28, 28)
    assert_padded(images, raw)
    assert labels.dtype == np.int64 and labels.shape == (n,)
    np.testing.assert_array_equal(np.bincount(labels), [n // 10] * 10)  # the classes are balanced


def test_root_wins_over_debian(tmp_path):
    images, labels = tiny()
    write_split(tmp_path, "t10k", images, labels)
    got_images, got_labels = fashion_mnist(tmp_path, train=False, download=False)
    assert_padded(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@pytest.mark.parametrize("train, prefix", [(True, "train"), (False, "t10k")])
def test_the_dataset_gives_28x28_images_with_labels_as_torchvision(tmp_path, train, prefix):
    images, labels = tiny(seed=3 if train else 4)
    write_split(tmp_path, prefix, images, labels)
    dataset = FashionMNIST(tmp_path, train=train)
    assert len(dataset) == len(images) and dataset.classes[0] == "T-shirt/top" and dataset.classes[9] == "Ankle boot"
    image, label = dataset[2]
    assert image.shape == (1, 28, 28) and image.dtype == np.uint8 and type(label) is int
    np.testing.assert_array_equal(image[0], images[2])
    assert label == labels[2] and dataset.targets.dtype == np.int64


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="needs Debian's dataset-fashion-mnist package")
def test_the_dataset_reads_the_debian_test_split():
    dataset = FashionMNIST(train=False)
    assert len(dataset) == 10000 and np.bincount(dataset.targets).tolist() == [1000] * 10


@pytest.mark.parametrize("magic, message", [
    (bytes([0, 0, 8, 2]), "bad idx magic number 00000802"),  # wrong number of dims
    (bytes([0, 0, 0x0D, 3]), "bad idx magic number 00000d03"),  # float data
    (bytes([8, 0, 8, 3]), "bad idx magic number 08000803"),
])
def test_bad_magic_is_refused(tmp_path, magic, message):
    images, labels = tiny()
    write_split(tmp_path, "train", images, labels)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, magic=magic)
    with pytest.raises(DatasetError, match=f"train-images-idx3-ubyte.gz has a {message}"):
        fashion_mnist(tmp_path, download=False)


def test_wrong_size_is_refused(tmp_path):
    images, labels = tiny()
    write_split(tmp_path, "train", images, labels)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-3]))
    with pytest.raises(DatasetError, match=f"has {16 + 5 * 784 - 3} bytes, expected {16 + 5 * 784}"):
        fashion_mnist(tmp_path, download=False)


def test_image_label_count_mismatch_is_refused(tmp_path):
    images, labels = tiny()
    write_split(tmp_path, "train", images, labels[:4])
    with pytest.raises(DatasetError, match="expected N 28x28 images and N labels"):
        fashion_mnist(tmp_path, download=False)


def test_not_a_gzip_file_is_named(tmp_path):
    images, labels = tiny()
    write_split(tmp_path, "train", images, labels)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte\.gz is not a readable \.gz file"):
        fashion_mnist(tmp_path, download=False)


def test_downloads_into_root_with_md5(tmp_path, monkeypatch):
    server = tmp_path / "server"
    server.mkdir()
    images, labels = tiny(seed=1)
    write_split(server, "train", images, labels)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in server.iterdir()}
    monkeypatch.setattr(module, "FASHION_MNIST_URL", server.as_uri() + "/")
    monkeypatch.setattr(module, "FASHION_MNIST_MD5", md5)
    monkeypatch.setattr(module, "DEBIAN_DIR", tmp_path / "no-debian-package")
    got_images, got_labels = fashion_mnist(tmp_path / "data", progress=False)
    assert_padded(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(md5)

    monkeypatch.setattr(module, "FASHION_MNIST_MD5", dict.fromkeys(md5, "0" * 32))
    with pytest.raises(DatasetError, match="MD5 mismatch"):
        fashion_mnist(tmp_path / "fresh", progress=False)


def test_nothing_found_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(module, "DEBIAN_DIR", tmp_path / "no-debian-package")
    with pytest.raises(DatasetError, match="dataset-fashion-mnist package, or give a data folder"):
        fashion_mnist(train=False)
    with pytest.raises(DatasetError, match="dataset-fashion-mnist package, or allow downloading"):
        fashion_mnist(tmp_path, train=False, download=False)

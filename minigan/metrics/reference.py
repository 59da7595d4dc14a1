"""Real-data statistics in pytorch-fid's .npz format (mu, sigma), computed once and cached.

pytorch-fid compares generated samples against precomputed (mu, sigma) of the
real images' pool3 features; `fid_statistics` computes them on first use and
writes them atomically, so an interrupted run leaves no half file, and later
runs read the file instead.
"""
import numpy

from ..atomic import atomic_path
from ..data import cifar10
from .frechet import statistics
from .inception import cache_dir, inception_outputs


def save_statistics(path, mu, sigma):
    """Write (mu, sigma) as pytorch-fid's .npz (keys mu and sigma), atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            numpy.savez(f, mu=mu, sigma=sigma)


def load_statistics(path):
    """(mu, sigma) from a pytorch-fid .npz, checked: mu (D,), sigma (D, D)."""
    with numpy.load(path, allow_pickle=False) as stored:
        if "mu" not in stored.files or "sigma" not in stored.files:
            raise ValueError(f"{path} is not a statistics file: it has {stored.files}, not mu and sigma")
        mu, sigma = stored["mu"].astype(numpy.float64), stored["sigma"].astype(numpy.float64)
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise ValueError(f"{path}: mu has shape {mu.shape} and sigma {sigma.shape}; expected (D,) and (D, D)")
    return mu, sigma


def fid_statistics(name, images, model, cache=None, batch_size=50):
    """(mu, sigma) of the Inception features of `images()` (a function, called only when the cache
    has no <name>.npz in `cache`, default cache_dir()/fid_stats), then kept there."""
    path = (cache_dir() / "fid_stats" if cache is None else cache) / f"{name}.npz"
    if path.is_file():
        return load_statistics(path)
    mu, sigma = statistics(inception_outputs(images(), model, batch_size)[0])
    save_statistics(path, mu, sigma)
    return mu, sigma


def cifar10_statistics(data_dir, model, train=True, cache=None, batch_size=50):
    """(mu, sigma) of CIFAR-10's training (or test) images, as pytorch-fid's precomputed statistics are."""
    split = "train" if train else "test"
    return fid_statistics(f"cifar10_{split}", lambda: cifar10(data_dir, train)[0], model, cache, batch_size)

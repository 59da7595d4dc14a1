"""Data sets, safe downloading and minibatching. Depends on numpy only, never on the engine."""

from .cifar10 import CIFAR10_MD5, CIFAR10_URL, cifar10
from .download import download, safe_extract
from .errors import DatasetError
from .fake import fake
from .fashion_mnist import fashion_mnist
from .loader import Batches, normalize
from .safe_pickle import safe_load

__all__ = [
    "Batches", "CIFAR10_MD5", "CIFAR10_URL", "DatasetError", "cifar10", "download",
    "fake", "fashion_mnist", "normalize", "safe_extract", "safe_load",
]

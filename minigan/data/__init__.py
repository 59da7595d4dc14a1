"""Data sets, safe downloading and minibatching: the data sets as arrays for the trainer, and as
torch-style Datasets (CIFAR10, FashionMNIST, ImageFolder, TensorDataset, Subset) for DataLoader, whose
batches are Tensors. Only dataset.py and dataloader.py touch the engine, for its Tensor."""

from .cifar10 import CIFAR10, CIFAR10_MD5, CIFAR10_URL, cifar10
from .dataloader import DataLoader, default_collate
from .dataset import LabeledImages, Subset, TensorDataset
from .download import download, safe_extract
from .errors import DatasetError
from .fake import fake
from .fashion_mnist import FashionMNIST, fashion_mnist
from .image_folder import IMG_EXTENSIONS, ImageFolder, load_image
from .loader import Batches, normalize
from .safe_pickle import safe_load

__all__ = [
    "Batches", "CIFAR10", "CIFAR10_MD5", "CIFAR10_URL", "DataLoader", "DatasetError", "FashionMNIST",
    "IMG_EXTENSIONS", "ImageFolder", "LabeledImages", "Subset", "TensorDataset", "cifar10", "default_collate",
    "download", "fake", "fashion_mnist", "load_image", "normalize", "safe_extract", "safe_load",
]

"""The random generator behind default initialisation, and in-place initialisers."""
import numpy

from .backend import array_module
from .config import config


def manual_seed(seed):
    """Seed the generator that layer constructors and these initialisers draw from."""
    config.generator = numpy.random.default_rng(seed)


def rng():
    return config.generator


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill tensor (on any device) with N(mean, std^2), drawn on the CPU for reproducibility."""
    values = (generator or config.generator).normal(mean, std, size=tensor.shape)
    _fill(tensor, values)
    return tensor


def constant_(tensor, value):
    tensor.data[...] = value
    return tensor


def _fill(tensor, values):
    tensor.data[...] = array_module(tensor.data).asarray(values, dtype=tensor.dtype)

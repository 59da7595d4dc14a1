"""Modules with torch.nn's names: each layer module lists its own in __all__."""
from . import layers
from .layers import *  # noqa: F401,F403  (layers.__all__)
from .module import Module, Parameter

__all__ = ["Module", "Parameter", *layers.__all__]

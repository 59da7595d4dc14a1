"""Modules with torch.nn's names: each layer module lists its own in __all__."""
from . import layers
from .layers import *  # noqa: F401,F403  (layers.__all__)
from .module import Module, Parameter
from . import activation, containers, normalization
from .activation import *  # noqa: F401,F403
from .containers import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403

__all__ = ["Module", "Parameter", *layers.__all__]
__all__ += [*activation.__all__, *containers.__all__, *normalization.__all__]

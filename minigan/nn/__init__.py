"""Modules with torch.nn's names: each family module lists its own in __all__.

minigan.functional is also minigan.nn.functional, where torch keeps it, so that
`import minigan.nn.functional as F` works as `import torch.nn.functional as F` does."""
import sys

from .. import functional
from . import activation, containers, dropout, embedding, layers, loss, normalization, resample, softmax
from . import utils  # torch.nn.utils: spectral_norm
from .activation import *  # noqa: F401,F403
from .containers import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import Module, Parameter
from .normalization import *  # noqa: F401,F403
from .resample import *  # noqa: F401,F403
from .softmax import *  # noqa: F401,F403

sys.modules[f"{__name__}.functional"] = functional

__all__ = ["Module", "Parameter"] + [name for family in (activation, containers, dropout, embedding, layers, loss,
                                                         normalization, resample, softmax)
                                     for name in family.__all__]

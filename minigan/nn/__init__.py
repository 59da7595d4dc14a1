"""Modules with torch.nn's names: each family module lists its own in __all__."""
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

__all__ = ["Module", "Parameter"] + [name for family in (activation, containers, dropout, embedding, layers, loss,
                                                         normalization, resample, softmax)
                                     for name in family.__all__]

"""minigan: a small deep-learning engine on NumPy (CPU) and CuPy (GPU), built to train GANs."""
import importlib

from ._version import __version__

# The first import of the kernels, so that a source checkout that shadows the installed
# package fails here, in one line, rather than at the first op.
try:
    importlib.import_module(f"{__name__}.kernels")
except ModuleNotFoundError as error:
    if error.name != f"{__name__}.kernels":
        raise
    raise ImportError(
        f"minigan.kernels not found: {__path__[0]} is a source checkout, whose top-level kernels/ "
        f"becomes minigan.kernels only when installed, and it comes first on sys.path here, "
        f"shadowing any installed minigan; run `pip install -e .` in the checkout (or run from "
        f"outside it)") from None
from . import functional, init, nn, optim
from .autograd import Function, Tensor, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from .init import manual_seed

__all__ = ["__version__", "Function", "GradcheckError", "Tensor", "functional", "gradcheck", "init",
           "is_grad_enabled", "manual_seed", "nn", "no_grad", "optim"]

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
from . import function_hooks, functional, init, nn, optim, utils
from .autograd import Function, FunctionHook, Tensor, grad, is_grad_enabled, no_grad
from .creation import from_numpy, tensor
from .functional import (abs, argmax, argmin, cat, chunk, clamp, eq, exp, flatten, ge, gt, le, log, logsumexp, lt,
                         matmul, max, maximum, mean, min, minimum, ne, permute, pow, reshape, split, sqrt, squeeze,
                         stack, std, sum, transpose, unsqueeze, var, where)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .init import manual_seed
from .serialization import SerializationError, load, save
from .threads import get_num_threads, set_num_threads

functional.arithmetic.setup_tensor()  # Tensor's operators, as DeZero's setup_variable

__all__ = ["__version__", "Function", "FunctionHook", "GradcheckError", "SerializationError", "Tensor", "abs",
           "argmax", "argmin", "cat", "chunk", "clamp", "eq", "exp", "flatten", "from_numpy", "function_hooks",
           "functional", "ge", "get_num_threads", "grad", "gradcheck", "gradgradcheck", "gt", "init", "is_grad_enabled", "le", "load", "log",
           "logsumexp", "lt", "manual_seed", "matmul", "max", "maximum", "mean", "min", "minimum", "ne", "nn",
           "no_grad", "optim", "permute", "pow", "reshape", "save", "set_num_threads", "split", "sqrt", "squeeze",
           "stack", "std", "sum", "tensor", "transpose", "unsqueeze", "utils", "var", "where"]

"""minigan: a small deep-learning engine on NumPy (CPU) and CuPy (GPU), built to train GANs."""
from . import function_hooks, functional, init, nn, optim
from .autograd import Function, FunctionHook, Tensor, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from .init import manual_seed

functional.arithmetic.setup_tensor()  # Tensor's operators, as DeZero's setup_variable

__all__ = ["Function", "FunctionHook", "GradcheckError", "Tensor", "function_hooks", "functional",
           "gradcheck", "init", "is_grad_enabled", "manual_seed", "nn", "no_grad", "optim"]

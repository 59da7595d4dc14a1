"""minigan: a small deep-learning engine on NumPy (CPU) and CuPy (GPU), built to train GANs."""
from . import functional, init, nn, optim
from .autograd import Function, Tensor, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from .init import manual_seed

functional.arithmetic.setup_tensor()  # Tensor's operators, as DeZero's setup_variable

__all__ = ["Function", "GradcheckError", "Tensor", "functional", "gradcheck", "init",
           "is_grad_enabled", "manual_seed", "nn", "no_grad", "optim"]

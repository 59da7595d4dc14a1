"""Differentiable ops, with torch.nn.functional's names and signatures."""
from .activation import leaky_relu, relu, sigmoid, tanh
from .arithmetic import flatten, matmul, mean, reshape, sum
from .batchnorm import batch_norm
from .conv import conv2d, conv_transpose2d
from .linear import linear
from .loss import binary_cross_entropy_with_logits

__all__ = ["batch_norm", "binary_cross_entropy_with_logits", "conv2d", "conv_transpose2d",
           "flatten", "leaky_relu", "linear", "matmul", "mean", "relu", "reshape", "sigmoid",
           "sum", "tanh"]

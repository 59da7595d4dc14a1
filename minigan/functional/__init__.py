"""Differentiable ops, with torch.nn.functional's (and torch's) names and signatures."""
from .activation import leaky_relu, relu, sigmoid, tanh
from .arithmetic import matmul
from .batchnorm import batch_norm
from .conv import conv2d, conv_transpose2d
from .indexing import getitem
from .linear import linear
from .loss import binary_cross_entropy_with_logits
from .math import abs, clamp, eq, exp, ge, gt, le, log, lt, maximum, minimum, ne, pow, sqrt, where
from .pooling import avg_pool2d, max_pool2d
from .reduction import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .shape import cat, chunk, expand, flatten, permute, reshape, split, squeeze, stack, transpose, unsqueeze, view

__all__ = ["abs", "argmax", "argmin", "avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits", "cat",
           "chunk", "clamp", "conv2d", "conv_transpose2d", "eq", "exp", "expand", "flatten", "ge", "getitem", "gt",
           "le", "leaky_relu", "linear", "log", "logsumexp", "lt", "matmul", "max", "max_pool2d", "maximum",
           "mean", "min", "minimum", "ne", "permute", "pow", "relu", "reshape", "sigmoid", "split", "sqrt",
           "squeeze", "stack", "std", "sum", "tanh", "transpose", "unsqueeze", "var", "view", "where"]

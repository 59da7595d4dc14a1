"""Differentiable ops, with torch.nn.functional's names and signatures."""
from .activation import leaky_relu, relu, sigmoid, tanh
from .activation import elu, gelu, silu
from .arithmetic import flatten, matmul, mean, reshape, sum
from .batchnorm import batch_norm
from .conv import conv2d, conv_transpose2d
from .linear import linear
from .loss import binary_cross_entropy_with_logits
from .normalization import group_norm, instance_norm, layer_norm
from .pooling import avg_pool2d, max_pool2d

__all__ = ["avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits", "conv2d", "conv_transpose2d",
           "flatten", "leaky_relu", "linear", "matmul", "max_pool2d", "mean", "relu", "reshape", "sigmoid",
           "sum", "tanh"]
__all__ += ["elu", "gelu", "group_norm", "instance_norm", "layer_norm", "silu"]

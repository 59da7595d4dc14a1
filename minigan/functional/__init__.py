"""Differentiable ops, with torch.nn.functional's names and signatures."""
from .activation import leaky_relu, relu, sigmoid, tanh
from .arithmetic import flatten, matmul, mean, reshape, sum
from .batchnorm import batch_norm
from .conv import conv2d, conv_transpose2d
from .dropout import dropout, dropout2d
from .embedding import embedding
from .linear import linear
from .loss import binary_cross_entropy_with_logits
from .loss import binary_cross_entropy, cross_entropy, l1_loss, mse_loss, nll_loss
from .padding import pad
from .pooling import avg_pool2d, max_pool2d
from .resample import adaptive_avg_pool2d, interpolate
from .softmax import log_softmax, softmax

__all__ = ["avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits", "conv2d", "conv_transpose2d",
           "flatten", "leaky_relu", "linear", "matmul", "max_pool2d", "mean", "relu", "reshape", "sigmoid",
           "sum", "tanh"]
__all__ += ["adaptive_avg_pool2d", "binary_cross_entropy", "cross_entropy", "dropout", "dropout2d", "embedding",
            "interpolate", "l1_loss", "log_softmax", "mse_loss", "nll_loss", "pad", "softmax"]

"""Differentiable ops, with torch.nn.functional's (and torch's) names and signatures."""
from .activation import elu, gelu, leaky_relu, relu, sigmoid, silu, tanh
from .arithmetic import matmul
from .batchnorm import batch_norm, batch_norm_leaky_relu
from .conv import conv2d, conv_transpose2d
from .dropout import dropout, dropout2d
from .embedding import embedding
from .indexing import getitem
from .linear import linear
from .loss import binary_cross_entropy_with_logits
from .loss import binary_cross_entropy, cross_entropy, l1_loss, mse_loss, nll_loss
from .math import abs, clamp, eq, exp, ge, gt, le, log, lt, maximum, minimum, ne, pow, sqrt, where
from .normalization import group_norm, instance_norm, layer_norm
from .padding import pad
from .pooling import avg_pool2d, max_pool2d
from .reduction import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .resample import adaptive_avg_pool2d, interpolate
from .shape import cat, chunk, expand, flatten, permute, reshape, split, squeeze, stack, transpose, unsqueeze, view
from .softmax import log_softmax, softmax

# Every op imported above (the family modules themselves are not callable).
__all__ = sorted(name for name, value in globals().items() if callable(value) and not name.startswith("_"))

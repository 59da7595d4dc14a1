"""BCE with logits, mean-reduced, and its input gradient from one pass over the logits.

    loss   = mean(max(x, 0) - x * t + log1p(exp(-|x|)))
    grad_x = (sigmoid(x) - t) / x.size                    (d loss / d x)

exp only ever sees -|x|, so no x overflows. The GAN losses are over one logit
per image, so on the GPU one block does it all: the loss, its gradient, and
the mean as a fixed tree (deterministic), in one launch where the terms, their
mean and a backward kernel took three. The op (minigan/functional/loss.py)
keeps grad_x and only scales it by the upstream gradient in backward.
"""
from typing import Protocol

import numpy

from . import _cuda


class Contract(Protocol):
    def bce_with_logits_mean(self, x, target):
        """(loss, grad_x) as above: loss a 0-d array and grad_x an array of x's shape, both of
        x's dtype; target has x's shape and dtype."""


# ---------- CPU: plain NumPy, its own reference ----------

def _check(op, x, target):
    _cuda.check_dtype(op, x.dtype)
    if tuple(target.shape) != tuple(x.shape) or target.dtype != x.dtype:
        raise ValueError(f"minigan.kernels.{op}: target is {target.dtype} {tuple(target.shape)}, "
                         f"expected x's {x.dtype} {tuple(x.shape)}")


def bce_with_logits_mean_cpu(x, target):
    _check("bce_with_logits_mean", x, target)
    e = numpy.exp(-numpy.abs(x))
    terms = numpy.maximum(x, 0) - x * target + numpy.log1p(e)
    sigmoid = numpy.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return terms.mean(dtype=numpy.float64).astype(x.dtype), (sigmoid - target) / x.dtype.type(x.size)


# ---------- CUDA: kernels/cuda/bce_with_logits.cu, one block ----------

SOURCE = _cuda.Source("bce_with_logits.cu", templates=("bce_with_logits_mean",))


def bce_with_logits_mean_cuda(x, target):
    op = "bce_with_logits_mean"
    _check(op, x, target)
    x, target = _cuda.contiguous(op, x, target=target)
    cp = _cuda.get_cupy()
    loss, grad_x = cp.empty((), dtype=x.dtype), cp.empty_like(x)
    SOURCE.kernel(op, x.dtype)((1,), (_cuda.BLOCK,), (x, target, loss, grad_x, numpy.int64(x.size)))
    return loss, grad_x

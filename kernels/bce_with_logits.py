"""BCE with logits: the elementwise loss terms and their input gradient, and the
mean-reduced loss with its input gradient from one pass over the logits.

    term   = max(x, 0) - x * t + log1p(exp(-|x|))
    loss   = mean(term)
    grad_x = (sigmoid(x) - t) / x.size                    (d loss / d x)

exp only ever sees -|x|, so no x overflows. The GAN losses are over one logit
per image, so on the GPU one block computes the mean-reduced loss: the terms,
their gradient, and the mean as a fixed tree (deterministic), in one launch
where the terms, their mean and a backward kernel took three. The op
(minigan/functional/loss.py) keeps that grad_x and only scales it by the
upstream gradient in backward; its sum and unreduced forms take the terms, and
the sum's backward the gradient kernel. On the CPU the kernels are plain NumPy,
so they are their own reference.
"""
from typing import Protocol

import numpy

from . import _cuda
from .activation import sigmoid_cpu


class Contract(Protocol):
    def bce_with_logits_terms(self, x, target):
        """Elementwise max(x, 0) - x*t + log1p(exp(-|x|)), the BCE-with-logits loss before its mean."""

    def bce_with_logits_backward(self, x, target, grad=1.0, divisor=1):
        """grad * (sigmoid(x) - target) / divisor, elementwise, in x.dtype.

        grad is the upstream gradient of the mean loss: a number or a 1-element
        array (on the GPU it stays on the device, so no host sync). For the mean
        loss pass divisor = x.size.
        """

    def bce_with_logits_mean(self, x, target):
        """(loss, grad_x) as above: loss a 0-d array and grad_x an array of x's shape, both of
        x's dtype; target has x's shape and dtype."""


# ---------- CPU: plain NumPy, its own reference ----------

def _check(op, x, target):
    _cuda.check_dtype(op, x.dtype)
    if tuple(target.shape) != tuple(x.shape) or target.dtype != x.dtype:
        raise ValueError(f"minigan.kernels.{op}: target is {target.dtype} {tuple(target.shape)}, "
                         f"expected x's {x.dtype} {tuple(x.shape)}")


def bce_with_logits_terms_cpu(x, target):
    return numpy.maximum(x, 0) - x * target + numpy.log1p(numpy.exp(-numpy.abs(x)))


def bce_with_logits_backward_cpu(x, target, grad=1.0, divisor=1):
    return grad * (sigmoid_cpu(x) - target) / divisor


def bce_with_logits_mean_cpu(x, target):
    _check("bce_with_logits_mean", x, target)
    e = numpy.exp(-numpy.abs(x))
    terms = numpy.maximum(x, 0) - x * target + numpy.log1p(e)
    sigmoid = numpy.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return terms.mean(dtype=numpy.float64).astype(x.dtype), (sigmoid - target) / x.dtype.type(x.size)


# ---------- CUDA: kernels/cuda/bce_with_logits.cu, grid-stride over the flat elements or one block ----------

SOURCE = _cuda.Source("bce_with_logits.cu", templates=("bce_with_logits", "bce_with_logits_backward",
                                                       "bce_with_logits_mean"))


def bce_with_logits_terms_cuda(x, target):
    x, target = _cuda.contiguous("bce_with_logits_terms", x, target=target)
    terms = _cuda.get_cupy().empty_like(x)
    SOURCE.launch("bce_with_logits", x.dtype, x.size, (x, target, terms, numpy.int64(x.size)))
    return terms


def bce_with_logits_backward_cuda(x, target, grad=1.0, divisor=1):
    op = "bce_with_logits_backward"
    x, target = _cuda.contiguous(op, x, target=target)
    cp = _cuda.get_cupy()
    grad = cp.ascontiguousarray(cp.asarray(grad, dtype=x.dtype).reshape(-1))
    if grad.size != 1:
        raise ValueError(f"minigan.kernels.{op}: grad must be a number or a 1-element array, "
                         f"got shape {tuple(grad.shape)}")
    grad_x = cp.empty_like(x)
    SOURCE.launch(op, x.dtype, x.size, (x, target, grad, x.dtype.type(divisor), grad_x, numpy.int64(x.size)))
    return grad_x


def bce_with_logits_mean_cuda(x, target):
    op = "bce_with_logits_mean"
    _check(op, x, target)
    x, target = _cuda.contiguous(op, x, target=target)
    cp = _cuda.get_cupy()
    loss, grad_x = cp.empty((), dtype=x.dtype), cp.empty_like(x)
    SOURCE.kernel(op, x.dtype)((1,), (_cuda.BLOCK,), (x, target, loss, grad_x, numpy.int64(x.size)))
    return loss, grad_x

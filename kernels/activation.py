"""Elementwise activations, each one fused pass.

LeakyReLU keeps its input's memory order (the batch-innermost images of the
convolutions stay batch-innermost, kernels run on the flat memory): y, and
the input gradient, are laid out as x and y are. Its backward reads the
forward's output y, not x: for a slope >= 0,
y > 0 exactly when x > 0, so nothing else need be kept (minigan's LeakyReLU
keeps a mask itself for negative slopes). Tanh's backward too reads the output,
laid out as it. Sigmoid is written so exp only ever sees -|x|: no overflow for
any x. On the CPU the sigmoid kernel is plain NumPy, so it is its own reference
(kernels/bce_with_logits.py's loss gradient uses it too).
"""
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit


class Contract(Protocol):
    def leaky_relu(self, x, negative_slope=0.01):
        """x > 0 ? x : x * negative_slope, as a new array in x's memory order (ReLU is slope 0);
        the slope is rounded to x.dtype first."""

    def leaky_relu_backward(self, grad, y, negative_slope=0.01):
        """grad * (y > 0 ? 1 : negative_slope), from leaky_relu's output y, in y's memory order.
        Exact only for negative_slope >= 0, so a negative slope raises ValueError."""

    def tanh_backward(self, grad, y):
        """grad * (1 - y * y): tanh's input gradient from its output y, in y's memory order (one
        pass, where array operations take three)."""

    def sigmoid(self, x):
        """1 / (1 + exp(-x)) elementwise, in x.dtype, without overflow."""


def _check_slope(negative_slope):
    if negative_slope < 0:
        raise ValueError(f"minigan.kernels.leaky_relu_backward: negative_slope must be >= 0 to recover "
                         f"the sign of the input from the output y, got {negative_slope}")


def _memory_order(a):
    """a's axes from the largest stride to the smallest."""
    return sorted(range(a.ndim), key=lambda axis: -a.strides[axis])


def _dense(a):
    """a where its elements fill its memory in some axis order, else a C-contiguous copy."""
    return a if a.transpose(_memory_order(a)).flags.c_contiguous else a.copy()


def _flat(a):
    """The 1-D view of a dense array's memory (see _dense)."""
    return a.transpose(_memory_order(a)).reshape(-1)


def _laid_out_as(a, like, xp):
    """a with like's strides: a itself if it has them, else a copy."""
    if a.strides == like.strides:
        return a
    copy = xp.empty_like(like)
    copy[...] = a
    return copy


# ---------- the plain NumPy reference (and the CPU's sigmoid) ----------

def leaky_relu_reference(x, negative_slope=0.01):
    return numpy.where(x > 0, x, x * x.dtype.type(negative_slope))


def leaky_relu_backward_reference(grad, y, negative_slope=0.01):
    _check_slope(negative_slope)
    return numpy.where(y > 0, grad, grad * grad.dtype.type(negative_slope))


def tanh_backward_reference(grad, y):
    return grad * (1 - y * y)


def sigmoid_cpu(x):
    e = numpy.exp(-numpy.abs(x))
    return numpy.where(x >= 0, 1 / (1 + e), e / (1 + e))



# ---------- CPU: Numba, parallel over the flat elements ----------

@jit
def _leaky_relu(x, slope, y):
    for k in numba.prange(x.size):
        v = x[k]
        y[k] = v if v > 0 else v * slope


@jit
def _leaky_relu_backward(grad, y, slope, grad_x):
    for k in numba.prange(grad.size):
        grad_x[k] = grad[k] if y[k] > 0 else grad[k] * slope


@jit
def _tanh_backward(grad, y, one, grad_x):
    for k in numba.prange(grad.size):
        grad_x[k] = grad[k] * (one - y[k] * y[k])


def leaky_relu_cpu(x, negative_slope=0.01):
    x = _dense(x)
    y = numpy.empty_like(x)  # x's strides
    _leaky_relu(_flat(x), x.dtype.type(negative_slope), _flat(y))
    return y


def leaky_relu_backward_cpu(grad, y, negative_slope=0.01):
    _check_slope(negative_slope)
    y = _dense(y)
    grad = _laid_out_as(grad, y, numpy)
    grad_x = numpy.empty_like(y)
    _leaky_relu_backward(_flat(grad), _flat(y), grad.dtype.type(negative_slope), _flat(grad_x))
    return grad_x


def tanh_backward_cpu(grad, y):
    y = _dense(y)
    grad = _laid_out_as(grad, y, numpy)
    grad_x = numpy.empty_like(y)
    _tanh_backward(_flat(grad), _flat(y), y.dtype.type(1), _flat(grad_x))
    return grad_x


# ---------- CUDA: kernels/cuda/activation.cu, grid-stride over the flat elements ----------

SOURCE = _cuda.Source("activation.cu", templates=("leaky_relu", "leaky_relu_backward", "tanh_backward", "sigmoid"))


def leaky_relu_cuda(x, negative_slope=0.01):
    _cuda.check_like("leaky_relu", x)
    x = _dense(x)
    y = _cuda.get_cupy().empty_like(x)  # x's strides
    SOURCE.launch("leaky_relu", x.dtype, x.size, (_flat(x), _flat(y), numpy.int64(x.size),
                                                  x.dtype.type(negative_slope)))
    return y


def leaky_relu_backward_cuda(grad, y, negative_slope=0.01):
    _cuda.check_like("leaky_relu_backward", grad, y=y)
    _check_slope(negative_slope)
    cp = _cuda.get_cupy()
    y = _dense(y)
    grad = _laid_out_as(grad, y, cp)
    grad_x = cp.empty_like(y)
    SOURCE.launch("leaky_relu_backward", grad.dtype, grad.size,
                  (_flat(grad), _flat(y), _flat(grad_x), numpy.int64(grad.size), grad.dtype.type(negative_slope)))
    return grad_x


def tanh_backward_cuda(grad, y):
    _cuda.check_like("tanh_backward", grad, y=y)
    cp = _cuda.get_cupy()
    y = _dense(y)
    grad = _laid_out_as(grad, y, cp)
    grad_x = cp.empty_like(y)
    SOURCE.launch("tanh_backward", grad.dtype, grad.size,
                  (_flat(grad), _flat(y), _flat(grad_x), numpy.int64(grad.size)))
    return grad_x


def sigmoid_cuda(x):
    x, = _cuda.contiguous("sigmoid", x)
    y = _cuda.get_cupy().empty_like(x)
    SOURCE.launch("sigmoid", x.dtype, x.size, (x, y, numpy.int64(x.size)))
    return y

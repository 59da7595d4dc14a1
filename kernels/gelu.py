"""GELU, exact (erf) and tanh-approximated, forward and backward, each one fused pass.

A kernel family of its own because NumPy has no erf: the exact form cannot be written in
array-module calls that both NumPy and CuPy have. The formulas are PyTorch's:
  exact   y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)),     dy/dx = Phi(x) + x phi(x)
  tanh    y = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3),
          dy/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
The backward recomputes from x (one array kept), as torch's does.
"""
import math
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit

APPROXIMATIONS = ("none", "tanh")
KAPPA = 0.044715
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class Contract(Protocol):
    def gelu(self, x, approximate="none"):
        """GELU of x elementwise, as a new array in x.dtype; approximate is "none" (erf) or "tanh"."""

    def gelu_backward(self, grad, x, approximate="none"):
        """grad * dGELU/dx at x, elementwise, in x.dtype."""


def _tanh_form(approximate):
    if approximate not in APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate == "tanh"


# ---------- the plain NumPy reference (math.erf per element: slow, exact) ----------

_erf = numpy.vectorize(math.erf, otypes=[numpy.float64])


def gelu_reference(x, approximate="none"):
    v = x.astype(numpy.float64)
    if _tanh_form(approximate):
        y = 0.5 * v * (1 + numpy.tanh(SQRT_2_OVER_PI * (v + KAPPA * v ** 3)))
    else:
        y = 0.5 * v * (1 + _erf(v / math.sqrt(2)))
    return y.astype(x.dtype)


def gelu_backward_reference(grad, x, approximate="none"):
    v = x.astype(numpy.float64)
    if _tanh_form(approximate):
        t = numpy.tanh(SQRT_2_OVER_PI * (v + KAPPA * v ** 3))
        slope = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * KAPPA * v * v)
    else:
        slope = 0.5 * (1 + _erf(v / math.sqrt(2))) + v * INV_SQRT_2PI * numpy.exp(-0.5 * v * v)
    return (grad * slope).astype(x.dtype)


# ---------- CPU: Numba, parallel over the flat elements ----------

@jit
def _gelu(x, tanh_form, y):
    one, half = x.dtype.type(1), x.dtype.type(0.5)
    kappa, beta, root_half = x.dtype.type(KAPPA), x.dtype.type(SQRT_2_OVER_PI), x.dtype.type(math.sqrt(0.5))
    for k in numba.prange(x.size):
        v = x[k]
        if tanh_form:
            y[k] = half * v * (one + math.tanh(beta * (v + kappa * v * v * v)))
        else:
            y[k] = half * v * (one + math.erf(v * root_half))


@jit
def _gelu_backward(grad, x, tanh_form, grad_x):
    one, half, three = x.dtype.type(1), x.dtype.type(0.5), x.dtype.type(3)
    kappa, beta, root_half = x.dtype.type(KAPPA), x.dtype.type(SQRT_2_OVER_PI), x.dtype.type(math.sqrt(0.5))
    alpha = x.dtype.type(INV_SQRT_2PI)
    for k in numba.prange(x.size):
        v = x[k]
        if tanh_form:
            t = math.tanh(beta * (v + kappa * v * v * v))
            slope = half * (one + t) + half * v * (one - t * t) * beta * (one + three * kappa * v * v)
        else:
            slope = half * (one + math.erf(v * root_half)) + v * alpha * math.exp(-half * v * v)
        grad_x[k] = grad[k] * slope


def gelu_cpu(x, approximate="none"):
    tanh_form = _tanh_form(approximate)
    x = numpy.ascontiguousarray(x)
    y = numpy.empty_like(x)
    _gelu(x.reshape(-1), tanh_form, y.reshape(-1))
    return y


def gelu_backward_cpu(grad, x, approximate="none"):
    tanh_form = _tanh_form(approximate)
    grad = numpy.ascontiguousarray(grad, dtype=x.dtype)
    grad_x = numpy.empty_like(grad)
    _gelu_backward(grad.reshape(-1), numpy.ascontiguousarray(x).reshape(-1), tanh_form, grad_x.reshape(-1))
    return grad_x


# ---------- CUDA: kernels/cuda/gelu.cu, grid-stride over the flat elements ----------

SOURCE = _cuda.Source("gelu.cu", templates=("gelu", "gelu_backward"))


def gelu_cuda(x, approximate="none"):
    tanh_form = _tanh_form(approximate)
    x, = _cuda.contiguous("gelu", x)
    y = _cuda.get_cupy().empty_like(x)
    SOURCE.launch("gelu", x.dtype, x.size, (x, y, numpy.int64(x.size), numpy.int32(tanh_form)))
    return y


def gelu_backward_cuda(grad, x, approximate="none"):
    tanh_form = _tanh_form(approximate)
    grad, x = _cuda.contiguous("gelu_backward", grad, input=x)
    grad_x = _cuda.get_cupy().empty_like(grad)
    SOURCE.launch("gelu_backward", grad.dtype, grad.size,
                  (grad, x, grad_x, numpy.int64(grad.size), numpy.int32(tanh_form)))
    return grad_x

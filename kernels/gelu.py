"""GELU, exact (erf) and tanh-approximated, forward and backward; on the GPU each one fused pass.

A kernel family of its own because NumPy has no erf: the exact form cannot be written in
array-module calls that both NumPy and CuPy have. The formulas are PyTorch's:
  exact   y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)),     dy/dx = Phi(x) + x phi(x)
  tanh    y = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3),
          dy/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
The backward recomputes from x (one array kept), as torch's does. On the CPU the exact form is
a Numba loop (libm's erf, one element at a time) and the tanh form NumPy calls, whose tanh is
vectorized: a Numba loop over the tanh form took about 25 times longer here.
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


def _tanh_gelu(v):
    """The tanh form in v's dtype (the CPU kernel, and the reference in float64)."""
    return 0.5 * v * (1 + numpy.tanh(SQRT_2_OVER_PI * (v + KAPPA * v * v * v)))


def _tanh_gelu_slope(v):
    t = numpy.tanh(SQRT_2_OVER_PI * (v + KAPPA * v * v * v))
    return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * KAPPA * v * v)


def gelu_reference(x, approximate="none"):
    v = x.astype(numpy.float64)
    y = _tanh_gelu(v) if _tanh_form(approximate) else 0.5 * v * (1 + _erf(v / math.sqrt(2)))
    return y.astype(x.dtype)


def gelu_backward_reference(grad, x, approximate="none"):
    v = x.astype(numpy.float64)
    if _tanh_form(approximate):
        slope = _tanh_gelu_slope(v)
    else:
        slope = 0.5 * (1 + _erf(v / math.sqrt(2))) + v * INV_SQRT_2PI * numpy.exp(-0.5 * v * v)
    return (grad * slope).astype(x.dtype)


# ---------- CPU: the exact form in Numba, parallel over the flat elements; the tanh form in NumPy ----------

@jit
def _gelu(x, y):
    one, half, root_half = x.dtype.type(1), x.dtype.type(0.5), x.dtype.type(math.sqrt(0.5))
    for k in numba.prange(x.size):
        y[k] = half * x[k] * (one + math.erf(x[k] * root_half))


@jit
def _gelu_backward(grad, x, grad_x):
    one, half = x.dtype.type(1), x.dtype.type(0.5)
    root_half, alpha = x.dtype.type(math.sqrt(0.5)), x.dtype.type(INV_SQRT_2PI)
    for k in numba.prange(x.size):
        v = x[k]
        grad_x[k] = grad[k] * (half * (one + math.erf(v * root_half)) + v * alpha * math.exp(-half * v * v))


def gelu_cpu(x, approximate="none"):
    if _tanh_form(approximate):
        return _tanh_gelu(x).astype(x.dtype, copy=False)
    x = numpy.ascontiguousarray(x)
    y = numpy.empty_like(x)
    _gelu(x.reshape(-1), y.reshape(-1))
    return y


def gelu_backward_cpu(grad, x, approximate="none"):
    if _tanh_form(approximate):
        return (grad * _tanh_gelu_slope(x)).astype(x.dtype, copy=False)
    grad = numpy.ascontiguousarray(grad, dtype=x.dtype)
    grad_x = numpy.empty_like(grad)
    _gelu_backward(grad.reshape(-1), numpy.ascontiguousarray(x).reshape(-1), grad_x.reshape(-1))
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

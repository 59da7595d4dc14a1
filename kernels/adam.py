"""The fused, in-place Adam step over a parameter's flat buffer (PyTorch's formula).

    g      = grad + weight_decay * param
    m     += (g - m) * (1 - beta1)
    v      = beta2 * v + (1 - beta2) * g * g
    param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)

The arithmetic is done in double on both backends; only the stored m, v and
param are rounded to their dtype. The Numba kernel is the reference: the
tests check it against a naive loop and the CUDA kernel against it.
"""
import math
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit


class Contract(Protocol):
    def adam_update(self, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
        """One fused, in-place Adam step (bias correction in the step size).

        param, exp_avg and exp_avg_sq are updated in place, so they must be
        C-contiguous; all four arrays share param's dtype and size. step is this
        step's number: an int, or a 0-d int64 array holding it (Adam's capturable
        mode: on the GPU the kernel reads it when it runs, so a CUDA graph replay
        uses the current step, not the captured one).
        """


# ---------- CPU: Numba ----------

@jit
def _adam_update(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                 bias_correction1, bias_correction2_sqrt):
    for k in numba.prange(param.size):
        g = grad[k] + weight_decay * param[k]
        exp_avg[k] += (g - exp_avg[k]) * (1 - beta1)
        exp_avg_sq[k] = beta2 * exp_avg_sq[k] + (1 - beta2) * g * g
        denom = math.sqrt(exp_avg_sq[k]) / bias_correction2_sqrt + eps
        param[k] -= lr / bias_correction1 * exp_avg[k] / denom


def _bias_corrections(step, beta1, beta2):
    return 1 - beta1 ** step, math.sqrt(1 - beta2 ** step)


def check_buffers(op, dtype, param, grad, exp_avg, exp_avg_sq):
    """The contract's sizes, dtypes and layouts; neither Numba nor CUDA checks bounds."""
    for name, a in (("param", param), ("grad", grad), ("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)):
        if a.dtype != dtype or a.size != param.size:
            raise ValueError(f"minigan.kernels.{op}: {name} is {a.dtype} {tuple(a.shape)}, "
                             f"expected {dtype} with {param.size} elements like param")
        if name != "grad" and not a.flags.c_contiguous:
            raise ValueError(f"minigan.kernels.{op}: {name} is updated in place and must be C-contiguous")


def adam_update_cpu(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    check_buffers("adam_update", param.dtype, param, grad, exp_avg, exp_avg_sq)
    _adam_update(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
                 lr, beta1, beta2, eps, weight_decay, *_bias_corrections(int(step), beta1, beta2))


# ---------- CUDA: kernels/cuda/adam.cu ----------

SOURCE = _cuda.Source("adam.cu", templates=("adam_update", "adam_update_counted"))


def adam_update_cuda(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    op = "adam_update"
    dtype = _cuda.check_dtype(op, param.dtype)
    cp = _cuda.get_cupy()
    check_buffers(op, dtype, param, grad, exp_avg, exp_avg_sq)
    buffers = (param, cp.ascontiguousarray(grad), exp_avg, exp_avg_sq)
    hyper = [numpy.float64(v) for v in (lr, beta1, beta2, eps, weight_decay)]
    if isinstance(step, cp.ndarray):
        if step.shape != () or step.dtype != numpy.int64:
            raise ValueError(f"minigan.kernels.{op}: a device step must be a 0-d int64 array, "
                             f"got {step.dtype} {tuple(step.shape)}")
        SOURCE.launch("adam_update_counted", dtype, param.size,
                      (*buffers, step, numpy.int64(param.size), *hyper))
        return
    corrections = [numpy.float64(c) for c in _bias_corrections(step, beta1, beta2)]
    SOURCE.launch(op, dtype, param.size, (*buffers, numpy.int64(param.size), *hyper, *corrections))

"""The fused, in-place Adam step over a parameter's flat buffer (torch.optim.Adam's formula).

    g      = -grad if maximize else grad
    param *= 1 - lr * weight_decay             (decoupled, AdamW)
    g     += weight_decay * param              (otherwise, L2 in the gradient)
    m     += (g - m) * (1 - beta1)
    v      = beta2 * v + (1 - beta2) * g * g
    vmax   = max(vmax, v)                      (amsgrad; then vmax stands for v below)
    param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)

The arithmetic is done in double on every backend; only the stored m, v, vmax
and param are rounded to their dtype. adam_update_reference is that formula
in NumPy array operations; the tests check it against a naive loop, and the
Numba and CUDA kernels against it.
"""
import math
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit


class Contract(Protocol):
    def adam_update(self, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay, *,
                    max_exp_avg_sq=None, decoupled_weight_decay=False, maximize=False):
        """One fused, in-place Adam step (bias correction in the step size).

        param, exp_avg, exp_avg_sq (and max_exp_avg_sq) are updated in place, so
        they must be C-contiguous; all the arrays share param's dtype and size.
        step is this step's number: an int, or a 0-d int64 array holding it
        (Adam's capturable mode: on the GPU the kernel reads it when it runs, so a
        CUDA graph replay uses the current step, not the captured one).
        max_exp_avg_sq: amsgrad's running maximum of exp_avg_sq, or None without
        amsgrad. decoupled_weight_decay: AdamW's decay of param itself instead of
        the L2 term in the gradient. maximize: ascend instead of descend.
        """


def _bias_corrections(step, beta1, beta2):
    return 1 - beta1 ** step, math.sqrt(1 - beta2 ** step)


def check_buffers(op, dtype, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq):
    """The contract's sizes, dtypes and layouts; neither Numba nor CUDA checks bounds."""
    arrays = {"param": param, "grad": grad, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    if max_exp_avg_sq is not None:
        arrays["max_exp_avg_sq"] = max_exp_avg_sq
    for name, a in arrays.items():
        if a.dtype != dtype or a.size != param.size:
            raise ValueError(f"minigan.kernels.{op}: {name} is {a.dtype} {tuple(a.shape)}, "
                             f"expected {dtype} with {param.size} elements like param")
        if name != "grad" and not a.flags.c_contiguous:
            raise ValueError(f"minigan.kernels.{op}: {name} is updated in place and must be C-contiguous")


# ---------- reference: NumPy ----------

def adam_update_reference(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay, *,
                          max_exp_avg_sq=None, decoupled_weight_decay=False, maximize=False):
    check_buffers("adam_update", param.dtype, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)
    p = param.astype(numpy.float64)
    g = -grad.astype(numpy.float64) if maximize else grad.astype(numpy.float64)
    if decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    exp_avg[...] = exp_avg + (g - exp_avg) * (1 - beta1)
    exp_avg_sq[...] = beta2 * exp_avg_sq.astype(numpy.float64) + (1 - beta2) * g * g
    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        numpy.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    bias_correction1, bias_correction2_sqrt = _bias_corrections(int(step), beta1, beta2)
    denom = numpy.sqrt(second.astype(numpy.float64)) / bias_correction2_sqrt + eps
    param[...] = p - lr / bias_correction1 * exp_avg.astype(numpy.float64) / denom


# ---------- CPU: Numba ----------

@jit
def _adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, decoupled, grad_sign,
                 lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2_sqrt):
    for k in numba.prange(param.size):
        p = numpy.float64(param[k])
        g = grad_sign * numpy.float64(grad[k])
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        exp_avg[k] += (g - exp_avg[k]) * (1 - beta1)
        exp_avg_sq[k] = beta2 * exp_avg_sq[k] + (1 - beta2) * g * g
        second = exp_avg_sq[k]
        if amsgrad:
            second = max(max_exp_avg_sq[k], second)
            max_exp_avg_sq[k] = second
        denom = math.sqrt(second) / bias_correction2_sqrt + eps
        param[k] = p - lr / bias_correction1 * exp_avg[k] / denom


def adam_update_cpu(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay, *,
                    max_exp_avg_sq=None, decoupled_weight_decay=False, maximize=False):
    check_buffers("adam_update", param.dtype, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)
    amsgrad = max_exp_avg_sq is not None
    # Without amsgrad the kernel never touches its max buffer; exp_avg_sq stands in for it.
    maxes = (max_exp_avg_sq if amsgrad else exp_avg_sq).reshape(-1)
    _adam_update(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1), maxes,
                 amsgrad, bool(decoupled_weight_decay), -1.0 if maximize else 1.0,
                 lr, beta1, beta2, eps, weight_decay, *_bias_corrections(int(step), beta1, beta2))


# ---------- CUDA: kernels/cuda/adam.cu ----------

SOURCE = _cuda.Source("adam.cu", templates=("adam_update", "adam_update_counted"))


def adam_update_cuda(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay, *,
                     max_exp_avg_sq=None, decoupled_weight_decay=False, maximize=False):
    op = "adam_update"
    dtype = _cuda.check_dtype(op, param.dtype)
    cp = _cuda.get_cupy()
    check_buffers(op, dtype, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)
    amsgrad = max_exp_avg_sq is not None
    buffers = (param, cp.ascontiguousarray(grad), exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else exp_avg_sq)
    options = [numpy.int32(amsgrad), numpy.int32(bool(decoupled_weight_decay)), numpy.float64(-1 if maximize else 1)]
    hyper = [numpy.float64(v) for v in (lr, beta1, beta2, eps, weight_decay)]
    if isinstance(step, cp.ndarray):
        if step.shape != () or step.dtype != numpy.int64:
            raise ValueError(f"minigan.kernels.{op}: a device step must be a 0-d int64 array, "
                             f"got {step.dtype} {tuple(step.shape)}")
        SOURCE.launch("adam_update_counted", dtype, param.size,
                      (*buffers, step, numpy.int64(param.size), *options, *hyper))
        return
    corrections = [numpy.float64(c) for c in _bias_corrections(int(step), beta1, beta2)]
    SOURCE.launch(op, dtype, param.size, (*buffers, numpy.int64(param.size), *options, *hyper, *corrections))

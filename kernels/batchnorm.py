"""Batch normalization's kernels, on channel rows: x (C, M), channel c's M values in row c.

The ops pass batch-innermost images (minigan/functional/layout.py) seen as
(C, H*W*N), so every channel is one contiguous row. One reduction fused with
the per-channel scalars (the statistics, inv_std and the running statistics),
one elementwise pass that normalizes and scales; in backward, one reduction
(the sums) and one elementwise pass (the compact input gradient of
minigan/functional/batchnorm.py). The reductions sum in double, in a fixed
order for any thread count: one Numba thread, or one CUDA block, per channel
(the Numba loops in SIMD lanes, kernels/_jit.py's reassociate). On the GPU the
backward is one launch per layer: each channel's block sums, then writes the input
gradient, and writes (or adds) the weight and bias gradients where the caller says.
"""
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit


class Contract(Protocol):
    def batch_norm_stats(self, x, eps, momentum=0.1, running_mean=None, running_var=None):
        """(mean, inv_std) per channel row of x (C, M), in one pass; M must not be 0.

        mean and the biased (population) variance var are summed in double around a
        shift (x[c, 0]), so var does not cancel when the mean is large; inv_std =
        1 / sqrt(var + eps). Both are (C,) arrays of x.dtype. Where running_mean and
        running_var are given ((C,) arrays of x.dtype), they are updated in place as
        PyTorch does: r = (1 - momentum) * r + momentum * s, with the unbiased
        variance var * M / (M - 1).
        """

    def batch_norm_forward_apply(self, x, mean, inv_std, weight=None, bias=None):
        """(y, x_hat) of x (C, M): x_hat = (x - mean[c]) * inv_std[c], y = x_hat * weight[c] + bias[c].

        mean, inv_std, weight and bias are (C,) arrays of x.dtype; weight and bias
        may be None (then y equals x_hat but is a separate array). One pass.
        """

    def batch_norm_backward(self, grad_y, x_hat, inv_std, weight=None, grad_weight=None, grad_bias=None,
                            accumulate=(False, False)):
        """(grad_x, grad_weight, grad_bias) of the training forward, from channel rows grad_y and
        x_hat (C, M) and the forward's inv_std (and weight, 1 where None), (C,) arrays.

        The sums sum_dy = sum(grad_y) (the bias gradient) and sum_dy_xhat =
        sum(grad_y * x_hat) (the weight gradient) per channel, in double, rounded to
        grad_y.dtype; then the compact input gradient grad_x = scale[c] * (grad_y -
        sum_dy[c] / M - x_hat * sum_dy_xhat[c] / M), scale = weight * inv_std. grad_weight
        and grad_bias, where given (contiguous (C,) arrays of grad_y.dtype), receive the
        two sums in place (added to their values where accumulate, a pair of flags, says)
        and are returned; else the sums are new arrays. grad_x is always this call's.
        """


def _check_rows(op, x):
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"minigan.kernels.{op}: expected channel rows (C, M) with M > 0, got shape {x.shape}")


def _check_in_place(op, x, **arrays):
    """Each of arrays (by name) that is given must be a contiguous (C,) array of x.dtype: it is
    written in place."""
    for name, a in arrays.items():
        if a is not None and (tuple(a.shape) != (x.shape[0],) or a.dtype != x.dtype
                              or not a.flags.c_contiguous):
            raise ValueError(f"minigan.kernels.{op}: {name} must be a contiguous ({x.shape[0]},) array of "
                             f"{x.dtype}, to be updated in place; got {a.dtype} {tuple(a.shape)}")


def _check_running(op, x, running_mean, running_var):
    """Whether there are running statistics to update, after checking that they can be: both or
    neither, each a contiguous (C,) array of x.dtype (they are written in place)."""
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"minigan.kernels.{op}: give both running_mean and running_var, or neither")
    _check_in_place(op, x, running_mean=running_mean, running_var=running_var)
    return running_mean is not None


def _into(total, out, accumulate):
    """total (C,), or out holding it (out + total with accumulate)."""
    if out is None:
        return total
    if accumulate:
        out += total
    else:
        out[...] = total
    return out


# ---------- the plain NumPy reference ----------

def batch_norm_stats_reference(x, eps, momentum=0.1, running_mean=None, running_var=None):
    _check_rows("batch_norm_stats", x)
    mean, var = x.mean(axis=1), x.var(axis=1)
    if running_mean is not None:
        count = x.shape[1]
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        running_var[...] = (1 - momentum) * running_var + momentum * var * (count / (count - 1))
    return mean, 1 / numpy.sqrt(var + eps)


def batch_norm_forward_apply_reference(x, mean, inv_std, weight=None, bias=None):
    x_hat = (x - mean[:, None]) * inv_std[:, None]
    y = x_hat if weight is None else x_hat * weight[:, None]
    y = y if bias is None else y + bias[:, None]
    return (y.copy() if y is x_hat else y), x_hat


def batch_norm_backward_reference(grad_y, x_hat, inv_std, weight=None, grad_weight=None, grad_bias=None,
                                  accumulate=(False, False)):
    count = grad_y.shape[1]
    sum_dy, sum_dy_xhat = grad_y.sum(axis=1), (grad_y * x_hat).sum(axis=1)
    scale = inv_std if weight is None else weight * inv_std
    grad_x = scale[:, None] * (grad_y - (sum_dy / count)[:, None] - x_hat * (sum_dy_xhat / count)[:, None])
    return grad_x, _into(sum_dy_xhat, grad_weight, accumulate[0]), _into(sum_dy, grad_bias, accumulate[1])


# ---------- CPU: Numba, one thread per channel row ----------

@jit(reassociate=True)
def _batch_norm_stats(x, eps, momentum, update, mean, inv_std, running_mean, running_var):
    channels, count = x.shape
    for c in numba.prange(channels):
        row = x[c]
        shift = numpy.float64(row[0])  # sums around a sample: no cancellation for large means
        s = 0.0
        s2 = 0.0
        for k in range(count):
            d = row[k] - shift
            s += d
            s2 += d * d
        m = s / count
        var = max(s2 / count - m * m, 0.0)
        mean[c] = shift + m
        inv_std[c] = 1 / numpy.sqrt(var + eps)
        if update:
            running_mean[c] = (1 - momentum) * running_mean[c] + momentum * (shift + m)
            running_var[c] = (1 - momentum) * running_var[c] + momentum * var * (count / (count - 1))


def batch_norm_stats_cpu(x, eps, momentum=0.1, running_mean=None, running_var=None):
    _check_rows("batch_norm_stats", x)
    update = _check_running("batch_norm_stats", x, running_mean, running_var)
    mean, inv_std = numpy.empty(x.shape[0], x.dtype), numpy.empty(x.shape[0], x.dtype)
    _batch_norm_stats(numpy.ascontiguousarray(x), float(eps), float(momentum), update, mean, inv_std,
                      running_mean if update else mean, running_var if update else inv_std)
    return mean, inv_std


@jit
def _batch_norm_forward_apply(x, mean, inv_std, weight, bias, x_hat, y):
    channels, count = x.shape
    for c in numba.prange(channels):
        m, s, w, b = mean[c], inv_std[c], weight[c], bias[c]
        for k in range(count):
            h = (x[c, k] - m) * s
            x_hat[c, k] = h
            y[c, k] = h * w + b


def batch_norm_forward_apply_cpu(x, mean, inv_std, weight=None, bias=None):
    c, dtype = x.shape[0], x.dtype
    weight = numpy.ones(c, dtype) if weight is None else numpy.ascontiguousarray(weight, dtype)
    bias = numpy.zeros(c, dtype) if bias is None else numpy.ascontiguousarray(bias, dtype)
    x_hat, y = numpy.empty(x.shape, dtype), numpy.empty(x.shape, dtype)
    _batch_norm_forward_apply(numpy.ascontiguousarray(x), numpy.ascontiguousarray(mean, dtype),
                              numpy.ascontiguousarray(inv_std, dtype), weight, bias, x_hat, y)
    return y, x_hat


@jit(reassociate=True)
def _batch_norm_backward_reduce(grad_y, x_hat, sum_dy, sum_dy_xhat):
    channels, count = grad_y.shape
    for c in numba.prange(channels):
        dy, xh = grad_y[c], x_hat[c]
        s = 0.0
        sx = 0.0
        for k in range(count):
            g = numpy.float64(dy[k])
            s += g
            sx += g * xh[k]
        sum_dy[c] = s
        sum_dy_xhat[c] = sx




@jit
def _batch_norm_backward_apply(grad_y, x_hat, scale, mean_dy, mean_dy_xhat, grad_x):
    channels, count = grad_y.shape
    for c in numba.prange(channels):
        s, m, mx = scale[c], mean_dy[c], mean_dy_xhat[c]
        for k in range(count):
            grad_x[c, k] = s * (grad_y[c, k] - m - x_hat[c, k] * mx)


def batch_norm_backward_cpu(grad_y, x_hat, inv_std, weight=None, grad_weight=None, grad_bias=None,
                            accumulate=(False, False)):
    _check_rows("batch_norm_backward", grad_y)
    _check_in_place("batch_norm_backward", grad_y, grad_weight=grad_weight, grad_bias=grad_bias)
    (channels, count), dtype = grad_y.shape, grad_y.dtype
    grad_y, x_hat = numpy.ascontiguousarray(grad_y), numpy.ascontiguousarray(x_hat, dtype)
    sum_dy, sum_dy_xhat = numpy.empty(channels, dtype), numpy.empty(channels, dtype)
    _batch_norm_backward_reduce(grad_y, x_hat, sum_dy, sum_dy_xhat)
    scale = inv_std if weight is None else weight * inv_std
    grad_x = numpy.empty(grad_y.shape, dtype)
    _batch_norm_backward_apply(grad_y, x_hat, *(numpy.ascontiguousarray(a, dtype) for a in
                                                (scale, sum_dy / count, sum_dy_xhat / count)), grad_x)
    return grad_x, _into(sum_dy_xhat, grad_weight, accumulate[0]), _into(sum_dy, grad_bias, accumulate[1])


# ---------- CUDA: kernels/cuda/batchnorm.cu ----------

SOURCE = _cuda.Source("batchnorm.cu", templates=("batch_norm_stats", "batch_norm_forward_apply",
                                                 "batch_norm_backward"))


def _channel_arrays(op, channels, dtype, **arrays):
    """Each of arrays (by name) as a contiguous (C,) device array of dtype, None staying None."""
    return [_cuda.per_channel(op, name, a, channels, dtype) for name, a in arrays.items()]


def _rows(op, x, **like_x):
    """x and like_x as contiguous device arrays, with x's (C, M) checked and M fitting in an int."""
    arrays = _cuda.contiguous(op, x, **like_x)
    _check_rows(op, arrays[0])
    _cuda.check_int(op, C=x.shape[0], M=x.shape[1])
    return arrays


def batch_norm_stats_cuda(x, eps, momentum=0.1, running_mean=None, running_var=None):
    op = "batch_norm_stats"
    x, = _rows(op, x)
    channels, count = x.shape
    update = _check_running(op, x, running_mean, running_var)
    mean, inv_std = (_cuda.get_cupy().empty(channels, dtype=x.dtype) for _ in range(2))
    SOURCE.launch_per_channel(op, x.dtype, channels,
                              (x, mean, inv_std, running_mean if update else mean,
                               running_var if update else inv_std, numpy.float64(eps), numpy.float64(momentum),
                               *_cuda.i32(channels, count, update)))
    return mean, inv_std


def batch_norm_forward_apply_cuda(x, mean, inv_std, weight=None, bias=None):
    op = "batch_norm_forward_apply"
    x, = _rows(op, x)
    channels, count = x.shape
    mean, inv_std, weight, bias = _channel_arrays(op, channels, x.dtype, mean=mean, inv_std=inv_std,
                                                 weight=weight, bias=bias)
    x_hat, y = (_cuda.get_cupy().empty_like(x) for _ in range(2))
    SOURCE.launch_rows(op, x.dtype, channels, count,
                       (x, mean, inv_std, x if weight is None else weight, x if bias is None else bias, x_hat, y,
                        *_cuda.i32(channels, count, weight is not None, bias is not None)))
    return y, x_hat


def batch_norm_backward_cuda(grad_y, x_hat, inv_std, weight=None, grad_weight=None, grad_bias=None,
                             accumulate=(False, False)):
    op = "batch_norm_backward"
    grad_y, x_hat = _rows(op, grad_y, x_hat=x_hat)
    channels, count = grad_y.shape
    _check_in_place(op, grad_y, grad_weight=grad_weight, grad_bias=grad_bias)
    inv_std, weight = _channel_arrays(op, channels, grad_y.dtype, inv_std=inv_std, weight=weight)
    cp = _cuda.get_cupy()
    grad_x = cp.empty_like(grad_y)
    grad_weight, grad_bias = (cp.empty(channels, dtype=grad_y.dtype) if out is None else out
                              for out in (grad_weight, grad_bias))
    SOURCE.launch_per_channel(op, grad_y.dtype, channels,
                              (grad_y, x_hat, inv_std, inv_std if weight is None else weight, grad_x, grad_weight,
                               grad_bias, *_cuda.i32(channels, count, weight is not None, *accumulate)))
    return grad_x, grad_weight, grad_bias

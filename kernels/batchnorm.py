"""Batch normalization's kernels, per channel c of (N, C, *spatial) arrays.

Two reductions (the statistics; the sums of the backward) and two
elementwise passes (normalize and scale; the compact input gradient of
minigan/functional/batchnorm.py). The reductions sum in double, in a fixed
order for any thread count: one Numba thread, or one CUDA block, per channel.
"""
import math
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit


class Contract(Protocol):
    def batch_norm_stats(self, x):
        """(mean, var) per channel of x (N, C, *spatial) over all axes but 1, in one pass.

        var is the biased (population) variance, as x.var(axis=(0, 2, 3)). Both are
        (C,) arrays of x.dtype, summed in double around a shift (x[0, c, 0, 0]) so
        the variance does not cancel when the mean is large. x must not be empty.
        """

    def batch_norm_forward_apply(self, x, mean, inv_std, weight=None, bias=None):
        """(y, x_hat): x_hat = (x - mean[c]) * inv_std[c], y = x_hat * weight[c] + bias[c].

        mean, inv_std, weight and bias are (C,) arrays of x.dtype; weight and bias
        may be None (then y equals x_hat but is a separate array). One pass.
        """

    def batch_norm_backward_reductions(self, grad_y, x_hat):
        """(sum_dy, sum_dy_xhat) per channel: sums of grad_y and of grad_y * x_hat over all axes but 1.

        These are batchnorm's bias and weight gradients, (C,) arrays of
        grad_y.dtype, summed in double in one pass.
        """

    def batch_norm_backward_apply(self, grad_y, x_hat, scale, mean_dy, mean_dy_xhat):
        """grad_x = scale[c] * (grad_y - mean_dy[c] - x_hat * mean_dy_xhat[c]).

        The compact training-mode input gradient, with scale = weight * inv_std (or
        inv_std), mean_dy = sum_dy / count and mean_dy_xhat = sum_dy_xhat / count,
        count = N * prod(spatial). All three are (C,) arrays of grad_y.dtype. For
        evaluation mode pass zeros for both means.
        """


# ---------- the plain NumPy reference ----------

def _per_channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _stat_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def batch_norm_stats_reference(x):
    axes = _stat_axes(x)
    return x.mean(axis=axes), x.var(axis=axes)


def batch_norm_forward_apply_reference(x, mean, inv_std, weight=None, bias=None):
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)
    y = x_hat if weight is None else x_hat * _per_channel(weight, x.ndim)
    y = y if bias is None else y + _per_channel(bias, x.ndim)
    return (y.copy() if y is x_hat else y), x_hat


def batch_norm_backward_reductions_reference(grad_y, x_hat):
    axes = _stat_axes(grad_y)
    return grad_y.sum(axis=axes), (grad_y * x_hat).sum(axis=axes)


def batch_norm_backward_apply_reference(grad_y, x_hat, scale, mean_dy, mean_dy_xhat):
    d = grad_y.ndim
    return _per_channel(scale, d) * (grad_y - _per_channel(mean_dy, d) - x_hat * _per_channel(mean_dy_xhat, d))


# ---------- CPU: Numba on (N, C, plane) views ----------

def _nc_plane(x):
    x = numpy.ascontiguousarray(x)
    return x.reshape(x.shape[0], x.shape[1], -1)


@jit
def _batch_norm_stats(x, mean, var):
    n_img, channels, plane = x.shape
    count = n_img * plane
    for c in numba.prange(channels):
        shift = numpy.float64(x[0, c, 0])  # sums around a sample: no cancellation for large means
        s = 0.0
        s2 = 0.0
        for n in range(n_img):
            for k in range(plane):
                d = x[n, c, k] - shift
                s += d
                s2 += d * d
        m = s / count
        mean[c] = shift + m
        var[c] = max(s2 / count - m * m, 0.0)


def _check_not_empty(x):
    if x.shape[0] * math.prod(x.shape[2:]) == 0:
        raise ValueError(f"minigan.kernels.batch_norm_stats: no values per channel in shape {x.shape}")


def batch_norm_stats_cpu(x):
    _check_not_empty(x)
    x3 = _nc_plane(x)
    mean, var = numpy.empty(x3.shape[1], x.dtype), numpy.empty(x3.shape[1], x.dtype)
    _batch_norm_stats(x3, mean, var)
    return mean, var


@jit
def _batch_norm_forward_apply(x, mean, inv_std, weight, bias, x_hat, y):
    n_img, channels, plane = x.shape
    for nc in numba.prange(n_img * channels):
        n, c = nc // channels, nc % channels
        m, s, w, b = mean[c], inv_std[c], weight[c], bias[c]
        for k in range(plane):
            h = (x[n, c, k] - m) * s
            x_hat[n, c, k] = h
            y[n, c, k] = h * w + b


def batch_norm_forward_apply_cpu(x, mean, inv_std, weight=None, bias=None):
    x3 = _nc_plane(x)
    c, dtype = x3.shape[1], x.dtype
    weight = numpy.ones(c, dtype) if weight is None else numpy.ascontiguousarray(weight, dtype)
    bias = numpy.zeros(c, dtype) if bias is None else numpy.ascontiguousarray(bias, dtype)
    x_hat, y = numpy.empty(x.shape, dtype), numpy.empty(x.shape, dtype)
    _batch_norm_forward_apply(x3, numpy.ascontiguousarray(mean, dtype), numpy.ascontiguousarray(inv_std, dtype),
                              weight, bias, x_hat.reshape(x3.shape), y.reshape(x3.shape))
    return y, x_hat


@jit
def _batch_norm_backward_reduce(grad_y, x_hat, sum_dy, sum_dy_xhat):
    n_img, channels, plane = grad_y.shape
    for c in numba.prange(channels):
        s = 0.0
        sx = 0.0
        for n in range(n_img):
            for k in range(plane):
                g = numpy.float64(grad_y[n, c, k])
                s += g
                sx += g * x_hat[n, c, k]
        sum_dy[c] = s
        sum_dy_xhat[c] = sx


def batch_norm_backward_reductions_cpu(grad_y, x_hat):
    g3 = _nc_plane(grad_y)
    sum_dy, sum_dy_xhat = numpy.empty(g3.shape[1], grad_y.dtype), numpy.empty(g3.shape[1], grad_y.dtype)
    _batch_norm_backward_reduce(g3, _nc_plane(x_hat), sum_dy, sum_dy_xhat)
    return sum_dy, sum_dy_xhat


@jit
def _batch_norm_backward_apply(grad_y, x_hat, scale, mean_dy, mean_dy_xhat, grad_x):
    n_img, channels, plane = grad_y.shape
    for nc in numba.prange(n_img * channels):
        n, c = nc // channels, nc % channels
        s, m, mx = scale[c], mean_dy[c], mean_dy_xhat[c]
        for k in range(plane):
            grad_x[n, c, k] = s * (grad_y[n, c, k] - m - x_hat[n, c, k] * mx)


def batch_norm_backward_apply_cpu(grad_y, x_hat, scale, mean_dy, mean_dy_xhat):
    g3 = _nc_plane(grad_y)
    dtype = grad_y.dtype
    grad_x = numpy.empty(grad_y.shape, dtype)
    _batch_norm_backward_apply(g3, _nc_plane(x_hat), *(numpy.ascontiguousarray(a, dtype) for a in
                                                      (scale, mean_dy, mean_dy_xhat)),
                               grad_x.reshape(g3.shape))
    return grad_x


# ---------- CUDA: kernels/cuda/batchnorm.cu ----------

SOURCE = _cuda.Source("batchnorm.cu", templates=("batch_norm_stats", "batch_norm_forward_apply",
                                                 "batch_norm_backward_reduce", "batch_norm_backward_apply"))


def batch_norm_stats_cuda(x):
    op = "batch_norm_stats"
    x, = _cuda.contiguous(op, x)
    n, channels, plane = _cuda.layout(op, x)
    _check_not_empty(x)
    mean, var = (_cuda.get_cupy().empty(channels, dtype=x.dtype) for _ in range(2))
    SOURCE.launch_per_channel(op, x.dtype, channels, (x, mean, var, *_cuda.i32(n, channels, plane)))
    return mean, var


def _channel_arrays(op, channels, dtype, **arrays):
    """Each of arrays (by name) as a contiguous (C,) device array of dtype, None staying None."""
    return [_cuda.per_channel(op, name, a, channels, dtype) for name, a in arrays.items()]


def batch_norm_forward_apply_cuda(x, mean, inv_std, weight=None, bias=None):
    op = "batch_norm_forward_apply"
    x, = _cuda.contiguous(op, x)
    _, channels, plane = _cuda.layout(op, x)
    mean, inv_std, weight, bias = _channel_arrays(op, channels, x.dtype, mean=mean, inv_std=inv_std,
                                                 weight=weight, bias=bias)
    x_hat, y = (_cuda.get_cupy().empty_like(x) for _ in range(2))
    SOURCE.launch(op, x.dtype, x.size,
                  (x, mean, inv_std, x if weight is None else weight, x if bias is None else bias, x_hat, y,
                   numpy.int64(x.size), *_cuda.i32(channels, plane, weight is not None, bias is not None)))
    return y, x_hat


def batch_norm_backward_reductions_cuda(grad_y, x_hat):
    op = "batch_norm_backward_reductions"
    grad_y, x_hat = _cuda.contiguous(op, grad_y, x_hat=x_hat)
    n, channels, plane = _cuda.layout(op, grad_y)
    sum_dy, sum_dy_xhat = (_cuda.get_cupy().zeros(channels, dtype=grad_y.dtype) for _ in range(2))
    if grad_y.size:
        SOURCE.launch_per_channel("batch_norm_backward_reduce", grad_y.dtype, channels,
                                  (grad_y, x_hat, sum_dy, sum_dy_xhat, *_cuda.i32(n, channels, plane)))
    return sum_dy, sum_dy_xhat


def batch_norm_backward_apply_cuda(grad_y, x_hat, scale, mean_dy, mean_dy_xhat):
    op = "batch_norm_backward_apply"
    grad_y, x_hat = _cuda.contiguous(op, grad_y, x_hat=x_hat)
    _, channels, plane = _cuda.layout(op, grad_y)
    per_channel = _channel_arrays(op, channels, grad_y.dtype, scale=scale, mean_dy=mean_dy,
                                  mean_dy_xhat=mean_dy_xhat)
    grad_x = _cuda.get_cupy().empty_like(grad_y)
    SOURCE.launch(op, grad_y.dtype, grad_y.size, (grad_y, x_hat, *per_channel, grad_x, numpy.int64(grad_y.size),
                                                  *_cuda.i32(channels, plane)))
    return grad_x

"""Batch normalization's kernels, fused with the LeakyReLU that may follow it, on channel rows:
x (C, M), channel c's M values in row c.

The ops pass batch-innermost images (minigan/functional/layout.py) seen as
(C, H*W*N), so every channel is one contiguous row. Every kernel but the
statistics applies act(z) = z > 0 ? z : z * negative_slope to the normalized
and scaled z = x_hat * weight + bias: slope 0 is ReLU, 0.2 DCGAN's LeakyReLU,
and slope 1 the identity (z * 1 is z exactly), plain batchnorm. Forward: one
reduction fused with the per-channel scalars (the statistics, inv_std and the
running statistics), one elementwise pass writing act(z). Backward: one
reduction (the sums) and one elementwise pass (the compact input gradient of
minigan/functional/batchnorm.py), both reading the upstream gradient and x:
they recompute x_hat and z, and apply act's slope to the gradient on the fly,
so neither x_hat nor the activation's input is ever stored. The reductions sum
in double, in a fixed order for any thread count: one Numba thread, or one
CUDA block, per channel (the Numba loops in SIMD lanes, kernels/_jit.py's
reassociate). z is computed by one helper without reassociation in every
kernel, so backward's slopes are exactly forward's. On the GPU the backward is
one launch per layer: each channel's block sums, then writes the input gradient,
and writes (or adds) the weight and bias gradients where the caller says.
"""
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit, jit_serial

IDENTITY = 1.0  # the negative slope of no activation: z * 1 is z


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

    def batch_norm_forward_apply(self, x, mean, inv_std, weight=None, bias=None, negative_slope=IDENTITY):
        """y (C, M) = act(z), z = x_hat * weight[c] + bias[c], x_hat = (x - mean[c]) * inv_std[c].

        act(z) = z > 0 ? z : z * negative_slope (rounded to x.dtype); the default
        slope 1 is no activation. mean, inv_std, weight and bias are (C,) arrays of
        x.dtype; weight and bias may be None (1 and 0). One pass; y is a new array.
        """

    def batch_norm_backward(self, grad_y, x, mean, inv_std, weight=None, bias=None, negative_slope=IDENTITY,
                            batch_statistics=True, grad_weight=None, grad_bias=None, accumulate=(False, False)):
        """(grad_x, grad_weight, grad_bias) of batch_norm_forward_apply's y, from channel rows grad_y
        and x (C, M) and the forward's per-channel arrays.

        dz = grad_y * act'(z) is the gradient at the activation's input (z and x_hat
        of x as in batch_norm_forward_apply; act'(z) = z > 0 ? 1 : negative_slope).
        The sums sum_dz = sum(dz) (the bias gradient) and sum_dz_xhat = sum(dz * x_hat)
        (the weight gradient) per channel, in double, rounded to grad_y.dtype; then
        the compact input gradient grad_x = weight[c] * inv_std[c] * (dz - sum_dz[c] / M
        - x_hat * sum_dz_xhat[c] / M) with batch_statistics (training), or weight *
        inv_std * dz without (evaluation: the statistics are constants). grad_weight
        and grad_bias, where given (contiguous (C,) arrays of grad_y.dtype), receive the
        two sums in place (added to their values where accumulate, a pair of flags,
        says) and are returned; else the sums are new arrays. grad_x is always this call's.
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


def _normalized_reference(x, mean, inv_std, weight, bias):
    """(x_hat, z) of rows x."""
    x_hat = (x - mean[:, None]) * inv_std[:, None]
    z = x_hat if weight is None else x_hat * weight[:, None]
    return x_hat, (z if bias is None else z + bias[:, None])


def batch_norm_forward_apply_reference(x, mean, inv_std, weight=None, bias=None, negative_slope=IDENTITY):
    z = _normalized_reference(x, mean, inv_std, weight, bias)[1]
    return numpy.where(z > 0, z, z * x.dtype.type(negative_slope))


def _dz_reference(grad_y, x, mean, inv_std, weight, bias, negative_slope):
    """(dz, x_hat): the gradient at the activation's input, and x_hat."""
    x_hat, z = _normalized_reference(x, mean, inv_std, weight, bias)
    return numpy.where(z > 0, grad_y, grad_y * grad_y.dtype.type(negative_slope)), x_hat


def batch_norm_backward_reference(grad_y, x, mean, inv_std, weight=None, bias=None, negative_slope=IDENTITY,
                                  batch_statistics=True, grad_weight=None, grad_bias=None, accumulate=(False, False)):
    dz, x_hat = _dz_reference(grad_y, x, mean, inv_std, weight, bias, negative_slope)
    sum_dz, sum_dz_xhat = dz.sum(axis=1), (dz * x_hat).sum(axis=1)
    scale = inv_std if weight is None else weight * inv_std
    if batch_statistics:
        count = x.shape[1]
        dz = dz - (sum_dz / count)[:, None] - x_hat * (sum_dz_xhat / count)[:, None]
    return scale[:, None] * dz, _into(sum_dz_xhat, grad_weight, accumulate[0]), _into(sum_dz, grad_bias, accumulate[1])


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


@jit_serial
def _normalized(v, m, s, w, b):
    """(x_hat, z) of one value. Its own function, compiled without fastmath: the reductions'
    reassociation cannot reach into it once inlined, so every kernel computes z alike."""
    h = (v - m) * s
    return h, h * w + b


def _per_channel(x, mean, inv_std, weight, bias):
    """mean, inv_std, weight (ones if None) and bias (zeros if None) as contiguous (C,) arrays of x.dtype."""
    c, dtype = x.shape[0], x.dtype
    weight = numpy.ones(c, dtype) if weight is None else weight
    bias = numpy.zeros(c, dtype) if bias is None else bias
    return [numpy.ascontiguousarray(a, dtype) for a in (mean, inv_std, weight, bias)]


@jit
def _batch_norm_forward_apply(x, mean, inv_std, weight, bias, slope, y):
    channels, count = x.shape
    for c in numba.prange(channels):
        m, s, w, b = mean[c], inv_std[c], weight[c], bias[c]
        for k in range(count):
            z = _normalized(x[c, k], m, s, w, b)[1]
            y[c, k] = z if z > 0 else z * slope


def batch_norm_forward_apply_cpu(x, mean, inv_std, weight=None, bias=None, negative_slope=IDENTITY):
    y = numpy.empty(x.shape, x.dtype)
    _batch_norm_forward_apply(numpy.ascontiguousarray(x), *_per_channel(x, mean, inv_std, weight, bias),
                              x.dtype.type(negative_slope), y)
    return y


@jit(reassociate=True)
def _batch_norm_backward_reduce(grad_y, x, mean, inv_std, weight, bias, slope, sum_dz, sum_dz_xhat):
    channels, count = grad_y.shape
    for c in numba.prange(channels):
        m, s, w, b = mean[c], inv_std[c], weight[c], bias[c]
        dy, xc = grad_y[c], x[c]
        t = 0.0
        tx = 0.0
        for k in range(count):
            h, z = _normalized(xc[k], m, s, w, b)
            g = numpy.float64(dy[k] if z > 0 else dy[k] * slope)
            t += g
            tx += g * h
        sum_dz[c] = t
        sum_dz_xhat[c] = tx


@jit
def _batch_norm_backward_apply(grad_y, x, mean, inv_std, weight, bias, slope, mean_dz, mean_dz_xhat, grad_x):
    channels, count = grad_y.shape
    for c in numba.prange(channels):
        m, s, w, b = mean[c], inv_std[c], weight[c], bias[c]
        scale, md, mdx = w * s, mean_dz[c], mean_dz_xhat[c]
        for k in range(count):
            h, z = _normalized(x[c, k], m, s, w, b)
            g = grad_y[c, k] if z > 0 else grad_y[c, k] * slope
            grad_x[c, k] = scale * (g - md - h * mdx)


def batch_norm_backward_cpu(grad_y, x, mean, inv_std, weight=None, bias=None, negative_slope=IDENTITY,
                            batch_statistics=True, grad_weight=None, grad_bias=None, accumulate=(False, False)):
    op = "batch_norm_backward"
    _check_rows(op, grad_y)
    _check_in_place(op, grad_y, grad_weight=grad_weight, grad_bias=grad_bias)
    (channels, count), dtype = grad_y.shape, grad_y.dtype
    grad_y, x = numpy.ascontiguousarray(grad_y), numpy.ascontiguousarray(x, dtype)
    affine, slope = _per_channel(x, mean, inv_std, weight, bias), dtype.type(negative_slope)
    sum_dz, sum_dz_xhat = numpy.empty(channels, dtype), numpy.empty(channels, dtype)
    _batch_norm_backward_reduce(grad_y, x, *affine, slope, sum_dz, sum_dz_xhat)
    if batch_statistics:
        mean_dz, mean_dz_xhat = sum_dz / dtype.type(count), sum_dz_xhat / dtype.type(count)
    else:  # evaluation: the statistics do not depend on x
        mean_dz = mean_dz_xhat = numpy.zeros(channels, dtype)
    grad_x = numpy.empty(grad_y.shape, dtype)
    _batch_norm_backward_apply(grad_y, x, *affine, slope, mean_dz, mean_dz_xhat, grad_x)
    return grad_x, _into(sum_dz_xhat, grad_weight, accumulate[0]), _into(sum_dz, grad_bias, accumulate[1])


# ---------- CUDA: kernels/cuda/batchnorm.cu ----------

SOURCE = _cuda.Source("batchnorm.cu", templates=("batch_norm_stats", "batch_norm_forward_apply",
                                                 "batch_norm_backward"))


def _channel_arrays(op, channels, dtype, **arrays):
    """Each of arrays (by name) as a contiguous (C,) device array of dtype, None staying None."""
    return [_cuda.per_channel(op, name, a, channels, dtype) for name, a in arrays.items()]


def _rows(op, x, /, **like_x):
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


def _affine_cuda(op, channels, dtype, mean, inv_std, weight, bias):
    """The launch arguments mean, inv_std, weight, bias (mean standing in for a missing one), has_weight,
    has_bias."""
    mean, inv_std, weight, bias = _channel_arrays(op, channels, dtype, mean=mean, inv_std=inv_std,
                                                 weight=weight, bias=bias)
    return (mean, inv_std, mean if weight is None else weight, mean if bias is None else bias,
            *_cuda.i32(weight is not None, bias is not None))


def batch_norm_forward_apply_cuda(x, mean, inv_std, weight=None, bias=None, negative_slope=IDENTITY):
    op = "batch_norm_forward_apply"
    x, = _rows(op, x)
    channels, count = x.shape
    y = _cuda.get_cupy().empty_like(x)
    SOURCE.launch_rows(op, x.dtype, channels, count,
                       (x, *_affine_cuda(op, channels, x.dtype, mean, inv_std, weight, bias),
                        x.dtype.type(negative_slope), y, *_cuda.i32(channels, count)))
    return y


def batch_norm_backward_cuda(grad_y, x, mean, inv_std, weight=None, bias=None, negative_slope=IDENTITY,
                             batch_statistics=True, grad_weight=None, grad_bias=None, accumulate=(False, False)):
    op = "batch_norm_backward"
    grad_y, x = _rows(op, grad_y, x=x)
    channels, count = grad_y.shape
    _check_in_place(op, grad_y, grad_weight=grad_weight, grad_bias=grad_bias)
    cp = _cuda.get_cupy()
    grad_x = cp.empty_like(grad_y)
    grad_weight, grad_bias = (cp.empty(channels, dtype=grad_y.dtype) if out is None else out
                              for out in (grad_weight, grad_bias))
    SOURCE.launch_per_channel(op, grad_y.dtype, channels,
                              (grad_y, x, *_affine_cuda(op, channels, grad_y.dtype, mean, inv_std, weight, bias),
                               grad_y.dtype.type(negative_slope), grad_x, grad_weight, grad_bias,
                               *_cuda.i32(channels, count, batch_statistics, *accumulate)))
    return grad_x, grad_weight, grad_bias

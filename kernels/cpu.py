"""CPU kernels: Numba-jitted, parallel over independent output rows or planes.

col2im is a gather (each image pixel sums the column entries that map to it),
so threads never write the same element and results do not depend on the
thread count. See kernels/reference.py for the layout.
"""
import math

import numba
import numpy

from ._jit import jit


@jit
def _im2col(flat, x_shape, kh, kw, sh, sw, ph, pw, oh, ow, rows, cols, col):
    n_img, channels, height, width = x_shape  # flat is x.ravel(): no per-row views in the loops
    for row in numba.prange(channels * kh * kw):
        c, i, j = row // (kh * kw), (row // kw) % kh, row % kw
        y_lo, y_hi, x_lo, x_hi = rows[i, 0], rows[i, 1], cols[j, 0], cols[j, 1]
        dst = col[row]
        for n in range(n_img):
            for y in range(oh):
                base = (n * oh + y) * ow
                if y < y_lo or y >= y_hi:
                    for x_out in range(ow):
                        dst[base + x_out] = 0
                    continue
                src = ((n * channels + c) * height + y * sh - ph + i) * width - pw + j
                for x_out in range(x_lo):
                    dst[base + x_out] = 0
                for x_out in range(x_lo, x_hi):
                    dst[base + x_out] = flat[src + x_out * sw]
                for x_out in range(x_hi, ow):
                    dst[base + x_out] = 0


@jit
def _col2im(col, kh, kw, sh, sw, ph, pw, oh, ow, rows, cols, chunk, x_shape, flat):
    n_img, channels, height, width = x_shape  # flat is the output x, raveled
    plane = height * width
    n_chunks = (n_img + chunk - 1) // chunk
    # One work item owns channel c of images n0..n1-1 (whole planes), so no two
    # threads write one element. It streams each col row (c, i, j) once, in a
    # fixed order, adding into the owned planes: every pixel sums its taps in
    # (i, j) order, the same for any thread count and chunk.
    for item in numba.prange(channels * n_chunks):
        c, n0 = item // n_chunks, (item % n_chunks) * chunk
        n1 = min(n_img, n0 + chunk)
        for n in range(n0, n1):
            start = (n * channels + c) * plane
            flat[start:start + plane] = 0
        for i in range(kh):
            y_lo, y_hi = rows[i, 0], rows[i, 1]
            for j in range(kw):
                x_lo, x_hi = cols[j, 0], cols[j, 1]
                src = col[(c * kh + i) * kw + j]
                for n in range(n0, n1):
                    for y in range(y_lo, y_hi):
                        out = ((n * channels + c) * height + y * sh - ph + i) * width - pw + j
                        base = (n * oh + y) * ow
                        for x_out in range(x_lo, x_hi):
                            flat[out + x_out * sw] += src[base + x_out]


def _inside(k, stride, pad, out_size, in_size):
    """(k, 2) int64: for each tap t, the outputs lo <= o < hi with 0 <= o*stride - pad + t < in_size."""
    ranges = numpy.empty((k, 2), dtype=numpy.int64)
    for t in range(k):
        lo = min(out_size, max(0, -((t - pad) // stride)))
        hi = max(lo, min(out_size, (in_size - 1 + pad - t) // stride + 1))
        ranges[t] = lo, hi
    return ranges


def _taps(x_shape, kh, kw, stride, padding, out_hw):
    """The in-bounds output ranges of every kernel row and column tap (see _inside)."""
    return (_inside(kh, stride[0], padding[0], out_hw[0], x_shape[2]),
            _inside(kw, stride[1], padding[1], out_hw[1], x_shape[3]))


def im2col(x, kh, kw, stride, padding, out_hw):
    n, c = x.shape[:2]
    col = numpy.empty((c * kh * kw, n * out_hw[0] * out_hw[1]), dtype=x.dtype)
    _im2col(numpy.ascontiguousarray(x).ravel(), x.shape, kh, kw, *stride, *padding, *out_hw,
            *_taps(x.shape, kh, kw, stride, padding, out_hw), col)
    return col


def col2im(col, x_shape, kh, kw, stride, padding, out_hw):
    x = numpy.empty(x_shape, dtype=col.dtype)
    n, c = x_shape[:2]
    # Enough work items (channels x image chunks) to balance the threads, few
    # enough that each still streams long runs of its col rows.
    chunk = max(1, min(n, n * c // (8 * numba.get_num_threads())))
    _col2im(numpy.ascontiguousarray(col), kh, kw, *stride, *padding, *out_hw,
            *_taps(x_shape, kh, kw, stride, padding, out_hw), chunk, x.shape, x.reshape(-1))
    return x


@jit
def _adam_update(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                 bias_correction1, bias_correction2_sqrt):
    for k in numba.prange(param.size):
        g = grad[k] + weight_decay * param[k]
        exp_avg[k] += (g - exp_avg[k]) * (1 - beta1)
        exp_avg_sq[k] = beta2 * exp_avg_sq[k] + (1 - beta2) * g * g
        denom = math.sqrt(exp_avg_sq[k]) / bias_correction2_sqrt + eps
        param[k] -= lr / bias_correction1 * exp_avg[k] / denom


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    """One fused, in-place Adam step (PyTorch's formula, bias correction in the step size).

    step is this step's number: an int, or a 0-d int64 array holding it (Adam's capturable mode).
    """
    step = int(step)
    _adam_update(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
                 lr, beta1, beta2, eps, weight_decay, 1 - beta1 ** step, math.sqrt(1 - beta2 ** step))


# ---------- fused activations (signatures shared with kernels/gpu.py) ----------

def _channels(x, bias):
    """x as a contiguous (N, C, plane) array when bias (C,) is given, else (1, 1, size)."""
    x = numpy.ascontiguousarray(x)
    if bias is None:
        return x, x.reshape(1, 1, -1), numpy.zeros(1, dtype=x.dtype)
    return x, x.reshape(x.shape[0], x.shape[1], -1), numpy.ascontiguousarray(bias, dtype=x.dtype)


@jit
def _bias_leaky_relu(x, bias, use_bias, slope, y):
    n_img, channels, plane = x.shape
    for nc in numba.prange(n_img * channels):
        n, c = nc // channels, nc % channels
        b = bias[c]
        for k in range(plane):
            v = x[n, c, k] + b if use_bias else x[n, c, k]
            y[n, c, k] = v if v > 0 else v * slope


def bias_leaky_relu(x, bias=None, negative_slope=0.01):
    """leaky_relu(x + bias[c], negative_slope) for x (N, C, *spatial); ReLU is slope 0.

    bias (C,) or None (then x may have any shape). Returns a new array; adds in
    x.dtype, then multiplies by the slope rounded to x.dtype.
    """
    x, x3, b = _channels(x, bias)
    y = numpy.empty_like(x)
    _bias_leaky_relu(x3, b, bias is not None, x.dtype.type(negative_slope), y.reshape(x3.shape))
    return y


@jit
def _leaky_relu_backward(grad, y, slope, grad_x, grad_bias, want_bias):
    n_img, channels, plane = grad.shape
    for c in numba.prange(channels):
        total = 0.0
        for n in range(n_img):
            for k in range(plane):
                g = grad[n, c, k] if y[n, c, k] > 0 else grad[n, c, k] * slope
                grad_x[n, c, k] = g
                if want_bias:
                    total += g
        grad_bias[c] = total


def bias_leaky_relu_backward(grad, y, negative_slope=0.01, bias_grad=False):
    """Gradients of y = bias_leaky_relu(x, bias, negative_slope), from its output y.

    Returns grad_x = grad * (y > 0 ? 1 : negative_slope), or with bias_grad
    (grad_x, grad_bias) where grad_bias (C,) sums grad_x over all axes but 1 (in
    double, per channel in a fixed order). Reading y instead of x is exact only
    for negative_slope >= 0, so a negative slope raises ValueError.
    """
    if negative_slope < 0:
        raise ValueError(f"bias_leaky_relu_backward: negative_slope must be >= 0 to recover the "
                         f"sign of the input from the output y, got {negative_slope}")
    grad = numpy.ascontiguousarray(grad)
    g3 = grad.reshape(grad.shape[0], grad.shape[1], -1) if bias_grad else grad.reshape(1, 1, -1)
    grad_x = numpy.empty_like(grad)
    grad_bias = numpy.empty(g3.shape[1], dtype=grad.dtype)
    _leaky_relu_backward(g3, numpy.ascontiguousarray(y).reshape(g3.shape), grad.dtype.type(negative_slope),
                         grad_x.reshape(g3.shape), grad_bias, bias_grad)
    return (grad_x, grad_bias) if bias_grad else grad_x


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise, in x.dtype, without overflow (exp only sees -|x|)."""
    e = numpy.exp(-numpy.abs(x))
    return numpy.where(x >= 0, 1 / (1 + e), e / (1 + e))


def bce_with_logits_terms(x, target):
    """Elementwise max(x, 0) - x*t + log1p(exp(-|x|)), the BCE-with-logits loss before its mean."""
    return numpy.maximum(x, 0) - x * target + numpy.log1p(numpy.exp(-numpy.abs(x)))


def bce_with_logits_backward(x, target, grad=1.0, divisor=1):
    """grad * (sigmoid(x) - target) / divisor, elementwise, in x.dtype (grad a number or 1 element)."""
    return grad * (sigmoid(x) - target) / divisor


# ---------- batch normalization, per channel c of (N, C, *spatial) arrays ----------

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


def batch_norm_stats(x):
    """(mean, var) per channel of x (N, C, *spatial) over all axes but 1, in one pass.

    var is the biased (population) variance, as x.var(axis=(0, 2, 3)). Both are
    (C,) arrays of x.dtype, summed in double around a shift (x[0, c, 0, 0]) so
    the variance does not cancel when the mean is large. x must not be empty.
    """
    x3 = _nc_plane(x)
    if x3.shape[0] * x3.shape[2] == 0:
        raise ValueError(f"batch_norm_stats: no values per channel in shape {x.shape}")
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


def batch_norm_forward_apply(x, mean, inv_std, weight=None, bias=None):
    """(y, x_hat): x_hat = (x - mean[c]) * inv_std[c], y = x_hat * weight[c] + bias[c].

    mean, inv_std, weight and bias are (C,) arrays of x.dtype; weight and bias
    may be None (then y equals x_hat but is a separate array). One pass.
    """
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


def batch_norm_backward_reductions(grad_y, x_hat):
    """(sum_dy, sum_dy_xhat) per channel: sums of grad_y and of grad_y * x_hat over all axes but 1.

    These are batchnorm's bias and weight gradients, (C,) arrays of
    grad_y.dtype, summed in double in one pass, one thread per channel.
    """
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


def batch_norm_backward_apply(grad_y, x_hat, scale, mean_dy, mean_dy_xhat):
    """grad_x = scale[c] * (grad_y - mean_dy[c] - x_hat * mean_dy_xhat[c]).

    The compact training-mode input gradient, with scale = weight * inv_std (or
    inv_std), mean_dy = sum_dy / count and mean_dy_xhat = sum_dy_xhat / count,
    count = N * prod(spatial). All three are (C,) arrays of grad_y.dtype. For
    evaluation mode pass zeros for both means.
    """
    g3 = _nc_plane(grad_y)
    dtype = grad_y.dtype
    grad_x = numpy.empty(grad_y.shape, dtype)
    _batch_norm_backward_apply(g3, _nc_plane(x_hat), *(numpy.ascontiguousarray(a, dtype) for a in
                                                      (scale, mean_dy, mean_dy_xhat)),
                               grad_x.reshape(g3.shape))
    return grad_x


# ---------- counter-based random numbers ----------

VALUES_PER_PHILOX_BLOCK = 4  # normals per Philox4x64 block: two Box-Muller pairs
TWO_PI = 6.283185307179586  # 2*pi rounded to double, as in kernels/cuda/philox.cu


def random_state(seed):
    """A new generator state: a uint64 array [key0, key1, counter0..counter3].

    The key is the one numpy.random.Philox(seed) derives from seed through
    numpy.random.SeedSequence, and the counter starts at 0, so the raw stream
    is numpy.random.Philox(seed)'s. Equal to kernels/gpu.py random_state(seed).
    """
    return numpy.concatenate([numpy.random.Philox(seed).state["state"]["key"], numpy.zeros(4, numpy.uint64)])


def random_normal(state, shape, dtype):
    """A new array of shape of standard normals in dtype, advancing state in place.

    state is a C-contiguous uint64 array of 6 from random_state. The raw words
    are numpy.random.Philox(key=state[:2], counter=state[2:])'s; the normals
    are the Box-Muller formula of kernels/cuda/philox.cu, in float64, rounded
    once to dtype. A draw of n values consumes ceil(n / 4) Philox blocks and
    advances the counter by as many (with carry), as the GPU does.
    """
    dtype = numpy.dtype(dtype)
    if dtype not in (numpy.float32, numpy.float64):
        raise TypeError(f"minigan.kernels.cpu.random_normal: dtype must be float32 or float64, got {dtype}")
    if not (isinstance(state, numpy.ndarray) and state.dtype == numpy.uint64 and state.shape == (6,)
            and state.flags.c_contiguous):
        raise ValueError(f"minigan.kernels.cpu.random_normal: state must be a C-contiguous uint64 array "
                         f"of 6 from random_state, got {type(state).__name__} "
                         f"{getattr(state, 'dtype', '')} {getattr(state, 'shape', ())}")
    out = numpy.empty(shape, dtype)
    blocks = -(-out.size // VALUES_PER_PHILOX_BLOCK)
    if blocks:
        philox = numpy.random.Philox(key=state[:2], counter=state[2:])
        words = philox.random_raw(VALUES_PER_PHILOX_BLOCK * blocks)
        state[2:] = philox.state["state"]["counter"]  # NumPy's counter after whole blocks: c + blocks
        uniform = ((words >> 11) + 1).astype(numpy.float64) * 2.0 ** -53  # (0, 1], top 53 bits
        radius = numpy.sqrt(-2.0 * numpy.log(uniform[0::2]))
        angle = TWO_PI * uniform[1::2]
        normals = numpy.empty(words.size)
        normals[0::2] = radius * numpy.cos(angle)
        normals[1::2] = radius * numpy.sin(angle)
        out.ravel()[:] = normals[:out.size]
    return out


# ---------- matrix products (signatures shared with kernels/gpu.py) ----------

def matmul(a, b):
    """a @ b of 2-D arrays (BLAS): the convolutions' products."""
    return a @ b


def gemm(a, b, trans_a=False, trans_b=False, tf32=False):
    """op(a) @ op(b) as a new C-contiguous (M, N) array; op transposes where its flag is set.

    The contract of kernels/gpu.py gemm: a is (M, K), or (K, M) with trans_a;
    b is (K, N), or (N, K) with trans_b; one float dtype. The product is
    numpy.matmul on the (transposed) views, so BLAS, in the dtype, in BLAS's
    summation order. tf32 changes nothing here (CPUs have no TF32): the
    product stays exact float32. Asking tf32 of float64 raises, as on the GPU.
    """
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"minigan.kernels.cpu.gemm: a and b must be 2-D, got shapes {a.shape} and {b.shape}")
    if a.dtype != b.dtype or a.dtype not in (numpy.float32, numpy.float64):
        raise TypeError(f"minigan.kernels.cpu.gemm: a is {a.dtype} {a.shape} and b is {b.dtype} {b.shape}; "
                        f"both must be float32 or both float64")
    op_a, op_b = (a.T if trans_a else a), (b.T if trans_b else b)
    if op_a.shape[1] != op_b.shape[0]:
        raise ValueError(f"minigan.kernels.cpu.gemm: op(a) is {op_a.shape} (a {a.shape}, trans_a={trans_a}) "
                         f"but op(b) is {op_b.shape} (b {b.shape}, trans_b={trans_b}): inner dimensions "
                         f"{op_a.shape[1]} and {op_b.shape[0]} differ")
    if tf32 and a.dtype != numpy.float32:
        raise TypeError(f"minigan.kernels.cpu.gemm: tf32 is a float32 mode, got {a.dtype} arrays "
                        f"{a.shape} and {b.shape}")
    return numpy.ascontiguousarray(numpy.matmul(op_a, op_b))

"""CPU kernels: Numba-jitted, parallel over independent output rows or planes.

col2im is a gather (each image pixel sums the column entries that map to it),
so threads never write the same element and results do not depend on the
thread count. See kernels/reference.py for the layout.
"""
import math

import numba
import numpy


@numba.njit(parallel=True, cache=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, oh, ow, col):
    n_img, channels, height, width = x.shape
    for row in numba.prange(channels * kh * kw):
        c, i, j = row // (kh * kw), (row // kw) % kh, row % kw
        for n in range(n_img):
            for y in range(oh):
                h = y * sh - ph + i
                base = (n * oh + y) * ow
                for x_out in range(ow):
                    w = x_out * sw - pw + j
                    inside = 0 <= h < height and 0 <= w < width
                    col[row, base + x_out] = x[n, c, h, w] if inside else 0


@numba.njit(parallel=True, cache=True)
def _col2im(col, kh, kw, sh, sw, ph, pw, oh, ow, x):
    n_img, channels, height, width = x.shape
    for plane in numba.prange(n_img * channels):
        n, c = plane // channels, plane % channels
        image = x[n, c]
        image[:] = 0
        # Walk each image row's taps in a fixed order (i, j, then x_out), reading
        # col rows sequentially; the thread owns the whole plane, so the sums are
        # race-free and identical for any thread count.
        for h in range(height):
            for i in range(kh):
                t = h + ph - i
                if t < 0 or t % sh != 0 or t // sh >= oh:
                    continue
                base = (n * oh + t // sh) * ow
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    first = (j - pw) % sw  # first w with (w + pw - j) divisible by sw
                    x_out = (first + pw - j) // sw
                    if x_out < 0:  # w would map before the first output column
                        first += sw * (-x_out)
                        x_out = 0
                    for w in range(first, width, sw):
                        if x_out >= ow:
                            break
                        image[h, w] += col[row, base + x_out]
                        x_out += 1


def im2col(x, kh, kw, stride, padding, out_hw):
    n, c = x.shape[:2]
    col = numpy.empty((c * kh * kw, n * out_hw[0] * out_hw[1]), dtype=x.dtype)
    _im2col(numpy.ascontiguousarray(x), kh, kw, *stride, *padding, *out_hw, col)
    return col


def col2im(col, x_shape, kh, kw, stride, padding, out_hw):
    x = numpy.empty(x_shape, dtype=col.dtype)
    _col2im(numpy.ascontiguousarray(col), kh, kw, *stride, *padding, *out_hw, x)
    return x


@numba.njit(parallel=True, cache=True)
def _adam_update(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                 bias_correction1, bias_correction2_sqrt):
    for k in numba.prange(param.size):
        g = grad[k] + weight_decay * param[k]
        exp_avg[k] += (g - exp_avg[k]) * (1 - beta1)
        exp_avg_sq[k] = beta2 * exp_avg_sq[k] + (1 - beta2) * g * g
        denom = math.sqrt(exp_avg_sq[k]) / bias_correction2_sqrt + eps
        param[k] -= lr / bias_correction1 * exp_avg[k] / denom


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    """One fused, in-place Adam step (PyTorch's formula, bias correction in the step size)."""
    _adam_update(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
                 lr, beta1, beta2, eps, weight_decay, 1 - beta1 ** step, math.sqrt(1 - beta2 ** step))

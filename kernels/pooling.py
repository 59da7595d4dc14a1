"""avg_pool2d and max_pool2d: the NumPy reference, the Numba kernels and the CUDA launches.

Arrays are (N, C, H, W), float32 or float64; kernel, stride and padding are
(h, w) pairs, padding at most half the kernel (torch's rule, so every window
holds an input pixel); the output size is torch's with ceil_mode=False. Sums
are in the arrays' dtype, window pixels in row-major order. Average pooling
divides by kh * kw (count_include_pad=True) or by the window's in-bounds pixel
count (count_include_pad=False), as torch does; in the backward of the latter
each window's gradient is divided by its count before it is summed.

In each backward every input pixel sums, in row-major (oy, ox) order, the
output gradients of the windows that hold it (for max pooling, of those whose
argmax it is): on the GPU as a gather, one thread per input pixel; on the CPU
as a scatter within the (n, c) planes each thread owns. Neither needs
atomics, and all three versions agree to the bit.
"""
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit


class Contract(Protocol):
    def avg_pool2d(self, x, kernel, stride, padding, count_include_pad):
        """y (N, C, oh, ow): the sum of each window over kernel[0] * kernel[1] if count_include_pad
        (padding counted as zeros), else over the window's in-bounds pixel count."""

    def avg_pool2d_backward(self, grad_y, x_shape, kernel, stride, padding, count_include_pad):
        """grad_x of shape x_shape: if count_include_pad, each pixel's sum of grad_y over the windows
        that hold it, over kernel[0] * kernel[1]; else its sum of grad_y over each window's count."""

    def max_pool2d(self, x, kernel, stride, padding):
        """(y, argmax): each window's maximum, and its flat index h * W + w within the plane (int32).

        torch's CPU rule picks it: the first maximum in row-major scan order, or the last NaN;
        an all -inf window points at its first in-bounds pixel.
        """

    def max_pool2d_backward(self, grad_y, argmax, x_shape, kernel, stride, padding):
        """grad_x of shape x_shape: each pixel's sum of grad_y over the windows whose argmax it is."""


def output_size(x_shape, kernel, stride, padding):
    """(oh, ow) of a pooling of x_shape (N, C, H, W), as torch with ceil_mode=False."""
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(x_shape[2:], kernel, stride, padding))


def window_counts(x_shape, kernel, stride, padding):
    """(oh, ow): the number of in-bounds pixels of each window (count_include_pad=False's divisor)."""
    oh, ow = output_size(x_shape, kernel, stride, padding)
    rows, cols = [numpy.minimum(numpy.arange(n) * s - p + k, size) - numpy.maximum(numpy.arange(n) * s - p, 0)
                  for n, s, p, k, size in zip((oh, ow), stride, padding, kernel, x_shape[2:])]
    return numpy.outer(rows, cols)


def _divisors(dtype, x_shape, kernel, stride, padding, count_include_pad):
    """(window, final): the backward divides each window's gradient by window[oy, ox] (oh, ow),
    then each pixel's sum by final; the forward divides each window's sum by window * final."""
    if count_include_pad:
        return numpy.ones(output_size(x_shape, kernel, stride, padding), dtype), dtype.type(kernel[0] * kernel[1])
    return window_counts(x_shape, kernel, stride, padding).astype(dtype), dtype.type(1)


def _check_sizes(op, x_shape, out_hw):
    """The kernels index within a plane (argmax) and count planes with 32-bit ints."""
    _cuda.check_int(op, **{"N*C": x_shape[0] * x_shape[1], "H*W": x_shape[2] * x_shape[3],
                           "oh*ow": out_hw[0] * out_hw[1]})


# ---------- the NumPy reference: the definition the fast kernels are tested against ----------

def avg_pool2d_reference(x, kernel, stride, padding, count_include_pad):
    (ph, pw) = padding
    padded = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = output_size(x.shape, kernel, stride, padding)
    total = numpy.zeros(x.shape[:2] + (oh, ow), dtype=x.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            total += padded[:, :, i:i + stride[0] * oh:stride[0], j:j + stride[1] * ow:stride[1]]
    window, final = _divisors(x.dtype, x.shape, kernel, stride, padding, count_include_pad)
    return total / (window * final)


def avg_pool2d_backward_reference(grad_y, x_shape, kernel, stride, padding, count_include_pad):
    (ph, pw), (oh, ow) = padding, grad_y.shape[2:]
    window, final = _divisors(grad_y.dtype, x_shape, kernel, stride, padding, count_include_pad)
    grad_y = grad_y / window
    padded = numpy.zeros(x_shape[:2] + (x_shape[2] + 2 * ph, x_shape[3] + 2 * pw), dtype=grad_y.dtype)
    for oy in range(oh):  # row-major over the windows: each pixel sums in the kernels' order
        for ox in range(ow):
            y0, x0 = oy * stride[0], ox * stride[1]
            padded[:, :, y0:y0 + kernel[0], x0:x0 + kernel[1]] += grad_y[:, :, oy:oy + 1, ox:ox + 1]
    grad_x = padded[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]
    return grad_x / final


def max_pool2d_reference(x, kernel, stride, padding):
    n, c, height, width = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = output_size(x.shape, kernel, stride, padding)
    planes = x.reshape(n * c, height * width)
    top, left = numpy.arange(oh)[:, None] * sh - ph, numpy.arange(ow)[None, :] * sw - pw
    # The scan starts at the window's first in-bounds pixel (see kernels/cuda/pooling.cu).
    argmax = numpy.broadcast_to(numpy.maximum(top, 0) * width + numpy.maximum(left, 0), (n * c, oh, ow))
    best = planes[:, argmax[0]]
    for i in range(kh):
        for j in range(kw):
            h, w = top + i, left + j
            inside = (h >= 0) & (h < height) & (w >= 0) & (w < width)
            index = numpy.where(inside, h * width + w, 0)
            v = planes[:, index]
            take = inside & ((v > best) | numpy.isnan(v))
            best, argmax = numpy.where(take, v, best), numpy.where(take, index, argmax)
    return best.reshape(n, c, oh, ow), argmax.astype(numpy.int32).reshape(n, c, oh, ow)


def max_pool2d_backward_reference(grad_y, argmax, x_shape, kernel, stride, padding):
    n, c, height, width = x_shape
    grad_x = numpy.zeros((n * c, height * width), dtype=grad_y.dtype)
    planes = numpy.repeat(numpy.arange(n * c), argmax[0, 0].size)
    # numpy.add.at adds in index order: row-major (oy, ox) within a plane, the kernels' order.
    numpy.add.at(grad_x, (planes, argmax.reshape(-1)), grad_y.reshape(-1))
    return grad_x.reshape(x_shape)


# ---------- Numba: one thread per (n, c) plane, so no two threads write one element ----------

@jit
def _avg_pool2d(x, kh, kw, sh, sw, ph, pw, zero, divisor, y):
    planes, height, width = x.shape
    _, oh, ow = y.shape
    for p in numba.prange(planes):
        for oy in range(oh):
            h0 = oy * sh - ph
            for ox in range(ow):
                w0 = ox * sw - pw
                total = zero  # typed as the arrays: sums in their dtype, like the CUDA kernels
                for h in range(max(h0, 0), min(h0 + kh, height)):
                    for w in range(max(w0, 0), min(w0 + kw, width)):
                        total += x[p, h, w]
                y[p, oy, ox] = total / divisor[oy, ox]


@jit
def _max_pool2d(x, kh, kw, sh, sw, ph, pw, y, argmax):
    planes, height, width = x.shape
    _, oh, ow = y.shape
    for p in numba.prange(planes):
        for oy in range(oh):
            h0 = oy * sh - ph
            for ox in range(ow):
                w0 = ox * sw - pw
                index = max(h0, 0) * width + max(w0, 0)
                best = x[p, max(h0, 0), max(w0, 0)]
                for h in range(max(h0, 0), min(h0 + kh, height)):
                    for w in range(max(w0, 0), min(w0 + kw, width)):
                        v = x[p, h, w]
                        if v > best or v != v:
                            best, index = v, h * width + w
                y[p, oy, ox] = best
                argmax[p, oy, ox] = index


# The backwards scatter within the planes a thread owns, in row-major (oy, ox) order: every
# pixel gets the same additions in the same order as in the CUDA gathers, so the results are
# equal to the bit, and each output gradient is read once (3-30x faster than a gather here).

@jit
def _avg_pool2d_backward(grad_y, kh, kw, sh, sw, ph, pw, window, final, grad_x):
    planes, oh, ow = grad_y.shape
    _, height, width = grad_x.shape
    for p in numba.prange(planes):
        grad_x[p] = 0
        for oy in range(oh):
            h0 = oy * sh - ph
            for ox in range(ow):
                w0 = ox * sw - pw
                g = grad_y[p, oy, ox] / window[oy, ox]
                for h in range(max(h0, 0), min(h0 + kh, height)):
                    for w in range(max(w0, 0), min(w0 + kw, width)):
                        grad_x[p, h, w] += g
        for h in range(height):
            for w in range(width):
                grad_x[p, h, w] /= final


@jit
def _max_pool2d_backward(grad_y, argmax, grad_x):
    """grad_y and argmax (planes, oh*ow), grad_x (planes, H*W)."""
    for p in numba.prange(grad_y.shape[0]):
        grad_x[p] = 0
        for k in range(grad_y.shape[1]):
            grad_x[p, argmax[p, k]] += grad_y[p, k]


def _as_planes(a):
    """a (N, C, ...) as a contiguous (N*C, ...) array: what the kernels loop over."""
    a = numpy.ascontiguousarray(a)
    return a.reshape(-1, *a.shape[2:])


def avg_pool2d_cpu(x, kernel, stride, padding, count_include_pad):
    out_hw = output_size(x.shape, kernel, stride, padding)
    _check_sizes("avg_pool2d", x.shape, out_hw)
    y = numpy.empty(x.shape[:2] + out_hw, dtype=x.dtype)
    window, final = _divisors(x.dtype, x.shape, kernel, stride, padding, count_include_pad)
    _avg_pool2d(_as_planes(x), *kernel, *stride, *padding, x.dtype.type(0), window * final, _as_planes(y))
    return y


def max_pool2d_cpu(x, kernel, stride, padding):
    out_hw = output_size(x.shape, kernel, stride, padding)
    _check_sizes("max_pool2d", x.shape, out_hw)
    y = numpy.empty(x.shape[:2] + out_hw, dtype=x.dtype)
    argmax = numpy.empty(y.shape, dtype=numpy.int32)
    _max_pool2d(_as_planes(x), *kernel, *stride, *padding, _as_planes(y), _as_planes(argmax))
    return y, argmax


def avg_pool2d_backward_cpu(grad_y, x_shape, kernel, stride, padding, count_include_pad):
    _check_sizes("avg_pool2d_backward", x_shape, grad_y.shape[2:])
    grad_x = numpy.empty(x_shape, dtype=grad_y.dtype)
    _avg_pool2d_backward(_as_planes(grad_y), *kernel, *stride, *padding,
                         *_divisors(grad_y.dtype, x_shape, kernel, stride, padding, count_include_pad),
                         _as_planes(grad_x))
    return grad_x


def max_pool2d_backward_cpu(grad_y, argmax, x_shape, kernel, stride, padding):
    _check_sizes("max_pool2d_backward", x_shape, grad_y.shape[2:])
    grad_x = numpy.empty(x_shape, dtype=grad_y.dtype)
    planes = x_shape[0] * x_shape[1]
    _max_pool2d_backward(numpy.ascontiguousarray(grad_y).reshape(planes, -1),
                         numpy.ascontiguousarray(argmax).reshape(planes, -1), grad_x.reshape(planes, -1))
    return grad_x


# ---------- CUDA: kernels/cuda/pooling.cu, one thread per output pixel, then per input pixel ----------

SOURCE = _cuda.Source("pooling.cu", templates=("avg_pool2d", "max_pool2d", "avg_pool2d_backward",
                                               "max_pool2d_backward"))


def _geometry(op, x_shape, kernel, stride, padding, out_hw):
    """The int arguments every pooling kernel takes, after the size checks."""
    _check_sizes(op, x_shape, out_hw)
    return _cuda.i32(x_shape[0] * x_shape[1], *x_shape[2:], *kernel, *stride, *padding, *out_hw)


def avg_pool2d_cuda(x, kernel, stride, padding, count_include_pad):
    x, = _cuda.contiguous("avg_pool2d", x)
    out_hw = output_size(x.shape, kernel, stride, padding)
    geometry = _geometry("avg_pool2d", x.shape, kernel, stride, padding, out_hw)
    y = _cuda.get_cupy().empty(tuple(x.shape[:2]) + out_hw, dtype=x.dtype)
    SOURCE.launch("avg_pool2d", x.dtype, y.size, (x, y, *geometry, *_cuda.i32(count_include_pad)))
    return y


def max_pool2d_cuda(x, kernel, stride, padding):
    x, = _cuda.contiguous("max_pool2d", x)
    out_hw = output_size(x.shape, kernel, stride, padding)
    geometry = _geometry("max_pool2d", x.shape, kernel, stride, padding, out_hw)
    cp, y_shape = _cuda.get_cupy(), tuple(x.shape[:2]) + out_hw
    y, argmax = cp.empty(y_shape, dtype=x.dtype), cp.empty(y_shape, dtype=numpy.int32)
    SOURCE.launch("max_pool2d", x.dtype, y.size, (x, y, argmax, *geometry))
    return y, argmax


def avg_pool2d_backward_cuda(grad_y, x_shape, kernel, stride, padding, count_include_pad):
    grad_y, = _cuda.contiguous("avg_pool2d_backward", grad_y)
    geometry = _geometry("avg_pool2d_backward", x_shape, kernel, stride, padding, grad_y.shape[2:])
    grad_x = _cuda.get_cupy().empty(tuple(x_shape), dtype=grad_y.dtype)
    SOURCE.launch("avg_pool2d_backward", grad_y.dtype, grad_x.size,
                  (grad_y, grad_x, *geometry, *_cuda.i32(count_include_pad)))
    return grad_x


def max_pool2d_backward_cuda(grad_y, argmax, x_shape, kernel, stride, padding):
    grad_y, = _cuda.contiguous("max_pool2d_backward", grad_y)
    geometry = _geometry("max_pool2d_backward", x_shape, kernel, stride, padding, grad_y.shape[2:])
    cp = _cuda.get_cupy()
    grad_x = cp.empty(tuple(x_shape), dtype=grad_y.dtype)
    SOURCE.launch("max_pool2d_backward", grad_y.dtype, grad_x.size,
                  (grad_y, cp.ascontiguousarray(argmax), grad_x, *geometry))
    return grad_x

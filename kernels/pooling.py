"""avg_pool2d and max_pool2d: the NumPy reference, the Numba kernels and the CUDA launches.

Every backend has the same four functions, on (N, C, H, W) arrays of float32
or float64, with kernel, stride and padding as (h, w) pairs, padding at most
half the kernel (torch's rule, so every window holds an input pixel), and
torch's output size with ceil_mode=False:

  avg_pool2d(x, kernel, stride, padding) -> y
      window sums over kh*kw: padding counts as zeros (count_include_pad=True)
  avg_pool2d_backward(grad_y, x_shape, kernel, stride, padding) -> grad_x
  max_pool2d(x, kernel, stride, padding) -> (y, argmax)
      argmax is int32, the flat index h*W + w within the plane of the maximum:
      the first maximum in row-major scan order, or the last NaN (torch's CPU rule)
  max_pool2d_backward(grad_y, argmax, x_shape, kernel, stride, padding) -> grad_x

Sums are in the arrays' dtype, window pixels in row-major order. In each
backward every input pixel sums, in row-major (oy, ox) order, the output
gradients of the windows that hold it (for max pooling, of those whose argmax
it is): on the GPU as a gather, one thread per input pixel; on the CPU as a
scatter within the (n, c) planes each thread owns. Neither needs atomics, and
all three versions agree to the bit.
"""
import numba
import numpy

from . import gpu
from ._jit import jit

_INT_MAX = 2**31 - 1


def output_size(x_shape, kernel, stride, padding):
    """(oh, ow) of a pooling of x_shape (N, C, H, W), as torch with ceil_mode=False."""
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(x_shape[2:], kernel, stride, padding))


def _planes(op, x_shape, out_hw):
    """N*C, after checking that the flat indices of the kernels fit in an int32."""
    n, c, h, w = x_shape
    for name, size in (("input", n * c * h * w), ("output", n * c * out_hw[0] * out_hw[1])):
        if size > _INT_MAX:
            raise ValueError(f"minigan.kernels.pooling.{op}: the {name} has {size} elements, more than "
                             f"the kernels' 32-bit indices allow ({_INT_MAX})")
    return n * c


# ---------- the NumPy reference: the definition the fast kernels are tested against ----------

def avg_pool2d_reference(x, kernel, stride, padding):
    (ph, pw) = padding
    padded = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = output_size(x.shape, kernel, stride, padding)
    total = numpy.zeros(x.shape[:2] + (oh, ow), dtype=x.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            total += padded[:, :, i:i + stride[0] * oh:stride[0], j:j + stride[1] * ow:stride[1]]
    return total / x.dtype.type(kernel[0] * kernel[1])


def avg_pool2d_backward_reference(grad_y, x_shape, kernel, stride, padding):
    (ph, pw), (oh, ow) = padding, grad_y.shape[2:]
    padded = numpy.zeros(x_shape[:2] + (x_shape[2] + 2 * ph, x_shape[3] + 2 * pw), dtype=grad_y.dtype)
    for oy in range(oh):  # row-major over the windows: each pixel sums in the kernels' order
        for ox in range(ow):
            y0, x0 = oy * stride[0], ox * stride[1]
            padded[:, :, y0:y0 + kernel[0], x0:x0 + kernel[1]] += grad_y[:, :, oy:oy + 1, ox:ox + 1]
    grad_x = padded[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]
    return grad_x / grad_y.dtype.type(kernel[0] * kernel[1])


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
def _avg_pool2d(x, kh, kw, sh, sw, ph, pw, zero, count, y):
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
                y[p, oy, ox] = total / count


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
# equal to the bit, and each output gradient is read once (4x faster than a gather here).

@jit
def _avg_pool2d_backward(grad_y, kh, kw, sh, sw, ph, pw, count, grad_x):
    planes, oh, ow = grad_y.shape
    _, height, width = grad_x.shape
    for p in numba.prange(planes):
        grad_x[p] = 0
        for oy in range(oh):
            h0 = oy * sh - ph
            for ox in range(ow):
                w0 = ox * sw - pw
                g = grad_y[p, oy, ox]
                for h in range(max(h0, 0), min(h0 + kh, height)):
                    for w in range(max(w0, 0), min(w0 + kw, width)):
                        grad_x[p, h, w] += g
        for h in range(height):
            for w in range(width):
                grad_x[p, h, w] /= count


@jit
def _max_pool2d_backward(grad_y, argmax, grad_x):
    """grad_y and argmax (planes, oh*ow), grad_x (planes, H*W)."""
    for p in numba.prange(grad_y.shape[0]):
        grad_x[p] = 0
        for k in range(grad_y.shape[1]):
            grad_x[p, argmax[p, k]] += grad_y[p, k]


def _as_planes(a):
    a = numpy.ascontiguousarray(a)
    return a.reshape(-1, *a.shape[2:])


def avg_pool2d_cpu(x, kernel, stride, padding):
    out_hw = output_size(x.shape, kernel, stride, padding)
    _planes("avg_pool2d", x.shape, out_hw)
    y = numpy.empty(x.shape[:2] + out_hw, dtype=x.dtype)
    _avg_pool2d(_as_planes(x), *kernel, *stride, *padding, x.dtype.type(0),
                x.dtype.type(kernel[0] * kernel[1]), _as_planes(y))
    return y


def max_pool2d_cpu(x, kernel, stride, padding):
    out_hw = output_size(x.shape, kernel, stride, padding)
    _planes("max_pool2d", x.shape, out_hw)
    y = numpy.empty(x.shape[:2] + out_hw, dtype=x.dtype)
    argmax = numpy.empty(y.shape, dtype=numpy.int32)
    _max_pool2d(_as_planes(x), *kernel, *stride, *padding, _as_planes(y), _as_planes(argmax))
    return y, argmax


def avg_pool2d_backward_cpu(grad_y, x_shape, kernel, stride, padding):
    _planes("avg_pool2d_backward", x_shape, grad_y.shape[2:])
    grad_x = numpy.empty(x_shape, dtype=grad_y.dtype)
    _avg_pool2d_backward(_as_planes(grad_y), *kernel, *stride, *padding,
                         grad_y.dtype.type(kernel[0] * kernel[1]), _as_planes(grad_x))
    return grad_x


def max_pool2d_backward_cpu(grad_y, argmax, x_shape, kernel, stride, padding):
    _planes("max_pool2d_backward", x_shape, grad_y.shape[2:])
    grad_x = numpy.empty(x_shape, dtype=grad_y.dtype)
    planes = x_shape[0] * x_shape[1]
    _max_pool2d_backward(numpy.ascontiguousarray(grad_y).reshape(planes, -1),
                         numpy.ascontiguousarray(argmax).reshape(planes, -1), grad_x.reshape(planes, -1))
    return grad_x


# ---------- CUDA (kernels/cuda/pooling.cu): one thread per output pixel, then per input pixel ----------

def _sizes(op, x_shape, kernel, stride, padding, out_hw):
    """The int32 size arguments every pooling kernel takes, after the index checks."""
    return gpu._i32(_planes(op, x_shape, out_hw), *x_shape[2:], *kernel, *stride, *padding, *out_hw)


def avg_pool2d_gpu(x, kernel, stride, padding):
    dtype = gpu._check_dtype("avg_pool2d", x.dtype)
    cp = gpu._cupy()
    out_hw = output_size(x.shape, kernel, stride, padding)
    y = cp.empty(tuple(x.shape[:2]) + out_hw, dtype=dtype)
    gpu._launch(gpu._kernel("pooling.cu", "avg_pool2d", dtype), y.size,
                (cp.ascontiguousarray(x), y, *_sizes("avg_pool2d", x.shape, kernel, stride, padding, out_hw)))
    return y


def max_pool2d_gpu(x, kernel, stride, padding):
    dtype = gpu._check_dtype("max_pool2d", x.dtype)
    cp = gpu._cupy()
    out_hw = output_size(x.shape, kernel, stride, padding)
    y = cp.empty(tuple(x.shape[:2]) + out_hw, dtype=dtype)
    argmax = cp.empty(y.shape, dtype=numpy.int32)
    gpu._launch(gpu._kernel("pooling.cu", "max_pool2d", dtype), y.size,
                (cp.ascontiguousarray(x), y, argmax,
                 *_sizes("max_pool2d", x.shape, kernel, stride, padding, out_hw)))
    return y, argmax


def avg_pool2d_backward_gpu(grad_y, x_shape, kernel, stride, padding):
    op = "avg_pool2d_backward"
    dtype = gpu._check_dtype(op, grad_y.dtype)
    cp = gpu._cupy()
    grad_x = cp.empty(tuple(x_shape), dtype=dtype)
    gpu._launch(gpu._kernel("pooling.cu", "avg_pool2d_backward", dtype), grad_x.size,
                (cp.ascontiguousarray(grad_y), grad_x,
                 *_sizes(op, x_shape, kernel, stride, padding, grad_y.shape[2:])))
    return grad_x


def max_pool2d_backward_gpu(grad_y, argmax, x_shape, kernel, stride, padding):
    op = "max_pool2d_backward"
    dtype = gpu._check_dtype(op, grad_y.dtype)
    cp = gpu._cupy()
    grad_x = cp.empty(tuple(x_shape), dtype=dtype)
    gpu._launch(gpu._kernel("pooling.cu", "max_pool2d_backward", dtype), grad_x.size,
                (cp.ascontiguousarray(grad_y), cp.ascontiguousarray(argmax), grad_x,
                 *_sizes(op, x_shape, kernel, stride, padding, grad_y.shape[2:])))
    return grad_x

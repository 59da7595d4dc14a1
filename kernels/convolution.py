"""im2col and col2im: the column matrix behind every convolution, and its adjoint.

Layout, shared by every backend: col has shape (C*kh*kw, N*oh*ow); row
(c, i, j) holds kernel tap (i, j) of channel c, column (n, y, x) the output
pixel. So a conv is `weight.reshape(O, C*kh*kw) @ col`.

col2im is a gather on both backends (each image pixel sums, in a fixed (i, j)
order and in the array's dtype, the column entries that map to it): no two
threads write one element, so the result does not depend on the thread
count, and the CUDA kernel equals the Numba one to the bit.
"""
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit


class Contract(Protocol):
    def im2col(self, x, kh, kw, stride, padding, out_hw):
        """col (C*kh*kw, N*oh*ow) of x (N, C, H, W) for a kh x kw kernel, stride and padding
        (pairs) and output size out_hw; taps that fall in the padding are 0."""

    def col2im(self, col, x_shape, kh, kw, stride, padding, out_hw):
        """x of shape x_shape where each pixel sums the col entries that map to it: im2col's adjoint."""


# ---------- the plain NumPy reference ----------

def im2col_reference(x, kh, kw, stride, padding, out_hw):
    n, c, _, _ = x.shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    padded = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    col = numpy.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = padded[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
            col[:, i, j] = window.transpose(1, 0, 2, 3)
    return col.reshape(c * kh * kw, n * oh * ow)


def col2im_reference(col, x_shape, kh, kw, stride, padding, out_hw):
    n, c, h, w = x_shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    col = col.reshape(c, kh, kw, n, oh, ow)
    padded = numpy.zeros((n, c, h + 2 * ph + sh, w + 2 * pw + sw), dtype=col.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += col[:, i, j].transpose(1, 0, 2, 3)
    return padded[:, :, ph:ph + h, pw:pw + w].copy()


# ---------- CPU: Numba, parallel over col rows (im2col) and over channel planes (col2im) ----------

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


def im2col_cpu(x, kh, kw, stride, padding, out_hw):
    n, c = x.shape[:2]
    col = numpy.empty((c * kh * kw, n * out_hw[0] * out_hw[1]), dtype=x.dtype)
    _im2col(numpy.ascontiguousarray(x).ravel(), x.shape, kh, kw, *stride, *padding, *out_hw,
            *_taps(x.shape, kh, kw, stride, padding, out_hw), col)
    return col


def col2im_cpu(col, x_shape, kh, kw, stride, padding, out_hw):
    x = numpy.empty(x_shape, dtype=col.dtype)
    n, c = x_shape[:2]
    # Enough work items (channels x image chunks) to balance the threads, few
    # enough that each still streams long runs of its col rows.
    chunk = max(1, min(n, n * c // (8 * numba.get_num_threads())))
    _col2im(numpy.ascontiguousarray(col), kh, kw, *stride, *padding, *out_hw,
            *_taps(x_shape, kh, kw, stride, padding, out_hw), chunk, x.shape, x.reshape(-1))
    return x


# ---------- CUDA: kernels/cuda/convolution.cu, one thread per col element (im2col) or pixel (col2im) ----------

SOURCE = _cuda.Source("convolution.cu", templates=("im2col", "col2im"))


def _geometry(op, x_shape, kh, kw, stride, padding, out_hw):
    """The kernels' int arguments, after checking that each size they index with fits in an int."""
    n, c, h, w = x_shape
    _cuda.check_int(op, rows=c * kh * kw, columns=n * out_hw[0] * out_hw[1], **{"N*C": n * c, "H*W": h * w})
    return _cuda.i32(n, c, h, w, kh, kw, *stride, *padding, *out_hw)


def im2col_cuda(x, kh, kw, stride, padding, out_hw):
    x, = _cuda.contiguous("im2col", x)
    geometry = _geometry("im2col", x.shape, kh, kw, stride, padding, out_hw)
    col = _cuda.get_cupy().empty((x.shape[1] * kh * kw, x.shape[0] * out_hw[0] * out_hw[1]), dtype=x.dtype)
    SOURCE.launch("im2col", x.dtype, col.size, (x, col, *geometry))
    return col


def col2im_cuda(col, x_shape, kh, kw, stride, padding, out_hw):
    col, = _cuda.contiguous("col2im", col)
    n, c = x_shape[:2]
    if tuple(col.shape) != (c * kh * kw, n * out_hw[0] * out_hw[1]):
        raise ValueError(f"minigan.kernels.col2im: col has shape {tuple(col.shape)}, expected "
                         f"{(c * kh * kw, n * out_hw[0] * out_hw[1])} for x {tuple(x_shape)}, "
                         f"kernel {(kh, kw)}, output {tuple(out_hw)}")
    geometry = _geometry("col2im", x_shape, kh, kw, stride, padding, out_hw)
    x = _cuda.get_cupy().empty(tuple(x_shape), dtype=col.dtype)
    SOURCE.launch("col2im", col.dtype, x.size, (col, x, *geometry))
    return x

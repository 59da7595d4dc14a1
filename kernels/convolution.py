"""im2col and col2im: the column matrix behind every convolution, and its adjoint.

Layout, shared by every backend: images are batch-innermost, x (C, H, W, N)
C-contiguous (minigan/functional/layout.py: the ops see them as NCHW views).
col has shape (C*kh*kw, oh*ow*N); row (c, i, j) holds kernel tap (i, j) of
channel c, column (y, x, n) output pixel (y, x) of image n. So a conv is
`weight.reshape(O, C*kh*kw) @ col`, and its (O, oh*ow*N) result is already the
next layer's (O, oh, ow, N) image. Every move is a run of N contiguous numbers:
one image pixel of all N images at once.

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
        """col (C*kh*kw, oh*ow*N) of the batch-innermost image x (C, H, W, N) for a kh x kw
        kernel, stride and padding (pairs) and output size out_hw; taps that fall in the
        padding are 0."""

    def col2im(self, col, x_shape, kh, kw, stride, padding, out_hw):
        """The batch-innermost x of shape x_shape (C, H, W, N) where each pixel sums the col
        entries that map to it: im2col's adjoint."""


# ---------- the plain NumPy reference ----------

def im2col_reference(x, kh, kw, stride, padding, out_hw):
    c, _, _, n = x.shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    padded = numpy.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    col = numpy.empty((c, kh, kw, oh, ow, n), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            col[:, i, j] = padded[:, i:i + sh * oh:sh, j:j + sw * ow:sw]
    return col.reshape(c * kh * kw, oh * ow * n)


def col2im_reference(col, x_shape, kh, kw, stride, padding, out_hw):
    c, h, w, n = x_shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    col = col.reshape(c, kh, kw, oh, ow, n)
    padded = numpy.zeros((c, h + 2 * ph + sh, w + 2 * pw + sw, n), dtype=col.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, i:i + sh * oh:sh, j:j + sw * ow:sw] += col[:, i, j]
    return padded[:, ph:ph + h, pw:pw + w].copy()


# ---------- CPU: Numba, parallel over col rows (im2col) and over image rows (col2im) ----------

@jit
def _im2col(x, kh, kw, sh, sw, ph, pw, oh, ow, rows, cols, col):
    channels, _, _, n_img = x.shape
    for row in numba.prange(channels * kh * kw):
        c, i, j = row // (kh * kw), (row // kw) % kh, row % kw
        y_lo, y_hi, x_lo, x_hi = rows[i, 0], rows[i, 1], cols[j, 0], cols[j, 1]
        dst = col[row].reshape(oh, ow, n_img)
        dst[:y_lo] = 0
        dst[y_hi:] = 0
        for y in range(y_lo, y_hi):
            line = x[c, y * sh - ph + i]
            dst[y, :x_lo] = 0
            dst[y, x_hi:] = 0
            for x_out in range(x_lo, x_hi):
                src = line[x_out * sw - pw + j]
                for n in range(n_img):
                    dst[y, x_out, n] = src[n]


@jit
def _col2im(col, kh, kw, sh, sw, ph, pw, oh, ow, x):
    channels, height, width, n_img = x.shape
    # One work item owns image row (c, h) of all N images, so no two threads write
    # one element; each pixel's N values sum their taps in (i, j) order, the same
    # for any thread count.
    for item in numba.prange(channels * height):
        c, h = item // height, item % height
        out = x[c, h]
        out[:] = 0
        for i in range(kh):
            t = h + ph - i
            if t < 0 or t % sh != 0 or t // sh >= oh:
                continue
            for j in range(kw):
                src = col[(c * kh + i) * kw + j].reshape(oh, ow, n_img)[t // sh]
                for w in range(width):
                    u = w + pw - j
                    if u >= 0 and u % sw == 0 and u // sw < ow:
                        taps = src[u // sw]
                        for n in range(n_img):
                            out[w, n] += taps[n]


def _inside(k, stride, pad, out_size, in_size):
    """(k, 2) int64: for each tap t, the outputs lo <= o < hi with 0 <= o*stride - pad + t < in_size."""
    ranges = numpy.empty((k, 2), dtype=numpy.int64)
    for t in range(k):
        lo = min(out_size, max(0, -((t - pad) // stride)))
        hi = max(lo, min(out_size, (in_size - 1 + pad - t) // stride + 1))
        ranges[t] = lo, hi
    return ranges


def im2col_cpu(x, kh, kw, stride, padding, out_hw):
    c, h, w, n = x.shape
    col = numpy.empty((c * kh * kw, out_hw[0] * out_hw[1] * n), dtype=x.dtype)
    rows = _inside(kh, stride[0], padding[0], out_hw[0], h)
    cols = _inside(kw, stride[1], padding[1], out_hw[1], w)
    _im2col(numpy.ascontiguousarray(x), kh, kw, *stride, *padding, *out_hw, rows, cols, col)
    return col


def col2im_cpu(col, x_shape, kh, kw, stride, padding, out_hw):
    x = numpy.empty(x_shape, dtype=col.dtype)
    _col2im(numpy.ascontiguousarray(col), kh, kw, *stride, *padding, *out_hw, x)
    return x


# ---------- CUDA: kernels/cuda/convolution.cu, a 2-D grid: y over col rows (im2col) or image rows (col2im) ----------

SOURCE = _cuda.Source("convolution.cu", templates=("im2col", "col2im"))


def _geometry(op, x_shape, kh, kw, stride, padding, out_hw):
    """The kernels' int arguments, after checking that each size they index with fits in an int."""
    c, h, w, n = x_shape
    _cuda.check_int(op, rows=c * kh * kw, columns=out_hw[0] * out_hw[1] * n, **{"C*H": c * h, "W*N": w * n})
    return _cuda.i32(c, h, w, n, kh, kw, *stride, *padding, *out_hw)


def im2col_cuda(x, kh, kw, stride, padding, out_hw):
    x, = _cuda.contiguous("im2col", x)
    c, _, _, n = x.shape
    geometry = _geometry("im2col", x.shape, kh, kw, stride, padding, out_hw)
    col = _cuda.get_cupy().empty((c * kh * kw, out_hw[0] * out_hw[1] * n), dtype=x.dtype)
    SOURCE.launch_rows("im2col", x.dtype, col.shape[0], col.shape[1], (x, col, *geometry))
    return col


def col2im_cuda(col, x_shape, kh, kw, stride, padding, out_hw):
    col, = _cuda.contiguous("col2im", col)
    c, h, w, n = x_shape
    if tuple(col.shape) != (c * kh * kw, out_hw[0] * out_hw[1] * n):
        raise ValueError(f"minigan.kernels.col2im: col has shape {tuple(col.shape)}, expected "
                         f"{(c * kh * kw, out_hw[0] * out_hw[1] * n)} for x {tuple(x_shape)}, "
                         f"kernel {(kh, kw)}, output {tuple(out_hw)}")
    geometry = _geometry("col2im", x_shape, kh, kw, stride, padding, out_hw)
    x = _cuda.get_cupy().empty(tuple(x_shape), dtype=col.dtype)
    SOURCE.launch_rows("col2im", col.dtype, c * h, w * n, (col, x, *geometry))
    return x
